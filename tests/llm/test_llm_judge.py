"""The LLM judge against stand-ins that misbehave: the heuristic verdict stands and
judge_status says why; a good answer replaces it, and a backfill keeps the history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import prism.judge.llm as llm_judge
from prism.judge.base import JudgeContext
from prism.judge.base import get as get_judge
from prism.judge.heuristic import HeuristicJudge
from prism.llm.client import client_for
from prism.sessions.arcs import Arc, build_arcs
from prism.store.models import ArcVerdictRow, SubSession
from tests.api.test_score_v3_api import NOW
from tests.insights.conftest import World, build_world
from tests.llm.conftest import PROVIDERS, llm_settings
from tests.llm.standins import StandIn
from tests.unit import scenarios as sc

MISBEHAVIOUR = {
    # mode: (stream, expected judge_note prefix)
    "invalid_json": (False, "invalid_json"),
    "timeout": (False, "timeout"),
    "rate_limit": (False, "rate_limited"),
    "refusal": (False, "refusal"),
    "truncated": (True, "truncated"),
}


def feature_arc() -> Arc:
    (arc,) = build_arcs(sc.feature_crushed(), [])
    return arc


def judge_with(tmp_path: Path, provider: str, s: StandIn, **kw: Any) -> llm_judge.LLMJudge:
    settings = llm_settings(tmp_path, provider, s, **kw)
    return llm_judge.LLMJudge(client_for(settings, "rubric"))


@pytest.mark.parametrize("mode", sorted(MISBEHAVIOUR))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_any_failure_leaves_the_heuristic_verdict_and_says_why(
    tmp_path: Path, standin: Callable[..., StandIn], provider: str, mode: str
) -> None:
    stream, reason = MISBEHAVIOUR[mode]
    s = standin(mode, retry_after="30")
    judge = judge_with(
        tmp_path, provider, s, llm_stream=stream, llm_timeout_seconds=0.4, llm_max_retries=1
    )
    judge.client.sleep = lambda _: pytest.fail("a Retry-After over the limit must not wait")
    arc = feature_arc()
    ctx = JudgeContext(now=NOW)
    heuristic = HeuristicJudge().judge(arc, ctx)
    v = judge.judge(arc, ctx)
    assert v.judge == f"llm:{provider}" and v.judge_version == "judge.v1/claude-sonnet-4-6"
    assert v.rubric.judge_status == "failed"
    assert v.judge_note is not None and v.judge_note.startswith(reason + ":"), v.judge_note
    # the heuristic result stands, whole
    assert v.outcome == heuristic.outcome and v.outcome.label == "goal_complete"
    assert v.rubric.booleans == heuristic.rubric.booleans
    assert v.rubric.grade == heuristic.rubric.grade
    assert v.crushed is heuristic.crushed is True
    assert len(s.requests) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_valid_answer_replaces_outcome_and_rubric(
    tmp_path: Path, standin: Callable[..., StandIn], provider: str, stream: bool
) -> None:
    s = standin("ok")
    judge = judge_with(tmp_path, provider, s, llm_stream=stream)
    v = judge.judge(feature_arc(), JudgeContext(now=NOW))
    assert v.rubric.judge_status == "judged" and v.judge_note is None
    assert (v.outcome.label, v.outcome.confidence) == ("partial", 0.66)
    assert v.outcome.evidence[0].signal == "llm"
    assert v.rubric.booleans["plan_first"] is True and v.rubric.intent_source == "llm"
    assert v.rubric.grade == 1.0 and v.rubric.letter_grade == "A"  # 6 of 6 applicable
    assert v.crushed is False  # partial is not goal_complete
    assert v.substance.passed and v.tokens.output == 2052  # counted facts stay the heuristic's
    prompt = s.requests[0]["body"]["messages"][-1]["content"]
    assert "Add a /health endpoint to src/app.py" in prompt and "Bash ok pytest -q tests/" in prompt


def test_trivia_and_unconfigured_judges_never_call_out(
    tmp_path: Path, standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = standin("ok")
    judge = judge_with(tmp_path, "anthropic", s)
    (trivia,) = build_arcs(sc.question_trivia(), [])
    v = judge.judge(trivia, JudgeContext(now=NOW))
    assert not v.substance.passed and v.judge_note == "trivia: not sent to the LLM"
    assert s.requests == []
    # registered by name; with no model configured every arc falls back and says so
    monkeypatch.setattr(
        llm_judge, "_CONFIGURED", llm_settings(tmp_path, "openai", s, llm_model=None)
    )
    unconfigured = get_judge("llm:openai")
    v = unconfigured.judge(feature_arc(), JudgeContext(now=NOW))
    assert v.rubric.judge_status == "failed" and v.judge_note.startswith("not_configured")
    assert v.crushed is True


@pytest.fixture
def llm_world(tmp_path: Path) -> Iterator[World]:
    yield from build_world(tmp_path)


def _feature(w: World) -> SubSession:
    with w.sessions() as s:
        return s.scalars(
            select(SubSession).where(SubSession.claude_session_id == w.stories["feature"])
        ).one()


def test_backfill_with_the_llm_judge_keeps_history(
    llm_world: World,
    standin: Callable[..., StandIn],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    w = llm_world
    s = standin("ok")
    monkeypatch.setattr(llm_judge, "_CONFIGURED", llm_settings(tmp_path / "llm", "anthropic", s))
    before = _feature(w)
    assert (before.judge_name, before.outcome, before.crushed) == (
        "heuristic",
        "goal_complete",
        True,
    )
    body = {
        "from": (sc.MONDAY - timedelta(hours=1)).isoformat(),
        "to": (sc.MONDAY + timedelta(hours=1)).isoformat(),
        "user_id": "alice@example.com",
        "judge": "llm:anthropic",
    }
    r = w.call("POST", "/v1/score_v3/insight/backfill", who="admin", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "rejudged": 1,
        "judge": "llm:anthropic",
        "version": "judge.v1/claude-sonnet-4-6",
    }
    after = _feature(w)
    assert (after.judge_name, after.outcome, after.crushed) == ("llm:anthropic", "partial", False)
    assert after.judge_status == "judged" and after.letter_grade == "A"
    with w.sessions() as sess:
        rows = sess.scalars(
            select(ArcVerdictRow)
            .where(ArcVerdictRow.sub_session_id == after.id)
            .order_by(ArcVerdictRow.created_at)
        ).all()
    assert [(x.judge_name, x.is_current) for x in rows] == [
        ("heuristic", False),
        ("llm:anthropic", True),
    ]
    assert rows[0].verdict["outcome"]["label"] == "goal_complete"
    assert rows[1].verdict["outcome"]["label"] == "partial"
    # the score follows the current verdict
    assert w.get("/v1/score_v3/score").json()["crushed_count"] == 2
    details = w.get("/v1/insights/sessions/details", session_id=w.stories["feature"]).json()
    assert details["sub_sessions"][0]["judge_name"] == "llm:anthropic"
    # a backfill that fails keeps the heuristic result, says why, and adds a third row
    s.modes = ["refusal"]
    w.call("POST", "/v1/score_v3/insight/backfill", who="admin", json=body)
    failed = _feature(w)
    assert (failed.outcome, failed.crushed, failed.judge_status) == (
        "goal_complete",
        True,
        "failed",
    )
    assert failed.verdict is not None and failed.verdict["judge_note"].startswith("refusal:")
    with w.sessions() as sess:
        n = len(
            sess.scalars(
                select(ArcVerdictRow).where(ArcVerdictRow.sub_session_id == after.id)
            ).all()
        )
    assert n == 3
