"""Tailing the event log and fanning it out to SSE clients, one `EventHub` per engine process.

Fan-out across processes goes through the metadata store: whoever publishes appends a row; each
engine process tails the table (a poll every `events_poll_seconds`, woken early by PostgreSQL
NOTIFY) and hands each new event to its own subscribers. N engine processes each tail once,
whatever their client count, so the database load grows with processes, not clients.

Per client: a bounded buffer. The hub never waits for a client; a client whose buffer is full
is cut off (its stream ends), and reconnects with Last-Event-ID to get the rest from the table.
So a slow or stuck client costs at most `events_client_buffer` events plus the transport's own
high-water mark, never more, and never slows the others.

Ids come from a sequence; on PostgreSQL two transactions can commit out of id order, so the
tail holds back behind a missing id for up to `gap_grace_s` before skipping it (a rolled-back
insert leaves a permanent gap). On SQLite writes are serialized and there are no gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from prism.errors import Unavailable
from prism.events.bus import NOTIFY_CHANNEL, Event, latest_id
from prism.store.models import StreamEvent

log = logging.getLogger(__name__)
PAGE = 500


class Tail:
    """Reads the log in id order from a cursor, holding back behind gaps (see module doc)."""

    def __init__(self, sessions: sessionmaker[Session], *, gap_grace_s: float = 10.0) -> None:
        self.sessions = sessions
        self.gap_grace_s = gap_grace_s
        self._gap_since: dict[int, float] = {}

    def read(self, after: int, limit: int = PAGE) -> tuple[list[Event], int]:
        """Events after `after` that are safe to hand on, and the new cursor."""
        with self.sessions() as s:
            rows = s.scalars(
                select(StreamEvent)
                .where(StreamEvent.id > after)
                .order_by(StreamEvent.id)
                .limit(limit)
            ).all()
        out: list[Event] = []
        cursor = after
        now = time.monotonic()
        for row in rows:
            rid = int(row.id)
            if rid != cursor + 1:
                first = self._gap_since.setdefault(cursor + 1, now)
                if now - first < self.gap_grace_s:
                    break  # an earlier id may still commit: wait for it
                log.debug("event ids %d..%d skipped (gap)", cursor + 1, rid - 1)
            self._gap_since.pop(cursor + 1, None)
            out.append(Event.from_row(row))
            cursor = rid
        return out, cursor


@dataclass(eq=False)
class Subscriber:
    """One SSE client's view: its scope, its bounded buffer, and whether it was cut off."""

    org_id: str
    developer_id: str | None  # None: the whole org (admins)
    types: frozenset[str] | None
    limit: int
    buffer: deque[Event] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    closed_reason: str | None = None
    high_water: int = 0

    def matches(self, ev: Event) -> bool:
        return (
            ev.org_id == self.org_id
            and (self.developer_id is None or ev.developer_id == self.developer_id)
            and (self.types is None or ev.type in self.types)
        )

    def offer(self, ev: Event) -> bool:
        """Buffer `ev`; False (and the subscriber is closed) when the buffer is full."""
        if len(self.buffer) >= self.limit:
            self.close("slow")
            return False
        self.buffer.append(ev)
        self.high_water = max(self.high_water, len(self.buffer))
        self.wake.set()
        return True

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        self.buffer.clear()
        self.wake.set()
        self.dead.set()


@dataclass
class HubStats:
    dispatched: int = 0
    delivered: int = 0
    dropped_slow: int = 0
    connected_total: int = 0
    polls: int = 0
    last_event_at: float = 0.0


