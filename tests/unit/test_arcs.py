"""Sessionizing: lake rows -> EventRow, sessions -> goal arcs (scoring.md "Units")."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from prism.score.thresholds import ScoringConfig
from prism.sessions import text as tx
from prism.sessions.arcs import (
    START_CLEAR,
    START_GAP,
    START_LOW_SIMILARITY,
    START_NEW_TASK,
    START_NO_PROMPT,
    START_SESSION,
    build_arcs,
)
from prism.sessions.model import REDACTED, EventRow, MetricSignal
from tests.unit import scenarios as sc

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_from_mapping_reads_a_lake_row_and_ignores_unknown_columns() -> None:
    row = {
        "time": datetime(2026, 11, 16, 9, 0),  # naive from some readers: taken as UTC
        "observed_time": datetime(2026, 11, 16, 9, 0, tzinfo=UTC),
        "developer_id": "dev-1",
        "session_id": "s-1",
        "event_name": "tool_result",
        "event_sequence": "7",
        "success": "false",
        "duration_ms": "70",
        "input_tokens": 12,
        "attributes": [("terminal.type", "xterm"), ("user.id", "abc")],
        "batch_id": "b-1",
        "org_id": "o-1",
    }
    ev = EventRow.from_mapping(row)
    assert ev.time == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    assert ev.event_sequence == 7
    assert ev.success is False
    assert ev.duration_ms == 70.0
    assert ev.attributes == {"terminal.type": "xterm", "user.id": "abc"}
    assert EventRow.from_mapping(dataclasses.asdict(ev)) == ev


def test_redacted_prompt_has_no_text() -> None:
    ev = EventRow(T0, "d", "s", "user_prompt", prompt=REDACTED, prompt_length=30)
    assert ev.text is None
    assert EventRow(T0, "d", "s", "user_prompt", prompt="fix it").text == "fix it"


def test_metric_signal_from_a_metrics_row() -> None:
    sig = MetricSignal.from_mapping(
        {"time": T0, "session_id": "s", "name": "claude_code.commit.count", "value": 2.0}
    )
    assert (sig.name, sig.value, sig.developer_id) == ("claude_code.commit.count", 2.0, None)


def test_one_goal_is_one_arc_with_the_agent_title() -> None:
    arcs = build_arcs(sc.feature_crushed())
    assert len(arcs) == 1
    arc = arcs[0]
    assert arc.title == "Add health endpoint"
    assert arc.title_source == "agent"
    assert arc.session_title == "Add health endpoint"
    assert [p.text for p in arc.prompts][-1] == "thanks, that works!"
    # The title side call (no prompt id, just before the prompt) joins the arc as preamble.
    assert arc.events[0].query_source == "generate_session_title"
    assert arc.start_reason == START_SESSION


def test_two_unrelated_goals_make_two_arcs() -> None:
    arcs = build_arcs(sc.two_goals())
    assert [a.start_reason for a in arcs] == [START_SESSION, START_NEW_TASK]
    assert [len(a.prompts) for a in arcs] == [2, 2]
    assert arcs[0].prompts[-1].text == "great"  # the approval closes the first arc
    assert arcs[0].next_start_reason == START_NEW_TASK
    assert arcs[1].title.startswith("Write documentation for the billing webhooks")
    assert arcs[0].ended_at <= arcs[1].started_at


def test_a_long_idle_gap_makes_two_arcs() -> None:
    arcs = build_arcs(sc.idle_gap())
    assert [a.start_reason for a in arcs] == [START_SESSION, START_GAP]
    assert (arcs[1].started_at - arcs[0].ended_at) > timedelta(minutes=40)
    assert arcs[0].is_closed(arcs[0].ended_at)  # a later arc closes it at once


def test_new_task_cue_needs_a_completion_signal_first() -> None:
    s = sc.Story("no-completion")
    s.prompt("Add a retry decorator to src/http.py").think(500).edit("src/http.py")
    s.prompt("now let's add logging to src/db.py").think(500).edit("src/db.py")
    assert len(build_arcs(s.events)) == 1


def test_low_similarity_after_completion_starts_an_arc_but_follow_ups_do_not() -> None:
    s = sc.Story("similarity")
    s.prompt("Add a retry decorator to src/http.py and test it").think(500).edit("src/http.py")
    s.think(300).bash("pytest -q")
    s.prompt("also keep the old behaviour for batch jobs please").think(300).edit("src/http.py")
    s.think(300).bash("pytest -q")
    s.prompt("Write a migration that renames the invoices table to billing_invoices")
    s.think(500).write("migrations/0042_rename.py")
    arcs = build_arcs(s.events)
    assert [a.start_reason for a in arcs] == [START_SESSION, START_LOW_SIMILARITY]
    assert len(arcs[0].prompts) == 2


def test_approval_never_starts_an_arc_even_after_a_long_gap() -> None:
    s = sc.Story("late-thanks")
    s.prompt("Add a retry decorator to src/http.py").think(500).edit("src/http.py")
    s.wait(3600).prompt("thanks, works great")
    arcs = build_arcs(s.events)
    assert len(arcs) == 1
    assert arcs[0].prompts[-1].text == "thanks, works great"


def test_clear_starts_a_new_arc_and_is_not_a_prompt() -> None:
    s = sc.Story("clear")
    s.prompt("Add a retry decorator to src/http.py").think(500).edit("src/http.py")
    s.prompt("/clear", advance=2)
    s.prompt("fix the typo in README.md", advance=2).think(200).edit("README.md")
    arcs = build_arcs(s.events)
    assert [a.start_reason for a in arcs] == [START_SESSION, START_CLEAR]
    assert all(not tx.is_clear_command(p.text) for a in arcs for p in a.prompts)


def test_without_prompt_text_only_the_gap_rule_applies() -> None:
    events = [
        dataclasses.replace(e, prompt=REDACTED) if e.event_name == "user_prompt" else e
        for e in sc.two_goals()
    ]
    assert len(build_arcs(events)) == 1
    gap_events = [
        dataclasses.replace(e, prompt=REDACTED) if e.event_name == "user_prompt" else e
        for e in sc.idle_gap()
    ]
    assert [a.start_reason for a in build_arcs(gap_events)] == [START_SESSION, START_GAP]


def test_late_events_stay_with_their_prompt_and_arcs_do_not_overlap() -> None:
    s = sc.Story("late-subagent")
    s.prompt("Add a retry decorator to src/http.py and run the tests").think(500)
    first_prompt = s.prompt_id
    s.edit("src/http.py").think(300).bash("pytest -q").think(100, "Done.")
    s.prompt("thanks").prompt("Next, write docs for the deploy script in docs/deploy.md")
    s.think(600).write("docs/deploy.md")
    # A subagent of the first prompt reports after the second arc started.
    late = EventRow(
        s.t + timedelta(seconds=5), s.developer_id, s.session_id, "api_request",
        prompt_id=first_prompt, output_tokens=50, query_source="general-purpose",
    )  # fmt: skip
    arcs = build_arcs([*s.events, late])
    assert len(arcs) == 1  # the next prompt starts before the first arc's activity ends
    split = build_arcs(s.events)
    assert len(split) == 2
    for a, b in itertools.pairwise(split):
        assert a.ended_at <= b.started_at


def test_ids_are_deterministic_and_order_independent() -> None:
    events = sc.two_goals() + sc.idle_gap(developer_id="dev-bob")
    a = build_arcs(events)
    b = build_arcs(list(reversed(events)))
    assert [x.id for x in a] == [x.id for x in b]
    assert a == b
    assert len({x.id for x in a}) == len(a)


def test_sessions_of_different_developers_are_kept_apart() -> None:
    arcs = build_arcs(sc.feature_crushed() + sc.feature_crushed(developer_id="dev-bob"))
    assert sorted(a.developer_id for a in arcs) == ["dev-alice", "dev-bob"]
    assert len({a.id for a in arcs}) == 2


def test_commit_metric_attaches_to_the_arc_of_its_session() -> None:
    events, signals = sc.no_text()
    other = MetricSignal(T0, "another-session", "claude_code.commit.count", 1.0)
    arcs = build_arcs(events, [*signals, other])
    assert len(arcs) == 1
    assert [s.name for s in arcs[0].metric_signals] == ["claude_code.commit.count"]


def test_activity_without_prompts_is_its_own_arc() -> None:
    s = sc.Story("no-prompt")
    s.think(300)  # e.g. a headless call whose user_prompt was lost
    arcs = build_arcs(s.events)
    assert len(arcs) == 1
    assert arcs[0].prompts == ()
    assert arcs[0].start_reason == START_NO_PROMPT


def test_passive_events_never_move_arc_bounds() -> None:
    events = sc.feature_crushed()
    end = build_arcs(events)[0].ended_at
    hook = EventRow(end + timedelta(hours=2), "dev-alice", events[0].session_id, "hook_registered")
    arcs = build_arcs([*events, hook])
    assert len(arcs) == 1
    assert arcs[0].ended_at == end
    assert hook in arcs[0].events


def test_is_closed_after_the_gap() -> None:
    arc = build_arcs(sc.abandoned())[0]
    assert not arc.is_closed(arc.ended_at + timedelta(minutes=19))
    assert arc.is_closed(arc.ended_at + timedelta(minutes=20))
    short = build_arcs(sc.abandoned(), config=ScoringConfig(arc_gap_seconds=60))[0]
    assert short.is_closed(short.ended_at + timedelta(seconds=60))


def test_heuristic_title_without_text_names_the_edited_files() -> None:
    events, _ = sc.no_text()
    arc = build_arcs(events)[0]
    assert arc.title == "Edit pager.py"
    assert arc.title_source == "heuristic"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks, that works", True),
        ("great", True),
        ("ok continue", True),
        ("yes please, go ahead", True),
        ("great, now add export to CSV", False),
        ("still broken", False),
        ("add a test for the empty case", False),
    ],
)
def test_continuation_prompts(text: str, expected: bool) -> None:
    assert tx.is_continuation(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("next, add pagination", True),
        ("Now let's write the docs", True),
        ("thanks! new task: rotate the keys", True),
        ("what's next?", False),
        ("add the next page link", False),
    ],
)
def test_new_task_cues(text: str, expected: bool) -> None:
    assert tx.has_new_task_cue(text) is expected


def test_similarity_helpers() -> None:
    assert tx.jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert tx.jaccard(set(), set()) == 0.0
    a = tx.content_tokens("Fix the login timeout in src/auth.py")
    assert {"login", "timeout", "src/auth.py", "auth"} <= a
    assert tx.containment(frozenset(), a) == 1.0
    assert tx.overlap(a, tx.content_tokens("login timeout still broken")) == 0.5
