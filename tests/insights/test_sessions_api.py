"""/v1/insights/sessions/* and /v1/insights/daily-summary: shapes (seed 001), numbers, 400s."""

from __future__ import annotations

from typing import Any

import pytest

from tests.insights.conftest import World

RANGE = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"}
REF = {
    "score_v3_sub_session_id",
    "claude_session_id",
    "title",
    "summary",
    "started_at",
    "ended_at",
    "duration_seconds",
    "outcome",
    "crushed",
    "qualifying",
    "intent_class",
    "letter_grade",
    "prompt_grade",
    "billed_tokens",
    "cost_usd",
    "reason",
}


def test_stats_by_intent_and_outcome(world: World) -> None:
    body = world.get("/v1/insights/sessions/stats", **RANGE).json()
    assert set(body) == {"stats"}
    by = {(s["intent_class"], s["outcome"]): s for s in body["stats"]}
    assert by[("bugfix", "failed")]["count"] == 1
    assert by[("trivia", "no_work")]["count"] == 1
    feature = by[("feature", "goal_complete")]
    assert feature["crushed"] == feature["count"] >= 2
    assert sum(s["count"] for s in body["stats"]) == 11  # every scored sub-session in range
    default = world.get("/v1/insights/sessions/stats").json()  # last 30 days up to now
    assert default["stats"] and sum(s["count"] for s in default["stats"]) <= 11


def test_highlights(world: World) -> None:
    h = world.get("/v1/insights/sessions/highlights", **RANGE).json()
    assert set(h) == {
        "from",
        "to",
        "best",
        "worst",
        "longest",
        "costliest",
        "most_reworked",
        "flagged",
    }
    assert h["best"]["crushed"] is True and set(h["best"]) >= REF
    assert h["worst"]["outcome"] == "failed"
    assert h["longest"]["duration_seconds"] >= h["best"]["duration_seconds"]
    assert h["costliest"]["cost_usd"] > 0
    assert h["most_reworked"]["rework_count"] == 1
    assert h["most_reworked"]["claude_session_id"] == world.stories["rework_first"]
    kinds = {k for f in h["flagged"] for k in f["flags"]}
    assert {"auto_retry_storm", "tiny_prompt_burst", "self_grading"} <= kinds
    empty = world.get(
        "/v1/insights/sessions/highlights",
        **{"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"},
    ).json()
    assert empty["best"] is None and empty["flagged"] == []


def test_summary_and_summaries(world: World) -> None:
    sid = world.stories["feature"]
    s = world.get("/v1/insights/sessions/summary", session_id=sid).json()
    assert s["claude_session_id"] == sid and s["title"] == "Add health endpoint"
    assert "Outcome: goal_complete" in s["summary"]
    assert s["sub_session_count"] == 1 and s["crushed_count"] == 1
    # a sub-session id finds its session too
    sub = s["sub_sessions"][0]["score_v3_sub_session_id"]
    assert (
        world.get("/v1/insights/sessions/summary", session_id=sub).json()["session_id"]
        == s["session_id"]
    )
    missing = world.get("/v1/insights/sessions/summary", session_id="no-such-session")
    assert missing.status_code == 400 and "No summary" in missing.json()["message"]
    assert world.get("/v1/insights/sessions/summary").status_code == 400
    # bob's session is not alice's: no existence leak, the same 400
    assert world.get("/v1/insights/sessions/summary", who="bob", session_id=sid).status_code == 400
    page = world.get("/v1/insights/sessions/summaries", **RANGE, limit=3).json()
    assert set(page) == {"summaries"} and len(page["summaries"]) == 3
    starts = [x["started_at"] for x in page["summaries"]]
    assert starts == sorted(starts, reverse=True)
    nxt = world.get("/v1/insights/sessions/summaries", **RANGE, limit=3, offset=3).json()
    assert not {x["session_id"] for x in page["summaries"]} & {
        x["session_id"] for x in nxt["summaries"]
    }
    everything = world.get("/v1/insights/sessions/summaries", **RANGE, limit=50).json()
    assert len(everything["summaries"]) == 11  # alice's sessions in range (one still open)
    bob = world.get(
        "/v1/insights/sessions/summaries", who="admin", user_id="bob@example.com", **RANGE
    ).json()
    assert [x["claude_session_id"] for x in bob["summaries"]] == [world.stories["bob_feature"]]
    denied = world.get("/v1/insights/sessions/summaries", who="bob", user_id="alice@example.com")
    assert denied.status_code == 404


