"""GET /v1/usage/{daily|weekly|monthly|session|model}: token and cost reports (ccusage's JSON).

The caller's own usage; an admin may name another developer of the org with `developer`.
Days and weeks are cut in `timezone` (IANA, default UTC).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query

from prism.api.deps import EngineContext, context, principal, target_developer
from prism.errors import BadRequest
from prism.store.keys import Principal
from prism.usage.report import parse_day, window
from prism.usage.service import compute

router = APIRouter(tags=["usage"])


@router.get("/v1/usage/{report}", summary="Token and cost report")
async def usage_report(
    report: Literal["daily", "weekly", "monthly", "session", "model"],
    since: str | None = Query(None, description="first day, YYYY-MM-DD (inclusive)"),
    until: str | None = Query(None, description="last day, YYYY-MM-DD (inclusive)"),
    timezone: str = Query("UTC", description="IANA time zone for days and weeks"),
    developer: str | None = Query(None, description="admins: another developer's id or email"),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Per period (or session, or model): tokens by kind, requests, cost in USD per model."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"timezone {timezone!r} is not an IANA time zone") from None
    try:
        d0 = parse_day(since) if since else None
        d1 = parse_day(until) if until else None
        window(d0, d1, tz)
    except ValueError:
        raise BadRequest("since and until must be dates, YYYY-MM-DD, 1970 to 9998") from None
    if d0 and d1 and d0 > d1:
        raise BadRequest("since must not be after until")
    dev = target_developer(ctx, who, developer)
    result = await asyncio.to_thread(
        compute,
        report,
        ctx.lake,
        org_id=who.org_id,
        developer_ids=(dev,),
        tz=tz,
        since=d0,
        until=d1,
    )
    return result.to_json()
