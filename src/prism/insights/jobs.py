"""Report generation jobs: synchronous or in the background, cancellable, stored in history.

One row of `insight_reports` per generation. Its life:

    pending ──► running ──► completed      (content + markdown written in that same update)
       │           ├──────► failed         (error kept; no content)
       └───────────┴──────► cancelled      (no content, ever)

Cancellation is cooperative and works across engine processes: `cancel` moves the row to
`cancelled` at once (so status answers `cancelled` immediately) and sets the local job's event;
the job checks both at every step boundary (`checkpoint`) and stops there. The final write is
conditional on the row still being `running`, so a job cancelled during its last step cannot
store a report. History lists completed reports only. A job whose engine died stops heartbeating
(`updated_at`); after `report_stale_seconds` it is marked failed when next read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import Conflict, NotFound
from prism.events import bus
from prism.insights import report as rp
from prism.insights.i18n import Choice, Localizer
from prism.insights.writer import (
    ADVICE,
    BOOLEANS,
    KPI_FORMAT,
    KPI_LABELS,
    HeuristicWriter,
    LLMWriter,
    Writer,
    render_markdown,
)
from prism.lake.query import Lake
from prism.llm.client import client_for, task_enabled
from prism.score.reader import ScoreReader, as_utc
from prism.settings import Settings
from prism.store.models import InsightReport

log = logging.getLogger(__name__)
ACTIVE = ("pending", "running")
FINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class JobSpec:
    family: str
    scope: str
    org_id: str
    developer_id: str
    requested_by: str
    choice: Choice
    period: rp.Period


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else as_utc(t).isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def status_of(row: InsightReport) -> dict[str, Any]:
    """The status body of a job (pending, status, cancel)."""
    steps = rp.STEPS
    done = steps.index(row.step) if row.step in steps else 0
    if row.status == "completed":
        done = len(steps)
    return {
        "id": row.id,
        "status": row.status,
        "family": row.family,
        "scope": row.scope,
        "step": row.step,
        "progress": round(done / len(steps), 3),
        "language": row.language,
        "from": as_utc(row.window_from),
        "to": as_utc(row.window_to),
        "created_at": as_utc(row.created_at),
        "updated_at": as_utc(row.updated_at),
        "finished_at": None if row.finished_at is None else as_utc(row.finished_at),
        "error": row.error,
    }


def history_item(row: InsightReport) -> dict[str, Any]:
    content = row.content or {}
    return {
        "id": row.id,
        "family": row.family,
        "scope": row.scope,
        "status": row.status,
        "language": row.language,
        "window": {
            "kind": row.window_kind,
            "from": as_utc(row.window_from),
            "to": as_utc(row.window_to),
        },
        "headline": content.get("headline"),
        "writer": row.writer,
        "created_at": as_utc(row.created_at),
        "finished_at": None if row.finished_at is None else as_utc(row.finished_at),
    }


class ReportService:
    """Runs report jobs for one engine process (a small worker: `close()` stops it)."""

    name = "report-runner"

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        lake: Lake,
        reader: ScoreReader,
        writer_factory: Callable[[], Writer] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.sources = rp.Sources(sessions, lake, reader, reader.config)
        self.reader = reader
        self.writer_factory = writer_factory or self._default_writer
        self.pool = ThreadPoolExecutor(
            max_workers=settings.report_workers, thread_name_prefix="prism-report"
        )
        self.cancels: dict[str, threading.Event] = {}
        self.futures: dict[str, Future[Any]] = {}
        self.step_hook: Callable[[str, str], None] | None = None
        """Tests: called with (report id, step) at every checkpoint, in the job's thread."""
        self.last_activity: float = 0.0
        self._lock = threading.Lock()

    def _default_writer(self) -> Writer:
        if task_enabled(self.settings, "reports"):
            return LLMWriter(client_for(self.settings, "reports", sessions=self.sessions))
        return HeuristicWriter()

    @property
    def queue_depth(self) -> int:
        with self._lock:
            return sum(1 for f in self.futures.values() if not f.done())

    def close(self) -> None:
        """Cancel what runs here and stop the threads (engine shutdown)."""
        with self._lock:
            ids = [rid for rid, f in self.futures.items() if not f.done()]
        for rid in ids:
            self._cancel_row(rid, "the engine stopped")
            self.cancels[rid].set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    # --- creating and running -----------------------------------------------------------------
    def create(self, spec: JobSpec, *, status: str = "pending") -> str:
        rid = rp.new_id()
        now = _now()
        with self.sessions.begin() as s:
            s.add(
                InsightReport(
                    id=rid,
                    org_id=spec.org_id,
                    developer_id=spec.developer_id,
                    requested_by=spec.requested_by,
                    family=spec.family,
                    scope=spec.scope,
                    status=status,
                    step=None,
                    language=spec.choice.language,
                    requested_language=spec.choice.requested,
                    window_kind=spec.period.kind,
                    window_from=spec.period.current.start_utc,
                    window_to=spec.period.current.end_utc,
                    llm_input_tokens=0,
                    llm_output_tokens=0,
                    llm_cost_micro_usd=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        with self._lock:
            self.cancels[rid] = threading.Event()
        return rid

    def submit(self, spec: JobSpec) -> str:
        """Start a job in the background; returns its id at once."""
        rid = self.create(spec)
        future = self.pool.submit(self._guarded, rid, spec)
        with self._lock:
            self.futures[rid] = future
        return rid

    def generate(self, spec: JobSpec) -> dict[str, Any]:
        """Run a job in the caller's thread and return the finished report."""
        rid = self.create(spec)
        return self._guarded(rid, spec, reraise=True) or {}

    def _guarded(self, rid: str, spec: JobSpec, reraise: bool = False) -> dict[str, Any] | None:
        try:
            return self.run(rid, spec)
        except rp.Cancelled:
            if reraise:
                raise Conflict(f"Report {rid} was cancelled") from None
            return None
        except Exception as exc:
            log.exception("report %s failed", rid)
            self._fail(rid, spec, f"{type(exc).__name__}: {exc}"[:500])
            if reraise:
                raise
            return None
        finally:
            with self._lock:
                self.cancels.pop(rid, None)
                self.futures.pop(rid, None)

    def _start(self, rid: str) -> bool:
        with self.sessions.begin() as s:
            n = s.execute(
                update(InsightReport)
                .where(InsightReport.id == rid, InsightReport.status == "pending")
                .values(status="running", step=rp.STEPS[0], updated_at=_now())
            ).rowcount  # type: ignore[attr-defined]
        return bool(n)

    def checkpoint(self, rid: str, step: str) -> None:
        """Stop here if the job was cancelled; else record the step (heartbeat)."""
        self.last_activity = _now().timestamp()
        event = self.cancels.get(rid)
        if event is not None and event.is_set():
            raise rp.Cancelled(rid)
        if self.step_hook is not None:
            self.step_hook(rid, step)
        with self.sessions.begin() as s:
            n = s.execute(
                update(InsightReport)
                .where(InsightReport.id == rid, InsightReport.status == "running")
                .values(step=step, updated_at=_now())
            ).rowcount  # type: ignore[attr-defined]
        if not n or (event is not None and event.is_set()):
            raise rp.Cancelled(rid)

    def run(self, rid: str, spec: JobSpec) -> dict[str, Any]:
        if not self._start(rid):
            raise rp.Cancelled(rid)
        bus.report_started(
            self.sessions,
            org_id=spec.org_id,
            developer_id=spec.developer_id,
            report_id=rid,
            family=spec.family,
            scope=spec.scope,
            language=spec.choice.language,
        )
        content = rp.build(
            self.sources,
            family=spec.family,
            org_id=spec.org_id,
            developer_id=spec.developer_id,
            per=spec.period,
            now=self.reader.now(),
            checkpoint=lambda step: self.checkpoint(rid, step),
        )
        content["id"] = rid
        self.checkpoint(rid, "write")
        loc = Localizer(spec.choice.language)
        writer = self.writer_factory()
        written = writer.write(content, loc)
        self.checkpoint(rid, "render")
        report = self._finish(rid, spec, content, written, loc)
        with self.sessions.begin() as s:
            n = s.execute(
                update(InsightReport)
                .where(InsightReport.id == rid, InsightReport.status == "running")
                .values(
                    status="completed",
                    step="render",
                    content=_jsonable({k: v for k, v in report.items() if k != "markdown"}),
                    markdown=report["markdown"],
                    writer=written.writer,
                    writer_version=written.version,
                    llm_input_tokens=written.input_tokens,
                    llm_output_tokens=written.output_tokens,
                    llm_cost_micro_usd=written.cost_micro_usd,
                    updated_at=_now(),
                    finished_at=_now(),
                )
            ).rowcount  # type: ignore[attr-defined]
        if not n:
            raise rp.Cancelled(rid)
        bus.report_completed(
            self.sessions,
            org_id=spec.org_id,
            developer_id=spec.developer_id,
            report_id=rid,
            family=spec.family,
            scope=spec.scope,
            headline=written.prose.headline,
        )
        return _jsonable(report)  # type: ignore[no-any-return]

    def _finish(
        self,
        rid: str,
        spec: JobSpec,
        content: dict[str, Any],
        written: Any,
        loc: Localizer,
    ) -> dict[str, Any]:
        _ = loc._
        choice = spec.choice
        note = None
        if choice.fallback:
            note = (
                f"The requested language ({choice.requested}) is not available; this report is "
                f"in English. Available: en, fr, de, es, ja, zh."
            )
        for k in content["kpis"]:
            k["label"] = _(KPI_LABELS.get(k["key"], k["key"]))
            k["format"] = KPI_FORMAT.get(k["key"], "points")
        for p in content["worst_prompts"]:
            p["advice"] = [
                {"boolean": b, "label": _(BOOLEANS[b]), "advice": _(ADVICE[b])}
                for b in p["missing"]
            ]
        report: dict[str, Any] = {
            "id": rid,
            "status": "completed",
            "scope": spec.scope,
            "language": choice.language,
            "requested_language": choice.requested,
            "language_fallback": choice.fallback,
            "language_note": note,
            "generated_at": _now(),
            "writer": {
                "name": written.writer,
                "version": written.version,
                "status": written.status,
                "note": written.note,
            },
            "llm_usage": {
                "input_tokens": written.input_tokens,
                "output_tokens": written.output_tokens,
                "cost_usd": written.cost_micro_usd / 1_000_000,
            },
            "headline": written.prose.headline,
            "summary": written.prose.summary,
            "advice": list(written.prose.advice),
            **content,
        }
        report["id"] = rid
        report["markdown"] = render_markdown(report, loc)
        return report

    def _fail(self, rid: str, spec: JobSpec, error: str) -> None:
        with self.sessions.begin() as s:
            n = s.execute(
                update(InsightReport)
                .where(InsightReport.id == rid, InsightReport.status.in_(ACTIVE))
                .values(status="failed", error=error, updated_at=_now(), finished_at=_now())
            ).rowcount  # type: ignore[attr-defined]
        if n:
            bus.report_failed(
                self.sessions,
                org_id=spec.org_id,
                developer_id=spec.developer_id,
                report_id=rid,
                error=error,
                family=spec.family,
                scope=spec.scope,
            )

    # --- reads and commands ---------------------------------------------------------------------
    def _row(self, s: Session, rid: str, developer_id: str, family: str) -> InsightReport:
        row = s.scalar(
            select(InsightReport).where(
                InsightReport.id == rid,
                InsightReport.developer_id == developer_id,
                InsightReport.family == family,
            )
        )
        if row is None:
            raise NotFound("No such report")
        return row

    def _reap(self, s: Session, row: InsightReport) -> None:
        """Mark a job whose engine stopped heartbeating as failed."""
        stale = _now() - timedelta(seconds=self.settings.report_stale_seconds)
        if row.status in ACTIVE and as_utc(row.updated_at) < stale:
            with self._lock:
                local = row.id in self.futures
            if not local:
                row.status, row.error = "failed", "the job stopped making progress"
                row.finished_at = row.updated_at = _now()

    def status(self, rid: str, developer_id: str, family: str) -> dict[str, Any]:
        with self.sessions.begin() as s:
            row = self._row(s, rid, developer_id, family)
            self._reap(s, row)
            return status_of(row)

    def pending(self, developer_id: str, family: str) -> dict[str, Any] | None:
        with self.sessions.begin() as s:
            rows = s.scalars(
                select(InsightReport)
                .where(
                    InsightReport.developer_id == developer_id,
                    InsightReport.family == family,
                    InsightReport.status.in_(ACTIVE),
                )
                .order_by(InsightReport.created_at.desc())
            ).all()
            for row in rows:
                self._reap(s, row)
            live = [r for r in rows if r.status in ACTIVE]
            return status_of(live[0]) if live else None

    def _cancel_row(self, rid: str, why: str) -> int:
        with self.sessions.begin() as s:
            return int(
                s.execute(
                    update(InsightReport)
                    .where(InsightReport.id == rid, InsightReport.status.in_(ACTIVE))
                    .values(
                        status="cancelled",
                        error=why,
                        content=None,
                        markdown=None,
                        updated_at=_now(),
                        finished_at=_now(),
                    )
                ).rowcount  # type: ignore[attr-defined]
            )

    def cancel(self, rid: str, developer_id: str, family: str) -> dict[str, Any]:
        """Idempotent: cancels a pending or running job; returns the final status either way."""
        with self.sessions() as s:
            row = self._row(s, rid, developer_id, family)
            org_id = row.org_id
            scope = row.scope
        if self._cancel_row(rid, "cancelled") and org_id:
            bus.report_failed(
                self.sessions,
                org_id=org_id,
                developer_id=developer_id,
                report_id=rid,
                error="cancelled",
                family=family,
                scope=scope,
                status="cancelled",
            )
        with self._lock:
            event = self.cancels.get(rid)
        if event is not None:
            event.set()
        return self.status(rid, developer_id, family)

    def wait(self, rid: str, timeout: float | None = None) -> None:
        """Tests and shutdown: wait for a local job's thread to finish."""
        with self._lock:
            future = self.futures.get(rid)
        if future is not None:
            try:
                future.result(timeout=timeout)
            except Exception:
                pass

    def get(self, rid: str, developer_id: str, family: str) -> dict[str, Any]:
        with self.sessions.begin() as s:
            row = self._row(s, rid, developer_id, family)
            self._reap(s, row)
            if row.status == "completed" and row.content is not None:
                return {**row.content, "markdown": row.markdown}
            if row.status in ACTIVE:
                raise Conflict(f"Report {rid} is still {row.status}; poll its status")
            raise NotFound(f"Report {rid} has no content ({row.status})")

    def latest(
        self,
        developer_id: str,
        family: str,
        scope: str,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, Any]:
        where = [
            InsightReport.developer_id == developer_id,
            InsightReport.family == family,
            InsightReport.scope == scope,
            InsightReport.status == "completed",
        ]
        if start is not None:
            where.append(InsightReport.window_from >= start)
        if end is not None:
            where.append(InsightReport.window_to <= end)
        with self.sessions() as s:
            row = s.scalar(
                select(InsightReport)
                .where(*where)
                .order_by(InsightReport.created_at.desc(), InsightReport.id)
                .limit(1)
            )
            if row is None or row.content is None:
                raise NotFound("No report yet for this scope; POST .../generate makes one")
            return {**row.content, "markdown": row.markdown}

    def history(
        self, developer_id: str, family: str, scope: str, limit: int
    ) -> list[dict[str, Any]]:
        with self.sessions() as s:
            rows = s.scalars(
                select(InsightReport)
                .where(
                    InsightReport.developer_id == developer_id,
                    InsightReport.family == family,
                    InsightReport.scope == scope,
                    InsightReport.status == "completed",
                )
                .order_by(InsightReport.created_at.desc(), InsightReport.id)
                .limit(limit)
            ).all()
            return [history_item(r) for r in rows]

    def delete(self, rid: str, developer_id: str, family: str) -> dict[str, Any]:
        """Remove a report (a running job is cancelled first)."""
        self.cancel(rid, developer_id, family)
        with self.sessions.begin() as s:
            s.execute(delete(InsightReport).where(InsightReport.id == rid))
        return {"id": rid, "deleted": True}


_SERVICE_LOCK = threading.Lock()


def service_of(state: Any, factory: Callable[[], ReportService]) -> ReportService:
    """The process's ReportService, kept on the app's state (made on first use)."""
    svc: ReportService | None = getattr(state, "prism_reports", None)
    if svc is None:
        with _SERVICE_LOCK:
            svc = getattr(state, "prism_reports", None)
            if svc is None:
                svc = factory()
                state.prism_reports = svc
    return svc


__all__ = ["JobSpec", "ReportService", "_iso", "history_item", "service_of", "status_of"]
