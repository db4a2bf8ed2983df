"""Writing events: one append-only table in the metadata store, so every process can publish
and every engine process (and the webhook sender) can read, in one order, without a broker.

`publish` writes in its own transaction; `record` adds the event to the caller's transaction so
it commits (or not) with the change it describes. On PostgreSQL the insert also NOTIFYs channel
`prism_events`, which wakes tailing engines at once; on SQLite they poll.

The helpers below are what other parts call: `sub_session_event`, `report_started` /
`report_completed` / `report_failed`, `integrity_flagged`, and `TelemetryEvents` for the lake
writer's hooks. `publisher(sessions)` is the sessionizer listener.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from prism.metrics import EVENTS_PUBLISHED, LAKE_RECORDS
from prism.store.models import IntegrityFlagRow, StreamEvent, SubSession

log = logging.getLogger(__name__)

SUB_SESSION_CREATED = "prism.score_v3.sub_session.created"
SUB_SESSION_UPDATED = "prism.score_v3.sub_session.updated"
SUB_SESSION_SCORED = "prism.score_v3.sub_session.scored"
REPORT_STARTED = "report.started"
REPORT_COMPLETED = "report.completed"
REPORT_FAILED = "report.failed"
INTEGRITY_FLAGGED = "integrity.flagged"
TELEMETRY_RECEIVED = "telemetry.received"
EVENT_TYPES = (
    SUB_SESSION_CREATED,
    SUB_SESSION_UPDATED,
    SUB_SESSION_SCORED,
    REPORT_STARTED,
    REPORT_COMPLETED,
    REPORT_FAILED,
    INTEGRITY_FLAGGED,
    TELEMETRY_RECEIVED,
)
NOTIFY_CHANNEL = "prism_events"


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else _utc(t).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One event as read back from the log; `body()` is what SSE `data:` and webhooks carry."""

    id: int
    type: str
    org_id: str
    developer_id: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: StreamEvent) -> Event:
        return cls(
            id=int(row.id),
            type=row.type,
            org_id=row.org_id,
            developer_id=row.developer_id,
            data=dict(row.data or {}),
            created_at=_utc(row.created_at),
        )

    def body(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "created_at": _iso(self.created_at),
            "org_id": self.org_id,
            "developer_id": self.developer_id,
            "data": self.data,
        }

    def json(self) -> bytes:
        return orjson.dumps(self.body())

    def frame(self) -> bytes:
        """The SSE frame, encoded once however many clients it goes to."""
        cached: bytes | None = self.__dict__.get("_frame")
        if cached is None:
            cached = b"id: %d\nevent: %s\ndata: %s\n\n" % (
                self.id,
                self.type.encode(),
                self.json(),
            )
            self.__dict__["_frame"] = cached
        return cached