class EventHub:
    """Worker of the engine process: tails the log and fans events out (start/stop)."""

    name = "event-hub"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        poll_s: float = 0.2,
        client_buffer: int = 1000,
        max_clients: int = 1000,
        gap_grace_s: float = 10.0,
        listen: bool = True,
    ) -> None:
        self.sessions = sessions
        self.poll_s = poll_s
        self.client_buffer = client_buffer
        self.max_clients = max_clients
        self.listen = listen
        self.tail = Tail(sessions, gap_grace_s=gap_grace_s)
        # Dispatch at most half a client buffer at once, so a client that keeps up always has
        # room for the next page while it writes this one.
        self.page = max(1, min(PAGE, client_buffer // 2))
        self.last_id = 0
        self.stats = HubStats()
        self._by_org: dict[str, set[Subscriber]] = {}
        self._count = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock = asyncio.Lock()
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            self.last_id = await asyncio.to_thread(latest_id, self.sessions)
            self._stopping.clear()
            self._tasks = [asyncio.create_task(self._run(), name=self.name)]
            if self.listen and self._dialect() == "postgresql":
                self._tasks.append(asyncio.create_task(self._listen(), name="event-hub-listen"))
            self._started = True

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._started = False
        for subs in list(self._by_org.values()):
            for sub in list(subs):
                sub.close("shutdown")

    @property
    def clients(self) -> int:
        return self._count

    @property
    def queue_depth(self) -> int:
        """Events buffered for clients right now (all clients together)."""
        return sum(len(s.buffer) for subs in self._by_org.values() for s in subs)

    def _dialect(self) -> str:
        bind = self.sessions.kw.get("bind")
        return bind.dialect.name if bind is not None else ""

    # --- subscribers ----------------------------------------------------------------------------
    def subscribe(
        self, org_id: str, developer_id: str | None, types: Iterable[str] | None = None
    ) -> tuple[Subscriber, int]:
        """Register a client; returns it and the id up to which events were dispatched before
        it joined (replay covers up to there, the buffer everything after)."""
        if self._count >= self.max_clients:
            raise Unavailable("Too many event stream clients; retry later", retry_after=5)
        sub = Subscriber(
            org_id=org_id,
            developer_id=developer_id,
            types=frozenset(types) if types else None,
            limit=self.client_buffer,
        )
        self._by_org.setdefault(org_id, set()).add(sub)
        self._count += 1
        self.stats.connected_total += 1
        return sub, self.last_id

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._by_org.get(sub.org_id)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self._count -= 1
            if not subs:
                del self._by_org[sub.org_id]
        sub.buffer.clear()

    def dispatch(self, events: list[Event]) -> None:
        for ev in events:
            self.stats.dispatched += 1
            self.last_id = ev.id
            subs = self._by_org.get(ev.org_id)
            if not subs:
                continue
            for sub in list(subs):
                if sub.matches(ev) and not sub.offer(ev):
                    self.stats.dropped_slow += 1
                    self.unsubscribe(sub)
        if events:
            self.stats.last_event_at = time.time()

    async def replay(self, sub: Subscriber, after: int, upto: int) -> AsyncIterator[list[Event]]:
        """The subscriber's events with after < id <= upto, a page at a time, from the table."""
        while after < upto:
            page = await asyncio.to_thread(self._replay_page, sub, after, upto)
            if not page:
                return
            yield page
            after = page[-1].id

    def _replay_page(self, sub: Subscriber, after: int, upto: int) -> list[Event]:
        stmt = (
            select(StreamEvent)
            .where(StreamEvent.org_id == sub.org_id, StreamEvent.id > after, StreamEvent.id <= upto)
            .order_by(StreamEvent.id)
            .limit(PAGE)
        )
        if sub.developer_id is not None:
            stmt = stmt.where(StreamEvent.developer_id == sub.developer_id)
        if sub.types is not None:
            stmt = stmt.where(StreamEvent.type.in_(sorted(sub.types)))
        with self.sessions() as s:
            return [Event.from_row(r) for r in s.scalars(stmt)]

    # --- tailing --------------------------------------------------------------------------------
    async def poll_once(self) -> int:
        events, cursor = await asyncio.to_thread(self.tail.read, self.last_id, self.page)
        self.stats.polls += 1
        self.dispatch(events)
        self.last_id = max(self.last_id, cursor)
        return len(events)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if await self.poll_once() >= self.page:
                    continue  # more waiting: read on without sleeping
            except Exception:
                log.exception("event hub poll failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)

    async def _listen(self) -> None:
        """PostgreSQL: LISTEN on the channel `bus.record` NOTIFYs; each notice wakes the poll."""
        import psycopg

        bind = self.sessions.kw["bind"]
        url = bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event LISTEN connection lost; polling until it is back")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=5.0)


# --- the SSE response ----------------------------------------------------------------------------


def sse_frame(ev: Event) -> bytes:
    return ev.frame()


class EventStreamResponse(Response):
    """`text/event-stream` for one subscriber: replay, then live events and heartbeats.

    Three things race: the writer, a watcher of `http.disconnect` (client gone) and a watcher of
    the subscriber being cut off (client too slow). Whichever ends first ends the response, and
    a writer stuck in a send to a client that stopped reading is cancelled, not waited on.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: EventHub,
        sub: Subscriber,
        *,
        after: int | None,
        upto: int,
        heartbeat_s: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            content=None,
            media_type=self.media_type,
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
                **(headers or {}),
            },
        )
        # Response() with no content says Content-Length: 0; a stream has no length.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.hub = hub
        self.sub = sub
        self.after = after
        self.upto = upto
        self.heartbeat_s = heartbeat_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send(
                {"type": "http.response.body", "body": b"retry: 3000\n\n", "more_body": True}
            )
            tasks = {
                asyncio.create_task(self._write(send)),
                asyncio.create_task(self._until_disconnect(receive)),
                asyncio.create_task(self.sub.dead.wait()),
            }
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.debug("event stream ended: %r", task.exception())
            # End the body cleanly when the client still takes data; one that stopped reading
            # is not waited on (the server then closes the connection).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    send({"type": "http.response.body", "body": b"", "more_body": False}),
                    timeout=0.1 if self.sub.closed_reason == "slow" else 1.0,
                )
        finally:
            self.hub.unsubscribe(self.sub)

    async def _until_disconnect(self, receive: Receive) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                return

    async def _write(self, send: Send) -> None:
        sub, hub = self.sub, self.hub
        last = self.upto if self.after is None else self.after
        if self.after is not None:
            async for page in hub.replay(sub, self.after, self.upto):
                for ev in page:
                    await send(_body(sse_frame(ev)))
                    last = ev.id
                    hub.stats.delivered += 1
            last = max(last, self.upto)
        while sub.closed_reason is None:
            while sub.buffer:
                ev = sub.buffer.popleft()
                if ev.id <= last:
                    continue
                await send(_body(sse_frame(ev)))
                last = ev.id
                hub.stats.delivered += 1
            sub.wake.clear()
            if sub.closed_reason is not None:
                break
            try:
                await asyncio.wait_for(sub.wake.wait(), timeout=self.heartbeat_s)
            except TimeoutError:
                await send(_body(b": heartbeat\n\n"))


def _body(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}
