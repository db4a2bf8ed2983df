"""The webhook sender: a worker (start/stop) in the worker process.

Each pass:
1. reads new events from the log after its cursor (the `event_cursors` row `webhooks`) and, in
   the transaction that moves the cursor, adds a `pending` delivery for every enabled webhook
   the event matches (a unique (webhook, event) pair makes a second sender's attempt a no-op);
2. claims due deliveries with a lease (so a sender that dies mid-attempt leaves them to be
   retried, and on PostgreSQL two senders skip each other's rows), sends them signed, at most
   `CONCURRENCY` at a time;
3. records each attempt: success, or a retry after an exponential delay with jitter, or
   `failed` after `webhook_max_attempts`. `webhook_disable_after_failures` failed attempts in a
   row disable the webhook and cancel its queued deliveries until the user re-enables it.

Delivery is at least once: receivers dedupe on `X-Prism-Delivery` (or the event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism import __version__, metrics
from prism.errors import BadRequest
from prism.events import bus
from prism.events.bus import Event
from prism.events.stream import Tail
from prism.settings import Settings
from prism.store.models import EventCursor, Webhook, WebhookDelivery
from prism.webhooks import targets
from prism.webhooks.signing import sign
from prism.webhooks.store import cancel_pending

log = logging.getLogger(__name__)
CURSOR = "webhooks"
CONCURRENCY = 16
CLAIM_BATCH = 100
PRUNE_EVERY_S = 300.0


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass
class Attempt:
    delivery_id: str
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    at: datetime


@dataclass
class SenderStats:
    passes: int = 0
    enqueued: int = 0
    attempts: int = 0
    succeeded: int = 0
    failed_attempts: int = 0
    disabled: int = 0
    last_pass_at: float = 0.0
    last_cursor: int = 0
    errors: list[str] = field(default_factory=list)


class WebhookSender:
    """Worker: events -> signed deliveries with retries (see module doc)."""

    name = "webhook-sender"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.tail = Tail(sessions)
        self.client = client or httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,  # a redirect could lead anywhere, past the address check
            headers={"User-Agent": f"Prism-Webhooks/{__version__}"},
        )
        self.rng = rng or random.Random()
        self.stats = SenderStats()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._last_prune = 0.0
        self._postgres = (bind := sessions.kw.get("bind")) is not None and (
            bind.dialect.name == "postgresql"
        )

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.client.aclose()

    def wake(self) -> None:
        self._wake.set()

    @property
    def queue_depth(self) -> int:
        with self.sessions() as s:
            return len(
                s.scalars(
                    select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
                ).all()
            )

    async def _run(self) -> None:
        while not self._stopping.is_set():
            busy = False
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("webhook sender pass failed")
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=self.settings.webhook_poll_seconds
                )

    async def run_once(self) -> bool:
        """One pass; True when there may be more to do right away."""
        enqueued = await asyncio.to_thread(self.enqueue)
        due = await asyncio.to_thread(self.claim_due)
        if due:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(item: dict[str, Any]) -> Attempt:
                async with gate:
                    return await self.attempt(item)

            results = await asyncio.gather(*(one(d) for d in due))
            await asyncio.to_thread(self.record, results)
        if time.monotonic() - self._last_prune > PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            await asyncio.to_thread(self.prune)
        self.stats.passes += 1
        self.stats.last_pass_at = time.time()
        return enqueued >= CLAIM_BATCH or len(due) >= CLAIM_BATCH

    # --- 1. events -> deliveries ------------------------------------------------------------------
    def enqueue(self) -> int:
        with self.sessions() as s:
            row = s.get(EventCursor, CURSOR)
            cursor = int(row.last_id) if row is not None else None
        if cursor is None:
            with contextlib.suppress(Exception), self.sessions.begin() as s:
                s.add(EventCursor(name=CURSOR, last_id=0, updated_at=datetime.now(UTC)))
            cursor = 0
        events, new_cursor = self.tail.read(cursor)
        if new_cursor == cursor:
            return 0
        made = 0
        with self.sessions.begin() as s:
            moved = s.execute(
                update(EventCursor)
                .where(EventCursor.name == CURSOR, EventCursor.last_id == cursor)
                .values(last_id=new_cursor, updated_at=datetime.now(UTC))
            )
            if getattr(moved, "rowcount", 1) == 0:
                return 0  # another sender moved it first; it owns these events
            orgs = sorted({e.org_id for e in events})
            hooks = (
                s.scalars(
                    select(Webhook).where(Webhook.enabled.is_(True), Webhook.org_id.in_(orgs))
                ).all()
                if orgs
                else []
            )
            now = datetime.now(UTC)
            for ev in events:
                for hook in hooks:
                    if not _matches(hook, ev):
                        continue
                    s.add(
                        WebhookDelivery(
                            id=str(uuid.uuid4()),
                            webhook_id=hook.id,
                            event_id=ev.id,
                            event_type=ev.type,
                            payload=ev.json().decode(),
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            attempt_log=[],
                            created_at=now,
                        )
                    )
                    made += 1
        self.stats.enqueued += made
        self.stats.last_cursor = new_cursor
        return made

    # --- 2. claim and send ------------------------------------------------------------------------
    def claim_due(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        out: list[dict[str, Any]] = []
        with self.sessions.begin() as s:
            stmt = (
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(CLAIM_BATCH)
            )
            if self._postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = s.scalars(stmt).all()
            hooks = {
                h.id: h
                for h in s.scalars(
                    select(Webhook).where(Webhook.id.in_({r.webhook_id for r in rows}))
                )
            }
            for d in rows:
                hook = hooks.get(d.webhook_id)
                if hook is None or not hook.enabled:
                    d.status, d.next_attempt_at = "cancelled", None
                    continue
                d.next_attempt_at = lease
                out.append(
                    {
                        "id": d.id,
                        "url": hook.url,
                        "secret": hook.secret,
                        "body": d.payload.encode(),
                        "event_type": d.event_type,
                        "event_id": d.event_id,
                    }
                )
        return out

    async def attempt(self, item: dict[str, Any]) -> Attempt:
        started = time.monotonic()
        at = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "X-Prism-Event": item["event_type"],
            "X-Prism-Event-Id": str(item["event_id"]),
            "X-Prism-Delivery": item["id"],
            **sign(item["secret"], item["body"]),
        }
        status: int | None = None
        error: str | None = None
        try:
            await targets.check(item["url"], allow_private=self.settings.webhook_allow_private)
            resp = await self.client.post(item["url"], content=item["body"], headers=headers)
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
            outcome = "success" if error is None else "http_error"
        except BadRequest as exc:
            error, outcome = f"refused: {exc.message}", "refused"
        except httpx.HTTPError as exc:
            error, outcome = f"{type(exc).__name__}: {exc}"[:500], "network_error"
        metrics.WEBHOOK_ATTEMPTS.labels(outcome).inc()
        return Attempt(
            delivery_id=item["id"],
            ok=error is None,
            status_code=status,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            at=at,
        )

    def backoff(self, attempts: int) -> float:
        """Delay before attempt `attempts + 1`: doubling from the base, capped, half of it
        random (so retries from many deliveries spread out but never come at once)."""
        cap = min(
            self.settings.webhook_retry_max_seconds,
            self.settings.webhook_retry_base_seconds * 2 ** max(0, attempts - 1),
        )
        return cap / 2 + self.rng.uniform(0, cap / 2)

    # --- 3. results ------------------------------------------------------------------------------
    def record(self, results: list[Attempt]) -> None:
        settings = self.settings
        with self.sessions.begin() as s:
            for r in results:
                d = s.get(WebhookDelivery, r.delivery_id)
                if d is None:
                    continue  # the webhook was deleted meanwhile
                hook = s.get(Webhook, d.webhook_id)
                d.attempts += 1
                d.last_attempt_at = r.at
                d.last_status_code = r.status_code
                d.last_error = r.error
                d.attempt_log = [
                    *(d.attempt_log or []),
                    {
                        "at": r.at.isoformat().replace("+00:00", "Z"),
                        "status_code": r.status_code,
                        "error": r.error,
                        "duration_ms": r.duration_ms,
                    },
                ]
                self.stats.attempts += 1
                if r.ok:
                    d.status, d.delivered_at, d.next_attempt_at = "succeeded", r.at, None
                    self.stats.succeeded += 1
                    if hook is not None:
                        hook.consecutive_failures = 0
                    continue
                self.stats.failed_attempts += 1
                if d.attempts >= settings.webhook_max_attempts:
                    d.status, d.next_attempt_at = "failed", None
                else:
                    d.next_attempt_at = datetime.now(UTC) + timedelta(
                        seconds=self.backoff(d.attempts)
                    )
                if hook is None:
                    continue
                hook.consecutive_failures += 1
                if hook.enabled and hook.consecutive_failures >= (
                    settings.webhook_disable_after_failures
                ):
                    hook.enabled = False
                    hook.disabled_at = datetime.now(UTC)
                    hook.disabled_reason = (
                        f"{hook.consecutive_failures} consecutive failed delivery attempts "
                        f"(last: {r.error})"
                    )[:300]
                    hook.updated_at = hook.disabled_at
                    s.flush()
                    cancel_pending(s, hook.id)
                    self.stats.disabled += 1
                    log.warning("webhook %s disabled: %s", hook.id, hook.disabled_reason)

    def prune(self) -> None:
        """Forget finished deliveries and events past their retention."""
        bus.prune(self.sessions, older_than=timedelta(hours=self.settings.events_retention_hours))
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.webhook_log_retention_days)
        with self.sessions.begin() as s:
            s.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status != "pending", WebhookDelivery.created_at < cutoff
                )
            )


def _matches(hook: Webhook, ev: Event) -> bool:
    if ev.type not in hook.event_types:
        return False
    if _utc(ev.created_at) < _utc(hook.created_at):
        return False  # a new webhook gets events from its creation on, not the backlog
    return hook.scope == "org" or hook.developer_id == ev.developer_id
