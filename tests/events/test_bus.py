"""Where events come from: sessionizer listeners, lake flushes, report helpers; and the tail's
ordering rules. Real SQLite store and real Parquet lake in tmp_path."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from prism.events import bus
from prism.events.stream import Tail
from prism.lake.normalize import NormalizeOptions
from prism.lake.storage import LocalStorage
from prism.lake.writer import LakeWriter
from prism.queue.base import Claimed
from prism.queue.local import LocalQueue
from prism.store.models import IntegrityFlagRow, ScoreSession, StreamEvent, SubSession
from tests.api.conftest import batch, events_payload, signal_payload
from tests.support.live_app import Store, make_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _events(store: Store) -> list[bus.Event]:
    with store.sessions() as s:
        return [
            bus.Event.from_row(r) for r in s.scalars(select(StreamEvent).order_by(StreamEvent.id))
        ]


def _arc(store: Store, who: str) -> str:
    p = store.principals[who]
    with store.sessions.begin() as s:
        s.add(
            ScoreSession(
                id="sess-1",
                org_id=p.org_id,
                developer_id=p.developer_id,
                claude_session_id="claude-1",
                started_at=T0,
                ended_at=T0 + timedelta(minutes=30),
                updated_at=T0,
            )
        )
        s.add(
            SubSession(
                id="arc-1",
                session_row_id="sess-1",
                org_id=p.org_id,
                developer_id=p.developer_id,
                claude_session_id="claude-1",
                status="open",
                started_at=T0,
                ended_at=T0 + timedelta(minutes=30),
                content_hash="h",
                title="Fix the flaky test",
                prompt_count=3,
                created_at=T0,
                updated_at=T0,
            )
        )
    return "arc-1"


def test_sessionizer_listener_publishes_sub_session_and_integrity_events(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(tmp_path)
    store.key("alice")
    arc = _arc(store, "alice")
    listener = bus.publisher(store.sessions)
    listener("created", {"id": arc, "developer_id": "x"})
    with store.sessions.begin() as s:
        row = s.get(SubSession, arc)
        assert row is not None
        row.status, row.crushed, row.letter_grade, row.outcome = "scored", False, "B", "partial"
        s.add(
            IntegrityFlagRow(
                id=f"{arc}:auto_retry_storm",
                sub_session_id=arc,
                developer_id=row.developer_id,
                kind="auto_retry_storm",
                blocking=True,
                detail="6 identical prompts in 4 minutes",
                at=T0 + timedelta(minutes=10),
            )
        )
    listener("scored", {"id": arc, "developer_id": "x"})
    listener("scored", {"id": "gone", "developer_id": "x"})  # deleted meanwhile: nothing
    got = _events(store)
    assert [e.type for e in got] == [
        bus.SUB_SESSION_CREATED,
        bus.SUB_SESSION_SCORED,
        bus.INTEGRITY_FLAGGED,
    ]
    alice = store.principals["alice"]
    assert {(e.org_id, e.developer_id) for e in got} == {(alice.org_id, alice.developer_id)}
    assert got[0].data["status"] == "open" and got[0].data["title"] == "Fix the flaky test"
    assert got[1].data["letter_grade"] == "B" and got[1].data["crushed"] is False
    assert got[2].data["kind"] == "auto_retry_storm" and got[2].data["blocking"] is True
    assert got[0].id < got[1].id < got[2].id


def test_lake_flush_publishes_one_telemetry_event_per_developer_with_counts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(tmp_path)
    store.key("alice")
    store.key("bob")
    a, b = store.principals["alice"], store.principals["bob"]
    queue = LocalQueue(store.settings.queue_path)
    writer = LakeWriter(
        queue=queue,
        storage=LocalStorage(store.settings.lake_root),
        sessions=store.sessions,
        options=NormalizeOptions(),
    )
    telemetry = bus.TelemetryEvents(store.sessions)
    writer.in_transaction.append(telemetry.count)
    writer.on_flush.append(telemetry.publish)
    day = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    batches = [
        batch(
            "logs",
            events_payload([("user_prompt", day, "s1", 0), ("api_request", day, "s1", 1)]),
            a,
        ),
        batch("metrics", signal_payload("metrics", "s1", day), a),
        batch("logs", events_payload([("user_prompt", day, "s2", 0)]), b),
    ]
    try:
        writer.apply([Claimed(i, bt) for i, bt in enumerate(batches)])
        writer.apply([Claimed(9, batches[0])])  # a redelivered batch writes nothing: no event
    finally:
        asyncio.run(queue.close())
    got = {e.developer_id: e for e in _events(store)}
    assert set(got) == {a.developer_id, b.developer_id}
    assert got[a.developer_id].type == bus.TELEMETRY_RECEIVED
    assert got[a.developer_id].data == {"logs": 2, "metrics": 1, "spans": 0, "records": 3}
    assert got[b.developer_id].data == {"logs": 1, "metrics": 0, "spans": 0, "records": 1}


def test_report_helpers_and_unknown_types(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(tmp_path)
    store.key("alice")
    p = store.principals["alice"]
    ids = [
        bus.report_started(
            store.sessions,
            org_id=p.org_id,
            developer_id=p.developer_id,
            report_id="r",
            scope="personal",
        ),
        bus.report_failed(
            store.sessions,
            org_id=p.org_id,
            developer_id=p.developer_id,
            report_id="r",
            error="LLM timed out",
        ),
    ]
    got = _events(store)
    assert [e.id for e in got] == ids
    assert got[0].data == {"report_id": "r", "scope": "personal"}
    assert got[1].type == "report.failed" and got[1].data["error"] == "LLM timed out"
    try:
        bus.publish(store.sessions, "nope", org_id=p.org_id, developer_id=None, data={})
    except ValueError:
        pass
    else:
        raise AssertionError("unknown event types must be refused")


def test_tail_holds_back_behind_a_gap_until_its_grace_ends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Out-of-order commits (PostgreSQL) leave a gap for a moment; the tail waits for it."""
    store = make_store(tmp_path)
    store.key("alice")
    p = store.principals["alice"]
    ids = [
        bus.publish(
            store.sessions,
            bus.TELEMETRY_RECEIVED,
            org_id=p.org_id,
            developer_id=p.developer_id,
            data={},
        )
        for _ in range(4)
    ]
    with store.sessions.begin() as s:  # simulate id 2 not committed yet
        s.delete(s.get(StreamEvent, ids[1]))
    waiting = Tail(store.sessions, gap_grace_s=3600)
    events, cursor = waiting.read(0)
    assert [e.id for e in events] == ids[:1] and cursor == ids[0]
    skipping = Tail(store.sessions, gap_grace_s=0)
    events, cursor = skipping.read(0)
    assert [e.id for e in events] == [ids[0], ids[2], ids[3]] and cursor == ids[3]


def test_retention_prunes_old_events_and_ids_never_repeat(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(tmp_path)
    store.key("alice")
    p = store.principals["alice"]
    first = bus.publish(
        store.sessions,
        bus.TELEMETRY_RECEIVED,
        org_id=p.org_id,
        developer_id=p.developer_id,
        data={},
    )
    assert bus.prune(store.sessions, older_than=timedelta(seconds=-1)) == 1
    assert _events(store) == []
    again = bus.publish(
        store.sessions,
        bus.TELEMETRY_RECEIVED,
        org_id=p.org_id,
        developer_id=p.developer_id,
        data={},
    )
    assert again > first  # AUTOINCREMENT: an emptied log does not restart at 1
