"""/v1/insights/*: the v2.1 report family and session insights (seed 001).

/v1/insights/report/...            reports with the v2.1 composite KPIs (reports_common)
GET /v1/insights/sessions/stats      {"stats": [...]} by intent and outcome
GET /v1/insights/sessions/highlights SessionHighlights (unwrapped)
GET /v1/insights/sessions/summary    ?session_id; 400 when no summary exists
GET /v1/insights/sessions/summaries  {"summaries": [...]} (from, to, user_id, limit, offset)
GET /v1/insights/sessions/details    ?session_id: turns, tools, scores
GET /v1/insights/daily-summary       ?date=YYYY-MM-DD in the developer's zone
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Query

import prism.judge.llm  # noqa: F401  (registers the llm:<provider> judges for backfills)
from prism.api.deps import EngineContext, context, principal, target_developer
from prism.api.insights_schemas import (
    DailySummary,
    SessionDetails,
    SessionHighlights,
    SessionStats,
    SessionSummaries,
    SessionSummary,
)
from prism.api.routes.reports_common import LANG_DOC, USER_DOC, build_router
from prism.api.routes.score_v3 import _bounds
from prism.api.schemas import ERRORS, ErrorBody
from prism.insights import sessions as si
from prism.insights.i18n import Localizer, negotiate
from prism.store.keys import Principal

router = APIRouter()
router.include_router(build_router("v2", "/v1/insights/report", "insights reports"))
sessions_router = APIRouter(prefix="/v1/insights", tags=["insights"], responses=ERRORS)
FROM_DOC = "ISO 8601; default 30 days before `to`"
TO_DOC = "ISO 8601, exclusive; default now"
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such session"}
}


def _db(ctx: EngineContext) -> Any:
    assert ctx.sessions is not None
    return ctx.sessions


def _now(ctx: EngineContext) -> datetime:
    return ctx.scores.now() if ctx.scores is not None else datetime.now(UTC)


@sessions_router.get("/sessions/stats", response_model=SessionStats)
def session_stats(
    from_: str | None = Query(None, alias="from", description=FROM_DOC),
    to: str | None = Query(None, description=TO_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Scored sub-sessions that ended in [from, to), by intent class and outcome (trivia by
    reason)."""
    t0, t1 = _bounds(from_, to, default_days=30, now=_now(ctx))
    dev = target_developer(ctx, who, user_id)
    return {"stats": si.stats(_db(ctx), dev, t0, t1)}


@sessions_router.get("/sessions/highlights", response_model=SessionHighlights)
def session_highlights(
    from_: str | None = Query(None, alias="from", description=FROM_DOC),
    to: str | None = Query(None, description=TO_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Notable sessions: best, worst, longest, costliest, most reworked, flagged."""
    t0, t1 = _bounds(from_, to, default_days=30, now=_now(ctx))
    dev = target_developer(ctx, who, user_id)
    return si.highlights(_db(ctx), dev, t0, t1)


@sessions_router.get("/sessions/summary", response_model=SessionSummary)
def session_summary(
    session_id: str = Query(
        ..., min_length=1, max_length=200, description="agent session id or sub-session id"
    ),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """The stored title and summary of one session; 400 when none exists."""
    return si.summary(_db(ctx), target_developer(ctx, who, user_id), session_id)


@sessions_router.get("/sessions/summaries", response_model=SessionSummaries)
def session_summaries(
    from_: str | None = Query(None, alias="from", description=FROM_DOC),
    to: str | None = Query(None, description=TO_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    limit: int = Query(50, ge=1, le=500, description="max records"),
    offset: int = Query(0, ge=0, le=1_000_000, description="pagination offset"),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Sessions active in [from, to), newest first, with their summaries."""
    t0, t1 = _bounds(from_, to, default_days=30, now=_now(ctx))
    dev = target_developer(ctx, who, user_id)
    return {"summaries": si.summaries(_db(ctx), dev, t0, t1, limit=limit, offset=offset)}


@sessions_router.get("/sessions/details", response_model=SessionDetails, responses=NOT_FOUND)
def session_details(
    session_id: str = Query(
        ..., min_length=1, max_length=200, description="agent session id or sub-session id"
    ),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Turn-level metrics (one turn per prompt), tool activity and the scores of one session."""
    dev = target_developer(ctx, who, user_id)
    return si.details(_db(ctx), ctx.lake, who.org_id, dev, session_id)


@sessions_router.get("/daily-summary", response_model=DailySummary)
def daily_summary(
    date: str | None = Query(None, description="YYYY-MM-DD in your time zone; default today"),
    user_id: str | None = Query(None, description=USER_DOC),
    accept_language: str | None = Header(None, description=LANG_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """One calendar day rolled up: goals, crushed, score, tokens, cost, the top goals."""
    dev = target_developer(ctx, who, user_id)
    assert ctx.scores is not None
    tz = ctx.scores.state(dev).time_zone
    day = date or _now(ctx).astimezone(si.zone(tz)).date().isoformat()
    loc = Localizer(negotiate(accept_language).language)
    return si.daily_summary(_db(ctx), dev, day, tz, loc)


router.include_router(sessions_router)
