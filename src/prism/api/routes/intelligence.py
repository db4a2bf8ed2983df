"""/v1/intelligence/*: the v2.1 composite, kept during the v3 calibration window.

Speed / Skill / Efficiency and their components (SSE, PES, IE, CRR, FC) as spec/scoring.md and
docs/scoring.md define them, computed by `prism.score.metrics.legacy` over the same scored arcs
and verdicts as v3 (through `ScoreReader`, cached per score version). Each pillar carries a
sparkline of the last 4 windows, oldest first. Worst prompts are the lowest-graded prompts of
the window (prompt-level rubric rows), with the applicable booleans each one misses.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from prism.api.deps import EngineContext, context, parse_time, principal, target_developer
from prism.api.insights_schemas import (
    IntelligenceEfficiency,
    IntelligenceScore,
    IntelligenceSkill,
    IntelligenceSpeed,
    WorstPrompts,
)
from prism.api.schemas import ERRORS
from prism.errors import BadRequest
from prism.insights.report import window_stats, worst_prompts
from prism.score.reader import ScoreReader, bucket
from prism.score.windows import last_windows, parse_kind
from prism.store.keys import Principal

router = APIRouter(prefix="/v1/intelligence", tags=["intelligence"], responses=ERRORS)
WINDOW_DOC = "daily | weekly | monthly (calendar windows in your time zone); default weekly"
USER_DOC = "admins: another developer of the org (id or email)"


def _reader(ctx: EngineContext) -> ScoreReader:
    assert ctx.scores is not None
    return ctx.scores


def series(reader: ScoreReader, developer_id: str, kind: str) -> list[dict[str, Any]]:
    """Every KPI of the last `sparkline_windows` windows, oldest first (cached)."""
    st = reader.state(developer_id)
    now = reader.now()
    key = ("v2-series", developer_id, kind, st.time_zone, st.version, reader.local_date(st, now))
    cfg = reader.config

    def compute() -> list[dict[str, Any]]:
        base = cfg.tet_baseline_windows
        wins = last_windows(kind, now, st.time_zone, cfg.sparkline_windows + base)
        per = bucket(reader.arcs(developer_id, wins[0].start_utc, wins[-1].end_utc), wins)
        return [window_stats(per, wins, i, now, cfg) for i in range(base, len(wins))]

    return reader.cached(key, compute)


def _current(
    ctx: EngineContext, who: Principal, user_id: str | None, window: str | None
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    kind = parse_kind(window)
    dev = target_developer(ctx, who, user_id)
    s = series(_reader(ctx), dev, kind)
    return kind, s[-1], s


@router.get("/score", response_model=IntelligenceScore)
def score(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Composite = mean(Speed, Skill, Efficiency), each 0-100, with the five components."""
    kind, cur, s = _current(ctx, who, user_id, window)
    return {
        "window": kind,
        "composite": cur["composite"],
        "speed": cur["speed"],
        "skill": cur["skill"],
        "efficiency": cur["efficiency"],
        "components": {k: cur[k] for k in ("sse", "pes", "ie", "crr", "fc")},
        "sparkline": [x["composite"] for x in s],
    }


@router.get("/speed", response_model=IntelligenceSpeed)
def speed(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Speed = 100 x mean(IE, min(1, ttc_target / median time to crush))."""
    kind, cur, s = _current(ctx, who, user_id, window)
    cfg = _reader(ctx).config
    ttc = cur["ttc_median_seconds"]
    ttc_part = (
        None if ttc is None else (1.0 if ttc <= 0 else min(1.0, cfg.ttc_target_seconds / ttc))
    )
    ie = cur["ie"]
    mean_prompts = cur["mean_prompts_completed"]
    return {
        "window": kind,
        "speed": cur["speed"],
        "ie": ie,
        "ttc_median_seconds": ttc,
        "ttc_component": None if ttc_part is None else round(ttc_part, 3),
        "mean_prompts_per_completed": mean_prompts,
        "sparkline": [x["speed"] for x in s],
    }


@router.get("/skill", response_model=IntelligenceSkill)
def skill(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Skill = 100 x mean(PES, FC)."""
    kind, cur, s = _current(ctx, who, user_id, window)
    return {
        "window": kind,
        "skill": cur["skill"],
        "pes": cur["pes"],
        "fc": cur["fc"],
        "sparkline": [x["skill"] for x in s],
    }


@router.get("/efficiency", response_model=IntelligenceEfficiency)
def efficiency(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Efficiency = 100 x mean(CRR, min(1, TET))."""
    kind, cur, s = _current(ctx, who, user_id, window)
    tet = cur["tet"]
    return {
        "window": kind,
        "efficiency": cur["efficiency"],
        "crr": cur["crr"],
        "tet": tet,
        "tet_component": None if tet is None else round(min(1.0, tet), 3),
        "sparkline": [x["efficiency"] for x in s],
    }


@router.get("/worst-prompts", response_model=WorstPrompts)
def worst(
    window: str | None = Query(None, description=WINDOW_DOC + " (ignored with from/to)"),
    from_: str | None = Query(None, alias="from", description="ISO 8601; arcs ended from"),
    to: str | None = Query(None, description="ISO 8601, exclusive; default now"),
    limit: int = Query(20, ge=1, le=200, description="prompts per page (max 200)"),
    offset: int = Query(0, ge=0, le=1_000_000, description="pagination offset"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """The lowest-graded prompts (ties: newest first) and the booleans each one misses."""
    kind = parse_kind(window)
    dev = target_developer(ctx, who, user_id)
    reader = _reader(ctx)
    t0, t1 = parse_time(from_, "from"), parse_time(to, "to")
    if t0 is None and t1 is None:
        w = reader.window(kind, reader.state(dev))
        t0, t1 = w.start_utc, w.end_utc
    else:
        t1 = t1 or reader.now()
        if t0 is None:
            raise BadRequest("from is required with to")
        if t0 >= t1:
            raise BadRequest("from must be before to")
    assert ctx.sessions is not None
    prompts, total = worst_prompts(
        ctx.sessions, ctx.lake, who.org_id, dev, t0, t1, limit=limit, offset=offset
    )
    return {"prompts": prompts, "total": total}