def record(
    session: Session,
    type_: str,
    *,
    org_id: str,
    developer_id: str | None,
    data: Mapping[str, Any],
) -> StreamEvent:
    """Add an event to the caller's transaction (it is visible once that commits)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    row = StreamEvent(
        type=type_,
        org_id=org_id,
        developer_id=developer_id,
        data=orjson.loads(orjson.dumps(dict(data))),  # JSON-safe now, not at commit
        created_at=datetime.now(UTC),
    )
    session.add(row)
    EVENTS_PUBLISHED.labels(type_).inc()
    if session.get_bind().dialect.name == "postgresql":
        # Delivered at commit, so a listener never sees an id before its row is readable.
        session.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})
    return row


def publish(
    sessions: sessionmaker[Session],
    type_: str,
    *,
    org_id: str,
    developer_id: str | None,
    data: Mapping[str, Any],
) -> int:
    """Write one event in its own transaction; returns its id."""
    with sessions.begin() as s:
        row = record(s, type_, org_id=org_id, developer_id=developer_id, data=data)
        s.flush()
        return int(row.id)


def latest_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.max(StreamEvent.id))) or 0)


def prune(sessions: sessionmaker[Session], *, older_than: timedelta) -> int:
    """Delete events past retention; returns how many went."""
    cutoff = datetime.now(UTC) - older_than
    with sessions.begin() as s:
        result = s.execute(delete(StreamEvent).where(StreamEvent.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


# --- sub-sessions -------------------------------------------------------------------------------


def sub_session_data(row: SubSession) -> dict[str, Any]:
    """What a sub-session event says: enough for a dashboard row without another request."""
    return {
        "score_v3_sub_session_id": row.id,
        "claude_session_id": row.claude_session_id,
        "status": row.status,
        "title": row.title,
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.ended_at),
        "prompt_count": row.prompt_count,
        "qualifying": row.qualifying,
        "crushed": row.crushed,
        "outcome": row.outcome,
        "intent_class": row.intent_class,
        "letter_grade": row.letter_grade,
        "judge_status": row.judge_status,
    }


def sub_session_event(session: Session, kind: str, sub_session_id: str) -> list[StreamEvent]:
    """Record `prism.score_v3.sub_session.<kind>` (created | updated | scored) in the caller's
    transaction; a scored arc also records one `integrity.flagged` per flag it carries."""
    type_ = {
        "created": SUB_SESSION_CREATED,
        "updated": SUB_SESSION_UPDATED,
        "scored": SUB_SESSION_SCORED,
    }[kind]
    row = session.get(SubSession, sub_session_id)
    if row is None:  # deleted meanwhile (a rebuild merged it away): nothing to tell
        return []
    out = [
        record(
            session,
            type_,
            org_id=row.org_id,
            developer_id=row.developer_id,
            data=sub_session_data(row),
        )
    ]
    if kind == "scored":
        flags = session.scalars(
            select(IntegrityFlagRow).where(IntegrityFlagRow.sub_session_id == row.id)
        ).all()
        for flag in flags:
            out.append(
                record(
                    session,
                    INTEGRITY_FLAGGED,
                    org_id=row.org_id,
                    developer_id=row.developer_id,
                    data={
                        "score_v3_sub_session_id": row.id,
                        "kind": flag.kind,
                        "blocking": flag.blocking,
                        "detail": flag.detail,
                        "at": _iso(flag.at),
                        "title": row.title,
                    },
                )
            )
    return out


def publisher(sessions: sessionmaker[Session]) -> Callable[[str, dict[str, Any]], None]:
    """A sessionizer listener: ("created" | "scored", {"id", ...}) -> events in the log.

    Runs in the sessionizer's thread after its transaction committed; a failure here is logged
    and never breaks sessionizing.
    """

    def listener(kind: str, payload: dict[str, Any]) -> None:
        try:
            with sessions.begin() as s:
                sub_session_event(s, kind, str(payload["id"]))
        except Exception:
            log.exception("could not publish sub-session event %s %s", kind, payload.get("id"))

    return listener


# --- reports (called by the report runner) --------------------------------------------------------


def _report(
    sessions: sessionmaker[Session],
    type_: str,
    *,
    org_id: str,
    developer_id: str | None,
    report_id: str,
    extra: Mapping[str, Any],
) -> int:
    return publish(
        sessions,
        type_,
        org_id=org_id,
        developer_id=developer_id,
        data={"report_id": report_id, **extra},
    )


def report_started(
    sessions: sessionmaker[Session],
    *,
    org_id: str,
    developer_id: str | None,
    report_id: str,
    **extra: Any,
) -> int:
    """`report.started`; extra keys (scope, from, to, ...) go into `data`."""
    return _report(
        sessions,
        REPORT_STARTED,
        org_id=org_id,
        developer_id=developer_id,
        report_id=report_id,
        extra=extra,
    )


def report_completed(
    sessions: sessionmaker[Session],
    *,
    org_id: str,
    developer_id: str | None,
    report_id: str,
    **extra: Any,
) -> int:
    return _report(
        sessions,
        REPORT_COMPLETED,
        org_id=org_id,
        developer_id=developer_id,
        report_id=report_id,
        extra=extra,
    )


def report_failed(
    sessions: sessionmaker[Session],
    *,
    org_id: str,
    developer_id: str | None,
    report_id: str,
    error: str,
    **extra: Any,
) -> int:
    return _report(
        sessions,
        REPORT_FAILED,
        org_id=org_id,
        developer_id=developer_id,
        report_id=report_id,
        extra={"error": error[:500], **extra},
    )


# --- telemetry ------------------------------------------------------------------------------------


class TelemetryEvents:
    """`telemetry.received`, batched: one event per developer per lake flush, with counts.

    `count` is a lake writer `in_transaction` hook (it sees the rows); `publish` an `on_flush`
    callback (it runs once the files are in place, so a client reacting to the event finds the
    rows). A flush whose transaction failed never reaches `publish`, and the next `count`
    replaces what it left.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._pending: dict[tuple[str, str], Counter[str]] = {}

    def count(self, _session: Session, by_org: Mapping[str, Any]) -> None:
        pending: dict[tuple[str, str], Counter[str]] = {}
        for org_id, norm in by_org.items():
            for dev, n in Counter(norm.events.column("developer_id")).items():
                pending.setdefault((org_id, dev), Counter())["logs"] += n
            for table, rows in (("metrics", norm.metrics), ("spans", norm.spans)):
                for dev, n in Counter(r["developer_id"] for r in rows).items():
                    pending.setdefault((org_id, dev), Counter())[table] += n
        self._pending = pending

    def publish(self, _developers: list[str]) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        for counts in pending.values():
            for table, n in counts.items():
                LAKE_RECORDS.labels(table).inc(n)
        try:
            with self.sessions.begin() as s:
                for (org_id, dev), counts in sorted(pending.items()):
                    record(
                        s,
                        TELEMETRY_RECEIVED,
                        org_id=org_id,
                        developer_id=dev,
                        data={
                            "logs": counts.get("logs", 0),
                            "metrics": counts.get("metrics", 0),
                            "spans": counts.get("spans", 0),
                            "records": sum(counts.values()),
                        },
                    )
        except Exception:
            log.exception("could not publish telemetry.received")
