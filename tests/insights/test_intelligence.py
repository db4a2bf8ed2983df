"""/v1/intelligence/*: the v2.1 composite on a known scenario mix, recomputed here from the
stored verdicts with spec/scoring.md's formulas (not with prism.score.metrics)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from prism.score.metrics import ScoredArc
from prism.store.models import ArcRubric, SubSession
from prism.store.scores import scored_arc
from tests.insights.conftest import World

W47 = datetime(2026, 11, 16, tzinfo=UTC)
WEEK = timedelta(days=7)


def arcs_of(w: World, developer_id: str) -> list[ScoredArc]:
    with w.sessions() as s:
        rows = s.execute(
            select(SubSession, ArcRubric)
            .outerjoin(ArcRubric, ArcRubric.sub_session_id == SubSession.id)
            .where(SubSession.developer_id == developer_id, SubSession.status == "scored")
        ).all()
    return [scored_arc(r, rub) for r, rub in rows]


def week(arcs: list[ScoredArc], start: datetime) -> list[ScoredArc]:
    return [a for a in arcs if start <= a.ended_at < start + WEEK]


def tpt(arcs: list[ScoredArc]) -> float | None:
    q = [a for a in arcs if a.qualifying]
    crushed = sum(1 for a in q if a.crushed)
    billed = sum(a.input_tokens + a.output_tokens + a.cache_write_tokens for a in q)
    return billed / crushed if crushed else None


def mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def expected(all_arcs: list[ScoredArc], start: datetime) -> dict[str, Any]:
    """scoring.md, "v2.1 intelligence (legacy composite)", line by line."""
    q = [a for a in week(all_arcs, start) if a.qualifying]
    d = [a for a in q if a.outcome == "goal_complete"]
    graded = [a.grade for a in q if a.grade is not None]
    sse = len(d) / len(q) if q else None
    pes = sum(graded) / len(graded) if graded else None
    ie = min(1.0, 2 / (sum(a.prompt_count for a in d) / len(d))) if d else None
    crr = sum(1 for a in d if not a.reworked_later) / len(d) if d else None
    fc = sum(1 for a in d if not a.has_correction_after_first) / len(d) if d else None
    crushed = [a.wall_seconds for a in q if a.crushed]
    ttc = statistics.median(crushed) if crushed else None
    base = [tpt(week(all_arcs, start - WEEK * i)) for i in range(1, 5)]
    base_present = [b for b in base if b is not None]
    cur = tpt(week(all_arcs, start))
    tet = statistics.median(base_present) / cur if cur and base_present else None
    speed = mean([ie, None if ttc is None else min(1.0, 1800 / ttc)])
    skill = mean([pes, fc])
    efficiency = mean([crr, None if tet is None else min(1.0, tet)])
    pillars = [None if v is None else 100 * v for v in (speed, skill, efficiency)]
    return {
        "sse": sse,
        "pes": pes,
        "ie": ie,
        "crr": crr,
        "fc": fc,
        "tet": tet,
        "speed": pillars[0],
        "skill": pillars[1],
        "efficiency": pillars[2],
        "composite": mean(pillars),
    }


def close(a: float | None, b: float | None, digits: int) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and round(b, digits) == a)


def test_score_matches_scoring_md(world: World) -> None:
    arcs = arcs_of(world, world.alice)
    exp = expected(arcs, W47)
    body = world.get("/v1/intelligence/score").json()
    assert body["window"] == "weekly"
    for k in ("sse", "pes", "ie", "crr", "fc"):
        assert close(body["components"][k], exp[k], 3), (k, body["components"][k], exp[k])
    for k in ("speed", "skill", "efficiency", "composite"):
        assert close(body[k], exp[k], 1), (k, body[k], exp[k])
    # the scenario mix, by hand: 5 qualifying arcs, 4 reached goal_complete (the bug failed)
    assert body["components"]["sse"] == 0.8
    assert body["components"]["crr"] == 1.0
    previous = expected(arcs, W47 - WEEK)
    assert body["sparkline"][-1] == body["composite"]
    assert close(body["sparkline"][-2], previous["composite"], 1)
    # previous week: the first CSV fix was reworked this week, so CRR < 1 there
    assert previous["crr"] is not None and previous["crr"] < 1


def test_pillars(world: World) -> None:
    exp = expected(arcs_of(world, world.alice), W47)
    speed = world.get("/v1/intelligence/speed").json()
    assert close(speed["speed"], exp["speed"], 1) and close(speed["ie"], exp["ie"], 3)
    assert speed["ttc_component"] == 1.0  # every crush took well under 30 minutes
    skill = world.get("/v1/intelligence/skill").json()
    assert close(skill["skill"], exp["skill"], 1) and close(skill["fc"], exp["fc"], 3)
    eff = world.get("/v1/intelligence/efficiency").json()
    assert close(eff["efficiency"], exp["efficiency"], 1) and close(eff["tet"], exp["tet"], 3)
    assert eff["tet_component"] == round(min(1.0, exp["tet"]), 3)
    for body in (speed, skill, eff):
        assert len(body["sparkline"]) == 4


def test_agrees_with_the_cached_window_report(world: World) -> None:
    v2 = world.reader.report(world.alice, "weekly")["v2"]
    body = world.get("/v1/intelligence/score").json()
    assert body["composite"] == round(v2["composite"], 1)
    assert body["components"]["pes"] == v2["pes"]


def test_worst_prompts(world: World) -> None:
    body = world.get("/v1/intelligence/worst-prompts", limit=3).json()
    assert set(body) == {"prompts", "total"}
    assert body["total"] >= len(body["prompts"]) == 3
    grades = [p["grade"] for p in body["prompts"]]
    assert grades == sorted(grades)
    page2 = world.get("/v1/intelligence/worst-prompts", limit=3, offset=3).json()
    ids = {p["prompt_id"] for p in body["prompts"]}
    assert not ids & {p["prompt_id"] for p in page2["prompts"]}
    first = body["prompts"][0]
    assert first["prompt"] and first["missing"] and first["letter_grade"] == "F"
    ranged = world.get(
        "/v1/intelligence/worst-prompts",
        **{"from": "2026-11-09T00:00:00Z", "to": "2026-11-16T00:00:00Z"},
    ).json()
    assert ranged["total"] > 0 and not ids & {p["prompt_id"] for p in ranged["prompts"]}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/score", {"window": "hourly"}),
        ("/speed", {"window": "x"}),
        ("/worst-prompts", {"limit": 0}),
        ("/worst-prompts", {"to": "2026-11-01T00:00:00Z"}),
        ("/worst-prompts", {"from": "2026-11-10T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
    ],
)
def test_bad_parameters_are_400(world: World, path: str, params: dict[str, Any]) -> None:
    r = world.get("/v1/intelligence" + path, **params)
    assert r.status_code == 400 and set(r.json()) == {"code", "message"}


def test_bob_sees_his_own(world: World) -> None:
    body = world.get("/v1/intelligence/score", who="bob").json()
    assert body["components"]["sse"] == 1.0
    admin = world.get("/v1/intelligence/score", who="admin", user_id="bob@example.com").json()
    assert admin == body
