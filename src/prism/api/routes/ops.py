"""Operations: GET /metrics (Prometheus) and the live state /healthz and /metrics report.

Live values are read from the shared stores when asked, not counted by any one process:

- queue depth: batches and bytes waiting between ingest and the lake writer;
- lake lag: while batches wait, seconds since the lake writer last committed (0 when the
  queue is empty), so a stuck or overrun writer shows as a growing number;
- judge lag: how long the oldest piece of sessionizer work has waited: a developer marked
  dirty, or a closed arc not yet scored;
- the event hub (last id, SSE clients, slow clients dropped) and pending webhook deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from prism import metrics
from prism.events.stream import EventHub
from prism.queue import Queue, open_queue
from prism.settings import Settings
from prism.store.models import LakeCommit, SessionizeCursor, SubSession, WebhookDelivery

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])


@dataclass
class LiveState:
    queue_batches: int | None = None
    queue_bytes: int | None = None
    lake_lag_s: float | None = None
    judge_lag_s: float | None = None
    judge_backlog: int | None = None
    webhook_pending: int | None = None
    events_last_id: int | None = None
    sse_clients: int | None = None
    sse_dropped: int | None = None
    sse_delivered: int | None = None
    errors: tuple[str, ...] = ()


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _store_state(
    sessions: sessionmaker[Session], arc_gap_s: int, queue_batches: int | None
) -> dict[str, Any]:
    now = datetime.now(UTC)
    with sessions() as s:
        last_commit = s.scalar(select(func.max(LakeCommit.created_at)))
        oldest_mark = s.scalar(
            select(func.min(SessionizeCursor.updated_at)).where(
                SessionizeCursor.dirty_since.is_not(None)
            )
        )
        due_before = now - timedelta(seconds=arc_gap_s)
        oldest_due, backlog = s.execute(
            select(func.min(SubSession.ended_at), func.count()).where(
                SubSession.status == "open", SubSession.ended_at < due_before
            )
        ).one()
        pending = s.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
        )
    lake_lag = 0.0
    if queue_batches:
        lake_lag = (now - _utc(last_commit)).total_seconds() if last_commit else 0.0
    waits = [0.0]
    if oldest_mark is not None:
        waits.append((now - _utc(oldest_mark)).total_seconds())
    if oldest_due is not None:
        waits.append((now - (_utc(oldest_due) + timedelta(seconds=arc_gap_s))).total_seconds())
    return {
        "lake_lag_s": max(0.0, lake_lag),
        "judge_lag_s": max(waits),
        "judge_backlog": int(backlog or 0),
        "webhook_pending": int(pending or 0),
    }


class Ops:
    """What /healthz and /metrics read, held by the engine app (`app.state.ops`)."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], hub: EventHub | None
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.hub = hub
        self._queue: Queue | None = None

    def queue(self) -> Queue:
        """The ingest queue, opened on first use (read-only use: depth)."""
        if self._queue is None:
            self._queue = open_queue(self.settings)
        return self._queue

    async def close(self) -> None:
        if self._queue is not None:
            await self._queue.close()
            self._queue = None

    async def state(self) -> LiveState:
        out = LiveState()
        errors: list[str] = []
        try:
            depth = await self.queue().depth()
            out.queue_batches, out.queue_bytes = depth.batches, depth.bytes
        except Exception as exc:
            errors.append(f"queue: {type(exc).__name__}")
        try:
            st = await asyncio.to_thread(
                _store_state, self.sessions, self.settings.arc_gap_seconds, out.queue_batches
            )
            out.lake_lag_s, out.judge_lag_s = st["lake_lag_s"], st["judge_lag_s"]
            out.judge_backlog, out.webhook_pending = st["judge_backlog"], st["webhook_pending"]
        except Exception as exc:
            errors.append(f"store: {type(exc).__name__}")
        if self.hub is not None:
            out.events_last_id = self.hub.last_id
            out.sse_clients = self.hub.clients
            out.sse_dropped = self.hub.stats.dropped_slow
            out.sse_delivered = self.hub.stats.delivered
        out.errors = tuple(errors)
        return out

    async def health_checks(self) -> tuple[dict[str, Any], bool]:
        """Extra /healthz checks (queue, lags, event stream) and whether all are fine."""
        st = await self.state()
        checks: dict[str, Any] = {}
        if st.queue_batches is None:
            checks["queue"] = "error: " + next(
                (e.split(": ", 1)[1] for e in st.errors if e.startswith("queue")), "unknown"
            )
        else:
            checks["queue"] = {"status": "ok", "batches": st.queue_batches, "bytes": st.queue_bytes}
        if st.lake_lag_s is not None:
            checks["lake_lag_seconds"] = round(st.lake_lag_s, 3)
            checks["judge_lag_seconds"] = round(st.judge_lag_s or 0.0, 3)
        checks["events"] = {"last_id": st.events_last_id or 0, "clients": st.sse_clients or 0}
        return checks, not st.errors


class LiveCollector(Collector):
    def __init__(self, state: LiveState) -> None:
        self.st = state

    def collect(self) -> Iterator[Metric]:
        st = self.st

        def gauge(name: str, doc: str, value: float | None) -> Iterator[Metric]:
            if value is not None:
                g = GaugeMetricFamily(name, doc)
                g.add_metric([], float(value))
                yield g

        yield from gauge(
            "prism_queue_batches", "Batches waiting in the ingest queue.", st.queue_batches
        )
        yield from gauge("prism_queue_bytes", "Bytes waiting in the ingest queue.", st.queue_bytes)
        yield from gauge(
            "prism_lake_lag_seconds",
            "While batches wait: seconds since the lake writer last committed.",
            st.lake_lag_s,
        )
        yield from gauge(
            "prism_judge_lag_seconds",
            "Age of the oldest sessionizer work: a dirty developer or an unscored closed arc.",
            st.judge_lag_s,
        )
        yield from gauge(
            "prism_judge_backlog_arcs", "Closed arcs waiting for a verdict.", st.judge_backlog
        )
        yield from gauge(
            "prism_webhook_pending_deliveries", "Webhook deliveries waiting.", st.webhook_pending
        )
        yield from gauge(
            "prism_events_last_id", "Newest event id this engine has seen.", st.events_last_id
        )
        yield from gauge(
            "prism_sse_clients", "SSE clients connected to this engine.", st.sse_clients
        )
        for name, doc, value in (
            (
                "prism_sse_dropped_slow_clients",
                "SSE clients cut off for falling behind.",
                st.sse_dropped,
            ),
            (
                "prism_sse_events_delivered",
                "Events written to SSE clients by this engine.",
                st.sse_delivered,
            ),
        ):
            if value is not None:
                c = CounterMetricFamily(name, doc)
                c.add_metric([], float(value))
                yield c


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get("/metrics", response_class=Response, responses=METRICS_RESPONSES)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics of every Prism process of this data dir, plus live gauges. No key
    needed (bind the API port privately, as by default)."""
    ops: Ops = request.app.state.ops
    state = await ops.state()
    body = await asyncio.to_thread(metrics.exposition, [LiveCollector(state)])
    return Response(body, media_type=metrics.CONTENT_TYPE)


def ops_of(app: FastAPI) -> Ops | None:
    return getattr(app.state, "ops", None)