def test_details(world: World) -> None:
    d = world.get("/v1/insights/sessions/details", session_id=world.stories["feature"]).json()
    assert set(d) == {"session", "sub_sessions", "turns", "tools", "totals"}
    assert [t["prompt"][:18] for t in d["turns"]] == ["Add a /health endp", "thanks, that works"]
    first = d["turns"][0]
    assert first["api_requests"] == 5 and first["tool_calls"] == 4 and first["output_tokens"] > 0
    tools = {t["tool"]: t for t in d["tools"]}
    assert set(tools) == {"Read", "Edit", "Write", "Bash"} and tools["Bash"]["failures"] == 0
    sub = d["sub_sessions"][0]
    assert sub["crushed"] is True and sub["judge_status"] == "heuristic"
    assert sub["judge_name"] == "heuristic" and sub["rubric"]["letter_grade"] == "B"
    assert {e["signal"] for e in sub["outcome_evidence"]} >= {"verification_passed"}
    totals = d["totals"]
    assert totals["turns"] == 2 and totals["tool_calls"] == 4
    assert totals["output_tokens"] == sum(t["output_tokens"] for t in d["turns"]) + 12  # title
    assert world.get("/v1/insights/sessions/details", session_id="nope").status_code == 404
    assert world.get("/v1/insights/sessions/details").status_code == 400


def test_daily_summary(world: World) -> None:
    d = world.get("/v1/insights/daily-summary", date="2026-11-16").json()
    assert d["date"] == "2026-11-16" and d["time_zone"] == "UTC"
    assert (d["qualifying"], d["crushed"], d["trivia"]) == (4, 3, 1)
    assert d["prism_score"] == 75.0
    assert d["summary"].startswith("3 of 4 goals crushed")
    fr = world.call(
        "GET",
        "/v1/insights/daily-summary",
        params={"date": "2026-11-16"},
        headers={"accept-language": "fr"},
    ).json()
    assert fr["summary"].startswith("3 objectifs réussis sur 4") and fr["language"] == "fr"
    quiet = world.get("/v1/insights/daily-summary", date="2026-11-01").json()
    assert quiet["qualifying"] == 0 and quiet["prism_score"] is None
    today = world.get("/v1/insights/daily-summary").json()
    assert today["date"] == "2026-11-17"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/sessions/stats", {"from": "soon"}),
        ("/sessions/stats", {"from": "2026-11-10T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
        ("/sessions/highlights", {"to": "x"}),
        ("/sessions/summaries", {"limit": 0}),
        ("/sessions/summaries", {"offset": -1}),
        ("/daily-summary", {"date": "16/11/2026"}),
    ],
)
def test_bad_parameters_are_400(world: World, path: str, params: dict[str, Any]) -> None:
    r = world.get("/v1/insights" + path, **params)
    assert r.status_code == 400 and set(r.json()) == {"code", "message"}


def test_openapi_documents_the_new_families(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for base in ("/v1/insights/report", "/v1/score_v3/report"):
        for suffix in (
            "",
            "/generate",
            "/pending",
            "/status/{report_id}",
            "/cancel/{report_id}",
            "/history",
            "/{report_id}",
        ):
            assert base + suffix in paths, base + suffix
    assert "204" in paths["/v1/insights/report/pending"]["get"]["responses"]
    assert "202" in paths["/v1/score_v3/report/generate"]["post"]["responses"]
    assert "delete" in paths["/v1/score_v3/report/{report_id}"]
    for p in ("stats", "highlights", "summary", "summaries", "details"):
        assert f"/v1/insights/sessions/{p}" in paths
    for p in ("score", "speed", "skill", "efficiency", "worst-prompts"):
        assert f"/v1/intelligence/{p}" in paths
