"""Properties over random event streams: bounds, partitions, determinism (hypothesis)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prism.judge.base import TRIVIA_REASONS, is_crushed
from prism.judge.heuristic import judge_arcs
from prism.score.metrics import ScoredArc, window_report
from prism.score.thresholds import ScoringConfig
from prism.sessions.arcs import build_arcs
from prism.sessions.model import REDACTED, EventRow, MetricSignal

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
PROMPTS = [
    "Add a /health endpoint to src/app.py and run pytest",
    "Fix the crash in src/parser.py when the input is empty",
    "still broken, same error",
    "thanks, that works",
    "ok continue",
    "next, write docs for the deploy script",
    "Refactor src/billing.py into smaller functions",
    "/clear",
    "go",
    "Fix the crash in src/parser.py when the input is empty",
    REDACTED,
]
FILES = ["src/app.py", "src/parser.py", "tests/test_app.py", "docs/deploy.md"]
COMMANDS = ["pytest -q", "npm test", "git commit -am wip", "ls", "gh pr create --fill"]

KINDS = ["prompt", "prompt", "think", "think", "think", "edit", "edit", "bash", "bash"]
KINDS += ["error", "reject", "late", "commit"]
step = st.tuples(
    st.sampled_from(KINDS),
    st.integers(min_value=0, max_value=9),  # 9: a long pause, else a short step
    st.integers(min_value=0, max_value=90),  # seconds (short) or half-minutes past 20 (long)
    st.integers(min_value=0, max_value=10**6),  # choice seed
)
chunk = st.tuples(
    st.sampled_from(["dev-a", "dev-b"]),
    st.sampled_from(["s1", "s2", "s3"]),
    st.booleans(),  # open the chunk with a prompt
    st.lists(step, min_size=1, max_size=30),
)


@st.composite
def streams(draw: st.DrawFn) -> list[Any]:
    """A few runs of steps, each in one (developer, session), flattened in drawing order."""
    plan: list[Any] = []
    for dev, sess, opens, steps in draw(st.lists(chunk, min_size=1, max_size=5)):
        if opens:
            plan.append((dev, sess, ("prompt", 0, 5, len(plan))))
        plan.extend((dev, sess, s) for s in steps)
    return plan


def materialize(plan: list[Any]) -> tuple[list[EventRow], list[MetricSignal]]:
    """Turn a drawn plan into events; each (developer, session) keeps its own clock."""
    clocks: dict[tuple[str, str], datetime] = {}
    seqs: dict[tuple[str, str], int] = {}
    prompts: dict[tuple[str, str], list[str]] = {}
    events: list[EventRow] = []
    signals: list[MetricSignal] = []
    for dev, sess, (kind, pause, size, seed) in plan:
        key = (dev, sess)
        delta = 1200 + 30 * size if pause == 9 else size
        t = clocks.get(key, T0) + timedelta(seconds=delta)
        clocks[key] = t
        seq = seqs.get(key, 0)
        seqs[key] = seq + 1
        pids = prompts.setdefault(key, [])
        pid = pids[-1] if pids else None
        base: dict[str, Any] = {
            "time": t, "developer_id": dev, "session_id": sess, "event_sequence": seq,
            "prompt_id": pid,
        }  # fmt: skip
        if kind == "prompt":
            text = PROMPTS[seed % len(PROMPTS)]
            pid = f"{dev}-{sess}-p{seq}"
            pids.append(pid)
            base["prompt_id"] = pid
            events.append(EventRow(**base, event_name="user_prompt", prompt=text,
                                   prompt_length=len(text)))  # fmt: skip
        elif kind == "think":
            events.append(EventRow(**base, event_name="api_request", input_tokens=2000,
                                   output_tokens=200 + seed % 700, cache_creation_tokens=300,
                                   cost_micro_usd=seed % 50_000, query_source="sdk"))  # fmt: skip
            events.append(EventRow(**{**base, "event_sequence": seq + 10_000},
                                   event_name="assistant_response", response="ok",
                                   query_source="sdk"))  # fmt: skip
        elif kind == "edit":
            path = FILES[seed % len(FILES)]
            events.append(EventRow(**base, event_name="tool_result", tool_name="Edit",
                                   success=seed % 7 != 3,
                                   tool_input=f'{{"file_path": "{path}"}}'))  # fmt: skip
        elif kind == "bash":
            cmd = COMMANDS[seed % len(COMMANDS)]
            events.append(EventRow(**base, event_name="tool_result", tool_name="Bash",
                                   success=seed % 3 != 2,
                                   tool_parameters=f'{{"full_command": "{cmd}"}}'))  # fmt: skip
        elif kind == "error":
            events.append(EventRow(**base, event_name="api_error", status_code=529))
        elif kind == "reject":
            events.append(EventRow(**base, event_name="tool_decision", tool_name="Edit",
                                   decision="reject", decision_source="user_reject"))  # fmt: skip
        elif kind == "late" and len(pids) > 1:
            # A subagent of an earlier prompt reporting late.
            base["prompt_id"] = pids[seed % (len(pids) - 1)]
            events.append(EventRow(**base, event_name="api_request", output_tokens=100,
                                   query_source="general-purpose"))  # fmt: skip
        elif kind == "commit":
            signals.append(MetricSignal(t, sess, "claude_code.commit.count", 1.0, dev))
    return events, signals


NOW = T0 + timedelta(days=3)
CONFIG = ScoringConfig()
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(streams())
def test_arcs_partition_events_and_never_overlap(plan: list[Any]) -> None:
    events, signals = materialize(plan)
    arcs = build_arcs(events, signals, CONFIG)
    assert sum(len(a.events) for a in arcs) == len(events)
    assert len({a.id for a in arcs}) == len(arcs)
    by_session: dict[tuple[str, str], list[Any]] = {}
    for a in arcs:
        assert a.started_at <= a.ended_at
        by_session.setdefault((a.developer_id, a.session_id), []).append(a)
    for group in by_session.values():
        group.sort(key=lambda a: a.index)
        assert [a.index for a in group] == list(range(len(group)))
        for a, b in itertools.pairwise(group):
            assert a.ended_at <= b.started_at


@PROPS
@given(streams(), st.randoms(use_true_random=False))
def test_rerunning_is_a_no_op(plan: list[Any], rnd: random.Random) -> None:
    events, signals = materialize(plan)
    first = build_arcs(events, signals, CONFIG)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    second = build_arcs(shuffled, list(reversed(signals)), CONFIG)
    assert [a.id for a in first] == [a.id for a in second]
    assert first == second
    assert judge_arcs(first, now=NOW) == judge_arcs(second, now=NOW)


@PROPS
@given(streams())
def test_every_closed_arc_is_trivia_or_qualifying_and_scores_are_bounded(plan: list[Any]) -> None:
    events, signals = materialize(plan)
    arcs = build_arcs(events, signals, CONFIG)
    verdicts = judge_arcs(arcs, config=CONFIG, now=NOW)
    for arc, v in zip(sorted(arcs, key=lambda a: (a.started_at, a.developer_id,
                                                   a.session_id, a.index)), verdicts,
                      strict=True):  # fmt: skip
        assert v.arc_id == arc.id
        if arc.is_closed(NOW):
            assert v.substance.passed != (v.substance.reason is not None)
            assert v.substance.passed or v.substance.reason in TRIVIA_REASONS
        assert 0.0 <= v.outcome.confidence <= 1.0
        assert v.crushed == is_crushed(v.substance, v.outcome, v.rework, v.rubric, v.flags, CONFIG)
        if v.rubric.grade is not None:
            assert 0.0 <= v.rubric.grade <= 1.0
    scored = [ScoredArc.from_verdict(v) for v in verdicts]
    for dev in ("dev-a", "dev-b"):
        mine = [s for s, v in zip(scored, verdicts, strict=True) if v.developer_id == dev]
        for kind in ("daily", "weekly", "monthly"):
            r = window_report(mine, kind, NOW, "Europe/Paris", CONFIG)
            assert r.score.crushed_count <= r.score.total_count
            if r.score.total_count == 0:
                assert r.score.prism_score is None
            else:
                assert r.score.prism_score is not None
                assert 0.0 <= r.score.prism_score <= 100.0
            assert all(len(v) == 4 for v in r.sparklines.values())
            for value in r.sparklines["prism_score"]:
                assert value is None or 0.0 <= value <= 100.0
            if r.tokens.crush_weight is not None:
                assert 0.0 <= r.tokens.crush_weight <= 1.0
            assert r.speed.cspw >= 0.0
