"""Webhook subscriptions and their delivery log, in the metadata store (engine side).

A developer's webhook receives that developer's events; an admin's webhook with scope `org`
receives every developer's events of the org. Another developer's webhook is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import BadRequest, Forbidden, NotFound
from prism.store.keys import Principal
from prism.store.models import Webhook, WebhookDelivery
from prism.webhooks.signing import new_secret

DELIVERY_STATUSES = ("pending", "succeeded", "failed", "cancelled")
MAX_WEBHOOKS_PER_DEVELOPER = 50


def _utc(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def webhook_view(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "event_types": list(hook.event_types),
        "scope": hook.scope,
        "description": hook.description,
        "developer_id": hook.developer_id,
        "enabled": hook.enabled,
        "disabled_reason": hook.disabled_reason,
        "disabled_at": _utc(hook.disabled_at),
        "consecutive_failures": hook.consecutive_failures,
        "created_at": _utc(hook.created_at),
        "updated_at": _utc(hook.updated_at),
    }


def delivery_view(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": str(d.event_id),
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": _utc(d.created_at),
        "last_attempt_at": _utc(d.last_attempt_at),
        "next_attempt_at": _utc(d.next_attempt_at) if d.status == "pending" else None,
        "delivered_at": _utc(d.delivered_at),
        "attempt_log": list(d.attempt_log or []),
    }


@dataclass
class WebhookStore:
    sessions: sessionmaker[Session]

    def _get(self, s: Session, who: Principal, webhook_id: str) -> Webhook:
        hook = s.get(Webhook, webhook_id)
        if hook is None or hook.org_id != who.org_id:
            raise NotFound("No such webhook")
        if not who.is_admin and hook.developer_id != who.developer_id:
            raise NotFound("No such webhook")
        return hook

    def create(
        self,
        who: Principal,
        *,
        url: str,
        event_types: list[str],
        scope: str,
        description: str | None,
    ) -> tuple[dict[str, Any], str]:
        """Save a webhook; returns its view and the secret (shown this once)."""
        if scope == "org" and not who.is_admin:
            raise Forbidden("scope=org needs an admin key")
        now = datetime.now(UTC)
        secret = new_secret()
        with self.sessions.begin() as s:
            count = len(
                s.scalars(
                    select(Webhook.id).where(
                        Webhook.org_id == who.org_id, Webhook.developer_id == who.developer_id
                    )
                ).all()
            )
            if count >= MAX_WEBHOOKS_PER_DEVELOPER:
                raise BadRequest(f"at most {MAX_WEBHOOKS_PER_DEVELOPER} webhooks per developer")
            hook = Webhook(
                id=str(uuid.uuid4()),
                org_id=who.org_id,
                developer_id=who.developer_id,
                scope=scope,
                url=url,
                event_types=sorted(set(event_types)),
                secret=secret,
                description=description,
                enabled=True,
                consecutive_failures=0,
                created_at=now,
                updated_at=now,
            )
            s.add(hook)
            s.flush()
            return webhook_view(hook), secret

    def list_for(self, who: Principal) -> list[dict[str, Any]]:
        stmt = select(Webhook).where(Webhook.org_id == who.org_id).order_by(Webhook.created_at)
        if not who.is_admin:
            stmt = stmt.where(Webhook.developer_id == who.developer_id)
        with self.sessions() as s:
            return [webhook_view(h) for h in s.scalars(stmt)]

    def get(self, who: Principal, webhook_id: str) -> dict[str, Any]:
        with self.sessions() as s:
            return webhook_view(self._get(s, who, webhook_id))

    def update(
        self,
        who: Principal,
        webhook_id: str,
        *,
        enabled: bool | None = None,
        url: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Change a webhook; `enabled=True` re-enables a disabled one from the next event on."""
        now = datetime.now(UTC)
        with self.sessions.begin() as s:
            hook = self._get(s, who, webhook_id)
            if url is not None:
                hook.url = url
            if event_types is not None:
                hook.event_types = sorted(set(event_types))
            if description is not None:
                hook.description = description
            if enabled is True and not hook.enabled:
                hook.enabled = True
                hook.consecutive_failures = 0
                hook.disabled_reason = None
                hook.disabled_at = None
            elif enabled is False and hook.enabled:
                hook.enabled = False
                hook.disabled_reason = "disabled by the user"
                hook.disabled_at = now
                cancel_pending(s, hook.id)
            hook.updated_at = now
            return webhook_view(hook)

    def delete(self, who: Principal, webhook_id: str) -> dict[str, Any]:
        with self.sessions.begin() as s:
            hook = self._get(s, who, webhook_id)
            view = webhook_view(hook)
            s.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
            s.delete(hook)
            return view

    def deliveries(
        self, who: Principal, webhook_id: str, *, limit: int, status: str | None
    ) -> list[dict[str, Any]]:
        with self.sessions() as s:
            hook = self._get(s, who, webhook_id)
            stmt = (
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == hook.id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.event_id.desc())
                .limit(limit)
            )
            if status is not None:
                stmt = stmt.where(WebhookDelivery.status == status)
            return [delivery_view(d) for d in s.scalars(stmt)]


def cancel_pending(s: Session, webhook_id: str) -> None:
    """A disabled webhook's queued deliveries are cancelled (kept in the log as such)."""
    s.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.status == "pending")
        .values(status="cancelled", next_attempt_at=None)
    )
