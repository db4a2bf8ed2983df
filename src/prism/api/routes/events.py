"""GET /v1/events/stream: Server-Sent Events for the caller (admins: their org), resumable."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request

from prism.api.deps import EngineContext, context, principal, target_developer
from prism.api.schemas import ERRORS, ErrorBody
from prism.errors import BadRequest, Forbidden
from prism.events.bus import EVENT_TYPES
from prism.events.stream import EventHub, EventStreamResponse
from prism.store.keys import Principal

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERRORS)

STREAM_DOC = (
    "A `text/event-stream`. Each event has an `id` (resume with the `Last-Event-ID` header, or "
    "`last_event_id`, to get exactly the events after it that are still retained), an `event` "
    "(its type) and `data`: JSON `{id, type, created_at, org_id, developer_id, data}`. Idle "
    "streams carry `: heartbeat` comments. A client that falls "
    "`PRISM_EVENTS_CLIENT_BUFFER` events behind is disconnected and should reconnect with "
    "`Last-Event-ID`.\n\nEvent types: " + ", ".join(f"`{t}`" for t in EVENT_TYPES)
)
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The event stream",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    403: {"model": ErrorBody, "description": "scope=org needs an admin key"},
    503: {"model": ErrorBody, "description": "Too many stream clients on this process"},
}


def hub_of(request: Request) -> EventHub:
    hub: EventHub = request.app.state.events
    return hub


def _last_id(header: str | None, query: int | None) -> int | None:
    if query is not None:
        return query
    if header is None or header.strip() == "":
        return None
    try:
        value = int(header.strip())
    except ValueError:
        raise BadRequest("Last-Event-ID must be an event id (a non-negative integer)") from None
    if value < 0:
        raise BadRequest("Last-Event-ID must be an event id (a non-negative integer)")
    return value


@router.get(
    "/stream",
    status_code=200,
    response_class=EventStreamResponse,
    responses=STREAM_RESPONSES,
    description=STREAM_DOC,
)
async def stream(
    request: Request,
    scope: Literal["developer", "org"] = Query(
        "developer", description="org: every developer of the caller's org (admins only)"
    ),
    user_id: str | None = Query(None, description="admins: another developer of the org"),
    types: str | None = Query(
        None, max_length=1000, description="comma-separated event types to receive (default all)"
    ),
    last_event_id: int | None = Query(
        None, ge=0, le=2**62, description="same as the Last-Event-ID header"
    ),
    last_event_id_header: str | None = Header(
        None, alias="Last-Event-ID", description="resume after this event id"
    ),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> EventStreamResponse:
    """Subscribe to the caller's events as Server-Sent Events."""
    hub = hub_of(request)
    developer: str | None
    if scope == "org":
        if not who.is_admin:
            raise Forbidden("scope=org needs an admin key")
        developer = None
    else:
        developer = target_developer(ctx, who, user_id)
    wanted: list[str] | None = None
    if types:
        wanted = [t.strip() for t in types.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in EVENT_TYPES]
        if unknown:
            raise BadRequest(f"unknown event type {unknown[0]!r}")
    after = _last_id(last_event_id_header, last_event_id)
    await hub.start()
    sub, upto = hub.subscribe(who.org_id, developer, wanted)
    if after is not None and after > upto:
        after = upto  # an id from the future (another database?): nothing to replay
    return EventStreamResponse(
        hub, sub, after=after, upto=upto, heartbeat_s=ctx.settings.events_heartbeat_seconds
    )
