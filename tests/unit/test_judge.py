"""The heuristic judge on known stories: substance, outcome, rework, rubric, integrity, crush."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from prism import judge as j
from prism.judge import rubric
from prism.judge.base import ArcDigest, ArcVerdict, JudgeContext, barely_over
from prism.judge.heuristic import HeuristicJudge, judge_arcs
from prism.judge.rework import links
from prism.judge.signals import extract
from prism.score.thresholds import ScoringConfig
from prism.sessions import text as tx
from prism.sessions.arcs import Arc, build_arcs
from prism.sessions.model import EventRow, MetricSignal
from tests.unit import scenarios as sc


def run(
    events: Sequence[EventRow],
    signals: Sequence[MetricSignal] = (),
    config: ScoringConfig | None = None,
) -> tuple[list[Arc], list[ArcVerdict]]:
    arcs = build_arcs(events, signals, config)
    now = max(a.ended_at for a in arcs) + timedelta(hours=1)
    return arcs, judge_arcs(arcs, config=config, now=now)


def signals_of(v: ArcVerdict) -> set[str]:
    return {e.signal for e in v.outcome.evidence}


def flags_of(v: ArcVerdict) -> set[str]:
    return {f.kind for f in v.flags}


# --- the scenario library ------------------------------------------------------------------------


def test_feature_built_tests_pass_and_thanks_crushes() -> None:
    _, (v,) = run(sc.feature_crushed())
    assert v.substance.passed
    assert v.outcome.label == "goal_complete"
    assert {"verification_passed", "approving_final_prompt"} <= signals_of(v)
    assert v.outcome.confidence >= 0.8
    assert v.rubric.intent_class == "feature"
    assert v.rubric.committed()
    assert v.rubric.booleans["verification_requested"]
    assert v.rubric.letter_grade in ("A", "B")
    assert v.flags == ()
    assert v.crushed
    assert (v.judge, v.judge_version) == ("heuristic", HeuristicJudge.version)
    assert v.tokens.output == 2052 and v.tokens.input == 6 * 2400 + 420
    assert v.tokens.cost_micro_usd == 133_680 and v.tokens.billed == 14820 + 2052 + 7200
    assert "goal_complete" in v.summary


def test_bug_still_failing_after_three_attempts_failed() -> None:
    _, (v,) = run(sc.bug_failed())
    assert v.substance.passed
    assert v.outcome.label == "failed"
    assert {"frustrated_final_prompt", "verification_failed"} <= signals_of(v)
    assert v.rubric.intent_class == "bugfix"
    assert v.has_correction_after_first
    assert not v.crushed


def test_question_without_work_is_trivia() -> None:
    _, (v,) = run(sc.question_trivia())
    assert not v.substance.passed
    assert v.substance.reason == "no_work"
    assert v.rubric.intent_class == "explore"
    assert not v.crushed


def test_fix_redone_two_days_later_is_rework_and_marks_the_first() -> None:
    first, second = sc.fix_then_rework()
    arcs, (v1, v2) = run(first + second)
    assert v1.outcome.label == "goal_complete" and "commit" in signals_of(v1)
    assert v2.outcome.label == "goal_complete"
    assert v2.rework.is_rework
    assert v2.rework.reworks_arc_id == arcs[0].id
    assert {e.signal for e in v2.rework.evidence} >= {"fix_cue", "files_overlap"}
    assert v1.rework.reworked_later and v1.rework.reworked_by == (arcs[1].id,)
    assert not v2.crushed
    assert v1.crushed  # shown, not revoked by default
    _, (r1, _) = run(first + second, config=ScoringConfig(revoke_reworked=True))
    assert not r1.crushed


def test_rework_against_stored_history() -> None:
    first, second = sc.fix_then_rework()
    _, (v1,) = run(first)
    arcs = build_arcs(second)
    (v2,) = judge_arcs(arcs, history=[ArcDigest.of(v1)], now=arcs[0].ended_at + timedelta(hours=1))
    assert v2.rework.reworks_arc_id == v1.arc_id
    assert links([v2]) == {v1.arc_id: (v2.arc_id,)}


def test_no_rework_outside_the_window_or_without_a_fix_cue() -> None:
    first, _ = sc.fix_then_rework()
    _, late = sc.fix_then_rework(start=sc.MONDAY + timedelta(days=8))
    _, (_, v) = run(first + late)
    assert not v.rework.is_rework
    first, second = sc.fix_then_rework()
    calm = [
        dataclasses.replace(e, prompt="Quote CSV header fields in src/export.py")
        if e.event_name == "user_prompt" and e.prompt and "still broken" in e.prompt
        else e
        for e in second
    ]
    _, (_, v) = run(first + calm)
    assert not v.rework.is_rework


def test_five_identical_prompts_in_a_minute_is_a_retry_storm() -> None:
    _, (v,) = run(sc.retry_storm())
    assert v.outcome.label == "goal_complete"
    (flag,) = v.flags
    assert flag.kind == "auto_retry_storm" and flag.blocking
    assert "5 identical prompts" in flag.detail
    assert not v.crushed


def test_eight_two_letter_prompts_is_a_tiny_prompt_burst_shown_only() -> None:
    _, (v,) = run(sc.tiny_burst())
    (flag,) = v.flags
    assert flag.kind == "tiny_prompt_burst" and not flag.blocking
    assert v.crushed


def test_two_goals_are_judged_apart() -> None:
    _, (a, b) = run(sc.two_goals())
    assert a.crushed and "next_arc_moved_on" in signals_of(a)
    assert b.rubric.intent_class == "docs"
    assert b.outcome.label == "goal_complete"


def test_long_idle_gap_two_arcs_both_complete() -> None:
    _, (a, b) = run(sc.idle_gap())
    assert a.rubric.intent_class == "refactor"
    assert b.rubric.intent_class == "feature"
    assert a.crushed and b.crushed


def test_prompts_without_text_are_judged_from_tool_signals() -> None:
    events, signals = sc.no_text()
    _, (v,) = run(events, signals)
    assert v.rubric.judge_status == "skipped_no_text"
    assert v.rubric.grade is None and v.rubric.letter_grade is None
    assert all(p.judge_status == "skipped_no_text" for p in v.rubric.prompts)
    assert v.outcome.label == "goal_complete"
    assert {"verification_passed", "commit"} <= signals_of(v)
    # failing test, edit, passing test: the tool trail reads as a bug fix.
    assert (v.rubric.intent_class, v.rubric.intent_source) == ("bugfix", "tools")
    assert v.crushed
    strict = ScoringConfig(infer_intent_without_text=False)
    _, (s,) = run(events, signals, strict)
    assert s.rubric.intent_class == "unclear" and not s.crushed


def test_approving_close_without_edits_or_verification_is_self_grading() -> None:
    _, (v,) = run(sc.self_grading())
    assert v.outcome.label == "goal_complete"
    assert flags_of(v) == {"self_grading"}
    assert not v.crushed


def test_approval_that_opens_the_next_task_still_closes_this_one() -> None:
    s = sc.Story("thanks-next")
    s.prompt("Explain how the retry logic in src/http.py decides the backoff")
    s.think(500).read("src/http.py").think(300).grep("backoff").think(700, "It doubles.")
    s.wait(40).prompt("Ok thanks! Next, add a jitter option to the backoff in src/http.py")
    s.think(600).edit("src/http.py").think(300).bash("pytest -q").think(200, "Added.")
    _, (first, second) = run(s.events)
    assert "approving_final_prompt" in signals_of(first)
    assert flags_of(first) == {"self_grading"}
    assert flags_of(second) == set()


def test_walking_away_mid_work_is_abandoned() -> None:
    arcs, (v,) = run(sc.abandoned())
    assert v.outcome.label == "abandoned"
    assert "ended_mid_work" in signals_of(v)
    # Still open: not abandoned yet.
    open_v = HeuristicJudge().judge(arcs[0], JudgeContext(now=arcs[0].ended_at))
    assert open_v.outcome.label == "unclear" and not open_v.closed


# --- substance floor ------------------------------------------------------------------------------


def test_substance_reasons() -> None:
    s = sc.Story("errors")
    s.prompt("Add a retry decorator to src/http.py")
    for _ in range(3):
        s.api_error()
    (v,) = run(s.events)[1]
    assert v.substance.reason == "errors_only"

    s = sc.Story("short")
    s.prompt("Add a retry decorator to src/http.py").think(600).edit("src/http.py").edit("a.py")
    (v,) = run(s.events)[1]
    assert v.substance.reason == "too_short"  # 31 s of work
    assert v.substance.work_actions == 2

    s = sc.Story("no-prompts")
    s.think(900).think(900)
    (v,) = run(s.events)[1]
    assert v.substance.reason == "no_prompts"

    lenient = ScoringConfig(min_seconds=10)
    s = sc.Story("short")
    s.prompt("Add a retry decorator to src/http.py").think(600).edit("src/http.py").edit("a.py")
    (v,) = run(s.events, config=lenient)[1]
    assert v.substance.passed


# --- outcome signals ------------------------------------------------------------------------------


def test_commit_metric_and_pull_request_count_as_completion() -> None:
    s = sc.Story("pr")
    s.prompt("Add rate limiting to the /login route in src/auth.py").think(600)
    s.edit("src/auth.py").think(500).edit("src/auth.py").think(300)
    s.bash("gh pr create --fill").think(200, "Opened the PR.")
    s.commit_metric()
    (v,) = run(s.events, s.signals)[1]
    assert {"pull_request", "commit"} <= signals_of(v)
    assert v.outcome.label == "goal_complete"


def test_rejected_edits_and_api_error_at_the_end_count_against() -> None:
    s = sc.Story("rejected")
    s.prompt("Rewrite src/auth.py to use sessions").think(600).edit("src/auth.py", reject=True)
    s.think(600).edit("src/auth.py", reject=True).think(600).read("src/auth.py")
    s.think(500).edit("src/auth.py").api_error()
    (v,) = run(s.events)[1]
    assert {"rejected_edits", "api_error_at_end"} <= signals_of(v)
    assert v.outcome.label == "failed"


def test_verification_before_the_last_edit_does_not_count() -> None:
    s = sc.Story("unverified")
    s.prompt("Add caching to src/api.py").think(500).edit("src/api.py").think(300)
    s.bash("pytest -q").think(500).edit("src/api.py").think(300, "Done.")
    sig = extract(build_arcs(s.events)[0])
    assert sig.last_verify_after_edit is None and sig.edits_unverified
    (v,) = run(s.events)[1]
    assert "verification_passed" not in signals_of(v)


@pytest.mark.parametrize(
    ("command", "kinds"),
    [
        ("pytest -q tests/", {"verify"}),
        ("cd web && npm test", {"verify"}),
        ("npm run build", {"verify"}),
        ("uv run pytest", {"verify"}),
        ("python -m pytest -x", {"verify"}),
        ("go test ./...", {"verify"}),
        ("cargo test --all", {"verify"}),
        ("make", {"verify"}),
        ("npx tsc --noEmit", {"verify"}),
        ('git add -A && git commit -m "x"', {"commit"}),
        ("git -C repo commit -am wip", {"commit"}),
        ("gh pr create --fill", {"pr"}),
        ("kubectl apply -f k8s/", {"ops"}),
        ("ls -la", set()),
        ("npm install", set()),
        ("echo pytest", set()),
    ],
)
def test_command_kinds(command: str, kinds: set[str]) -> None:
    assert tx.command_kinds(command) == kinds


# --- rubric --------------------------------------------------------------------------------------


def test_rubric_booleans_of_a_strong_and_a_weak_prompt() -> None:
    strong = rubric.booleans(
        "Fix the ValueError in parse_date() in src/parser.py: ISO dates with a Z suffix "
        "raise instead of parsing. Find the root cause first, don't patch around it, and "
        "run pytest tests/test_parser.py to verify. Plan the change before coding."
    )
    assert all(strong.values())
    weak = rubric.booleans("make everything better")
    assert not any(weak.values())


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Fix the crash when the cart is empty", "bugfix"),
        ("Add a dark mode toggle to the settings page", "feature"),
        ("Refactor the billing module into smaller functions", "refactor"),
        ("Write tests for the CSV exporter", "test"),
        ("Update the README with install steps", "docs"),
        ("How does the cache invalidation work?", "explore"),
        ("Deploy the staging stack with terraform", "ops"),
        ("Review my changes in src/auth.py", "review"),
        ("hmm", "unclear"),
    ],
)
def test_intent_classes(text: str, intent: str) -> None:
    assert rubric.classify(rubric.intent_scores(text))[0] == intent


def test_applicability_and_grade() -> None:
    assert rubric.applicability("bugfix")["root_cause_oriented"]
    assert not rubric.applicability("feature")["root_cause_oriented"]
    assert rubric.applicability("refactor")["plan_first"]
    assert not rubric.applicability("explore")["verification_requested"]
    values = dict.fromkeys(rubric.applicability("explore"), True)
    values["goal_explicit"] = False
    assert rubric.grade(values, rubric.applicability("explore")) == 0.75
    cfg = ScoringConfig()
    assert [cfg.prompt_letter(g) for g in (0.85, 0.7, 0.55, 0.4, 0.39)] == list("ABCDF")


def test_prompt_rows_cover_every_prompt() -> None:
    _, (v,) = run(sc.feature_crushed())
    assert len(v.rubric.prompts) == 2
    assert v.rubric.prompts[0].judge_status == "heuristic"
    assert v.rubric.prompts[0].grade is not None


# --- integrity ------------------------------------------------------------------------------------


def test_api_error_storm_blocks() -> None:
    s = sc.Story("errors-storm")
    s.prompt("Add a retry decorator to src/http.py").think(600).edit("src/http.py")
    for _ in range(10):
        s.api_error()
    s.think(600).bash("pytest -q").think(300, "Done.")
    s.wait(20).prompt("thanks")
    (v,) = run(s.events)[1]
    assert "auto_retry_storm" in flags_of(v)
    assert "10 API errors" in next(f.detail for f in v.flags)
    assert not v.crushed


def _minimal_arc(s: sc.Story, n: int) -> None:
    s.wait(25 * 60).prompt(f"Add the {n}th small helper to src/helpers_{n}.py")
    s.think(260).edit(f"src/helpers_{n}.py").wait(30).think(260)
    s.bash("pytest -q").think(10, "Done.")


def test_many_barely_qualifying_arcs_within_an_hour_is_arc_splitting() -> None:
    cfg = ScoringConfig(arc_gap_seconds=60)
    s = sc.Story("splitting")
    for n in range(6):
        s.wait(-25 * 60 + 8 * 60)  # one arc every ~9 minutes
        _minimal_arc(s, n)
    arcs, verdicts = run(s.events, config=cfg)
    assert len(arcs) == 6
    assert all(barely_over(v.substance, cfg) for v in verdicts)
    assert all("arc_splitting" in flags_of(v) for v in verdicts)
    assert not any(v.crushed for v in verdicts)
    # The same check through the context, for a judge asked about one arc at a time.
    others = tuple(ArcDigest.of(v, cfg) for v in verdicts[1:])
    single = HeuristicJudge().judge(arcs[0], JudgeContext(neighbors=others, config=cfg))
    assert "arc_splitting" in flags_of(single)
    # Five are not enough.
    _, five = run([e for e in s.events if e.time < arcs[5].started_at], config=cfg)
    assert not any("arc_splitting" in flags_of(v) for v in five)


def test_blocking_flags_follow_the_config() -> None:
    cfg = ScoringConfig(blocking_flags=frozenset({"auto_retry_storm"}))
    (v,) = run(sc.self_grading(), config=cfg)[1]
    assert flags_of(v) == {"self_grading"} and not v.flags[0].blocking
    assert v.crushed


# --- registry and determinism ---------------------------------------------------------------------


def test_registry_gives_the_default_judge_and_accepts_others() -> None:
    assert isinstance(j.get(), HeuristicJudge)
    assert isinstance(j.get("heuristic"), j.Judge)

    class Always:
        name = "always"
        version = "1"

        def judge(self, arc: Arc, context: JudgeContext) -> ArcVerdict:
            v = HeuristicJudge().judge(arc, context)
            return dataclasses.replace(v, judge=self.name, judge_version=self.version)

    j.register("always", Always)
    assert "always" in j.names()
    assert j.get("always").name == "always"
    with pytest.raises(KeyError, match="unknown judge"):
        j.get("nope")


def test_judging_twice_gives_the_same_verdicts() -> None:
    events = sc.two_goals() + sc.bug_failed(start=sc.MONDAY + timedelta(hours=2))
    first, second = sc.fix_then_rework(start=sc.MONDAY + timedelta(hours=5))
    events += first + second
    now = datetime(2026, 12, 1, tzinfo=UTC)
    a = judge_arcs(build_arcs(events), now=now)
    b = judge_arcs(build_arcs(list(reversed(events))), now=now)
    assert a == b
