"""GET /v1/telemetry/{logs,metrics,traces}: raw telemetry from the lake, newest first."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from prism.api.deps import EngineContext, context, parse_time, principal, target_developer
from prism.api.schemas import TelemetryPage
from prism.errors import BadRequest
from prism.lake.query import Filters
from prism.store.keys import Principal

router = APIRouter(prefix="/v1/telemetry", tags=["telemetry"])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat().replace("+00:00", "Z")
        elif k in ("attributes", "resource") and isinstance(v, list):
            out[k] = dict(v)
        else:
            out[k] = v
    return out


async def _read(
    table: str,
    key: str,
    ctx: EngineContext,
    who: Principal,
    *,
    start: str | None,
    end: str | None,
    session_id: str | None,
    limit: int | None,
    offset: int,
    user_id: str | None,
    event_name: str | None = None,
    name: str | None = None,
    trace_id: str | None = None,
) -> dict[str, Any]:
    settings = ctx.settings
    limit = settings.telemetry_default_limit if limit is None else limit
    if limit < 1 or limit > settings.telemetry_max_limit:
        raise BadRequest(f"limit must be between 1 and {settings.telemetry_max_limit}")
    if offset < 0 or offset > 1_000_000:
        raise BadRequest("offset must be between 0 and 1000000")
    t0, t1 = parse_time(start, "from"), parse_time(end, "to")
    if t0 and t1 and t0 > t1:
        raise BadRequest("from must not be after to")
    for label, value in (
        ("session_id", session_id),
        ("event_name", event_name),
        ("name", name),
        ("trace_id", trace_id),
    ):
        if value is not None and len(value) > 256:
            raise BadRequest(f"{label} is longer than 256 characters")
    filters = Filters(
        org_id=who.org_id,
        developer_id=target_developer(ctx, who, user_id),
        start=t0,
        end=t1,
        session_id=session_id,
        event_name=event_name,
        name=name,
        trace_id=trace_id,
        limit=limit,
        offset=offset,
    )
    rows = await asyncio.to_thread(ctx.lake.telemetry, table, filters)
    return {
        key: [_jsonable(r) for r in rows],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + len(rows) if len(rows) == limit else None,
    }


@router.get("/logs", response_model=TelemetryPage, response_model_exclude_unset=True)
async def logs(
    from_: str | None = Query(None, alias="from", description="ISO 8601 start (inclusive)"),
    to: str | None = Query(None, description="ISO 8601 end (exclusive)"),
    session_id: str | None = None,
    event_name: str | None = Query(None, description="bare event name, e.g. api_request"),
    limit: int | None = None,
    offset: int = 0,
    user_id: str | None = Query(None, description="admins: another developer's id or email"),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Agent events (OTLP log records), newest first."""
    return await _read(
        "events",
        "logs",
        ctx,
        who,
        start=from_,
        end=to,
        session_id=session_id,
        limit=limit,
        offset=offset,
        user_id=user_id,
        event_name=event_name,
    )


@router.get("/metrics", response_model=TelemetryPage, response_model_exclude_unset=True)
async def metrics(
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    session_id: str | None = None,
    name: str | None = Query(None, description="metric name, e.g. claude_code.token.usage"),
    limit: int | None = None,
    offset: int = 0,
    user_id: str | None = None,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Metric datapoints; `value` is the per-interval value (cumulative sums made deltas)."""
    return await _read(
        "metrics",
        "metrics",
        ctx,
        who,
        start=from_,
        end=to,
        session_id=session_id,
        limit=limit,
        offset=offset,
        user_id=user_id,
        name=name,
    )


@router.get("/traces", response_model=TelemetryPage, response_model_exclude_unset=True)
async def traces(
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    session_id: str | None = None,
    trace_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    user_id: str | None = None,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Spans, newest first, with parent ids and attributes."""
    return await _read(
        "spans",
        "spans",
        ctx,
        who,
        start=from_,
        end=to,
        session_id=session_id,
        limit=limit,
        offset=offset,
        user_id=user_id,
        trace_id=trace_id,
    )
