"""/v1/webhooks: subscribe a URL to event types, list, change (re-enable), delete, and read the
delivery log. Deliveries are made by the worker's `WebhookSender`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from prism.api.deps import EngineContext, context, principal
from prism.api.schemas import ERRORS, ErrorBody
from prism.store.keys import Principal
from prism.webhooks import targets
from prism.webhooks.store import WebhookStore

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERRORS)

EventType = Literal[
    "prism.score_v3.sub_session.created",
    "prism.score_v3.sub_session.updated",
    "prism.score_v3.sub_session.scored",
    "report.started",
    "report.completed",
    "report.failed",
    "integrity.flagged",
    "telemetry.received",
]
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "scope=org needs an admin key"}
}


class WebhookCreate(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL; private and loopback addresses are refused unless "
        "PRISM_WEBHOOK_ALLOW_PRIVATE",
    )
    event_types: list[EventType] = Field(min_length=1, max_length=8)
    scope: Literal["developer", "org"] = Field(
        "developer", description="org: every developer's events of the org (admins only)"
    )
    description: str | None = Field(None, max_length=200)


class WebhookPatch(BaseModel):
    enabled: bool | None = Field(
        None, description="true re-enables a disabled webhook (failure count reset)"
    )
    url: str | None = Field(None, min_length=1, max_length=2048)
    event_types: list[EventType] | None = Field(None, min_length=1, max_length=8)
    description: str | None = Field(None, max_length=200)


class WebhookItem(BaseModel):
    id: str
    url: str
    event_types: list[str]
    scope: str
    description: str | None
    developer_id: str
    enabled: bool
    disabled_reason: str | None = Field(description="why the webhook was disabled, if it is")
    disabled_at: datetime | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookItem):
    secret: str = Field(
        description="signs every delivery (X-Prism-Signature); shown this once, keep it safe"
    )


class WebhookList(BaseModel):
    webhooks: list[WebhookItem]


class DeliveryAttempt(BaseModel):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryItem(BaseModel):
    id: str = Field(description="also sent as X-Prism-Delivery")
    webhook_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed", "cancelled"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when the next retry is due")
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttempt] = Field(description="every attempt, oldest first")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryItem] = Field(description="newest first")


def _store(ctx: EngineContext) -> WebhookStore:
    assert ctx.sessions is not None
    return WebhookStore(ctx.sessions)


@router.post("", status_code=201, response_model=WebhookCreated, responses=FORBIDDEN)
async def create_webhook(
    body: WebhookCreate,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Subscribe a URL to event types; the response carries the signing secret, once."""
    await targets.check(body.url, allow_private=ctx.settings.webhook_allow_private)
    view, secret = await asyncio.to_thread(
        _store(ctx).create,
        who,
        url=body.url,
        event_types=list(body.event_types),
        scope=body.scope,
        description=body.description,
    )
    return {**view, "secret": secret}


@router.get("", response_model=WebhookList)
async def list_webhooks(
    ctx: EngineContext = Depends(context), who: Principal = Depends(principal)
) -> dict[str, Any]:
    """Developers see their webhooks, admins every webhook of the org. Never the secret."""
    return {"webhooks": await asyncio.to_thread(_store(ctx).list_for, who)}


@router.get("/{webhook_id}", response_model=WebhookItem)
async def get_webhook(
    webhook_id: str, ctx: EngineContext = Depends(context), who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await asyncio.to_thread(_store(ctx).get, who, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookItem)
async def update_webhook(
    webhook_id: str,
    body: WebhookPatch,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Change a webhook. `{"enabled": true}` re-enables one disabled after failures."""
    if body.url is not None:
        await targets.check(body.url, allow_private=ctx.settings.webhook_allow_private)
    return await asyncio.to_thread(
        _store(ctx).update,
        who,
        webhook_id,
        enabled=body.enabled,
        url=body.url,
        event_types=list(body.event_types) if body.event_types is not None else None,
        description=body.description,
    )


@router.delete("/{webhook_id}", response_model=WebhookItem)
async def delete_webhook(
    webhook_id: str, ctx: EngineContext = Depends(context), who: Principal = Depends(principal)
) -> dict[str, Any]:
    """Delete a webhook and its delivery log; queued deliveries are dropped."""
    return await asyncio.to_thread(_store(ctx).delete, who, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    webhook_id: str,
    limit: int = Query(50, ge=1, le=500),
    status: Literal["pending", "succeeded", "failed", "cancelled"] | None = None,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """The delivery log, newest first: each delivery with every attempt's result."""
    return {
        "deliveries": await asyncio.to_thread(
            _store(ctx).deliveries, who, webhook_id, limit=limit, status=status
        )
    }
