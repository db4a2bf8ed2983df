"""The lake writer on real Parquet: exactly once, crash recovery, compaction, metric deltas."""

from __future__ import annotations

import asyncio
import io
import os
import re
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from prism.lake import schema
from prism.lake.compact import Compactor
from prism.lake.normalize import Normalized, NormalizeOptions, normalize
from prism.lake.query import Filters, Lake
from prism.lake.storage import LocalStorage, temp_name
from prism.lake.writer import STAGED_GRACE_S, LakeWriter, parquet_bytes, rows_to_table
from prism.queue.base import Batch, Claimed
from prism.queue.local import LocalQueue
from prism.store.db import make_engine, session_factory
from prism.store.models import LakeAppliedBatch, LakeCommit, MetricSeriesState

from .conftest import Otlp, put, utc, write

DAY1 = utc("2025-03-04T10:00:00")
DAY2 = utc("2025-03-05T09:30:00")


def events_batch(
    n: int, *, at: datetime = DAY1, org: str = "org-1", dev: str = "dev-a", tag: str = ""
) -> Batch:
    """n Claude Code events with unique prompt ids (so duplicates are countable)."""
    records = [
        Otlp.event(
            "api_request",
            at + timedelta(seconds=i),
            **{"session.id": "s1", "prompt.id": f"{tag}{uuid.uuid4()}", "event.sequence": i},
        )
        for i in range(n)
    ]
    return Otlp.batch("logs", Otlp.logs(records), org=org, dev=dev)


def total(lake: Lake, org: str = "org-1") -> tuple[int, int]:
    """(rows, distinct prompt ids) of an org's events."""
    t = lake.sql(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT prompt_id) AS d FROM events WHERE org_id = $org",
        {"org": org},
    )
    return t.column("n")[0].as_py(), t.column("d")[0].as_py()


def applied_ids(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(LakeAppliedBatch.batch_id)))


# --- layout ---------------------------------------------------------------------------------------


def test_flush_writes_hive_partitioned_parquet_and_acks(
    queue: LocalQueue, writer: LakeWriter, storage: LocalStorage, lake: Lake
) -> None:
    put(
        queue,
        events_batch(3, at=DAY1),
        events_batch(2, at=DAY2),
        events_batch(4, at=DAY1, org="org-2", dev="dev-x"),
        Otlp.batch(
            "metrics",
            Otlp.metrics(
                [
                    Otlp.sum_metric(
                        "claude_code.session.count", [(DAY1, DAY1, 1.0, {})], temporality=1
                    )
                ]
            ),
        ),
        Otlp.batch(
            "traces",
            Otlp.spans([Otlp.span("ab" * 16, "cd" * 8, "claude_code.llm_request", DAY2, 12.5)]),
        ),
    )
    claimed = queue.claim_sync(100)
    asyncio.run(writer.flush(claimed))
    assert queue.depth_sync().batches == 0  # acked after the lake commit

    part = r"part-[0-9a-f-]{36}\.parquet"
    files = sorted(f.path for t in schema.TABLES for f in storage.list(t))
    expected = [
        "events/org_id=org-1/date=2025-03-04",
        "events/org_id=org-1/date=2025-03-05",
        "events/org_id=org-2/date=2025-03-04",
        "metrics/org_id=org-1/date=2025-03-04",
        "spans/org_id=org-1/date=2025-03-05",
    ]
    assert len(files) == len(expected)
    for path, prefix in zip(files, expected, strict=True):
        assert re.fullmatch(re.escape(prefix) + "/" + part, path), path
    # the partition columns live in the path, not in the files
    for f in files:
        table = f.split("/", 1)[0]
        names = pq.read_schema(io.BytesIO(storage.read(f))).names
        assert names == schema.TABLES[table].names
    assert total(lake) == (5, 5)
    assert total(lake, "org-2") == (4, 4)
    assert lake.count("metrics", "org-1") == 1 and lake.count("spans", "org-1") == 1
    assert storage.list_staged() == []
    with writer.sessions() as s:
        assert [c.state for c in s.scalars(select(LakeCommit))] == ["done"]
    assert writer.stats.batches == 5 and writer.stats.records == 11


# --- exactly once ---------------------------------------------------------------------------------


def test_a_batch_claimed_twice_is_applied_once(
    queue: LocalQueue, writer: LakeWriter, lake: Lake, sessions: sessionmaker[Session]
) -> None:
    batch = events_batch(4)
    put(queue, batch)
    first = queue.claim_sync(10, visibility_s=0)  # expires at once: as if the writer died
    writer.apply(first)  # written to the lake, but never acked
    again = queue.claim_sync(10)
    assert [c.batch.batch_id for c in again] == [batch.batch_id]  # redelivered
    handles = writer.apply(again)
    assert handles == [again[0].handle]  # safe to ack: it is already in the lake
    asyncio.run(queue.ack(handles))
    assert total(lake) == (4, 4)
    assert writer.stats.duplicates == 1
    assert applied_ids(sessions) == [batch.batch_id]


def test_an_exporter_retry_of_the_same_body_is_applied_once(
    queue: LocalQueue, writer: LakeWriter, lake: Lake
) -> None:
    batch = events_batch(3)
    put(queue, batch, batch)  # the exporter timed out and sent the same body again
    both = queue.claim_sync(10)
    assert len(both) == 2
    assert sorted(writer.apply(both)) == sorted(c.handle for c in both)  # both ackable
    asyncio.run(queue.ack([c.handle for c in both]))
    put(queue, batch)  # and once more, after it was applied and acked
    asyncio.run(writer.flush(queue.claim_sync(10)))
    assert total(lake) == (3, 3)
    assert queue.depth_sync().batches == 0
    assert writer.stats.duplicates == 2


def test_a_concurrent_writer_that_lost_the_race_publishes_nothing(
    queue: LocalQueue, storage: LocalStorage, sessions: sessionmaker[Session], lake: Lake
) -> None:
    batch = events_batch(2)
    opts = NormalizeOptions()
    one = LakeWriter(queue=queue, storage=storage, sessions=sessions, options=opts)
    two = LakeWriter(queue=queue, storage=storage, sessions=sessions, options=opts)
    claimed = [Claimed(1, batch)]
    one.apply(claimed)
    # `two` read the journal before `one` committed: it goes on to write the same batch
    with pytest.raises(IntegrityError):
        two._write(claimed)
    assert storage.list_staged() == []
    assert total(lake) == (2, 2)
    assert len(storage.list("events")) == 1


def test_an_unreadable_batch_is_journaled_and_does_not_block_the_rest(
    writer: LakeWriter, lake: Lake, sessions: sessionmaker[Session]
) -> None:
    good = events_batch(2)
    bad = Batch("bad-batch", "logs", "json", "org-1", "dev-a", time.time_ns(), 1, b"{not json")
    write(writer, good, bad)
    assert total(lake) == (2, 2)
    assert writer.stats.failed_batches == 1
    assert sorted(applied_ids(sessions)) == sorted([good.batch_id, "bad-batch"])
    assert write(writer, bad) == [0]  # not retried forever


# --- crash recovery -------------------------------------------------------------------------------


def _stage_and_journal(writer: LakeWriter, batches: list[Batch]) -> tuple[str, list[str]]:
    """Steps 1-4 of a flush, then 'crash': journaled, files staged, nothing renamed."""
    fresh = [Claimed(i, b) for i, b in enumerate(batches)]
    by_org: dict[str, Normalized] = defaultdict(Normalized)
    records_of = {}
    for c in fresh:
        out = by_org[c.batch.org_id]
        normalize(c.batch, writer.options, out)
        records_of[c.batch.batch_id] = len(out.events)
    commit_id = str(uuid.uuid4())
    files: list[str] = []
    writer._journal(commit_id, by_org, fresh, records_of, datetime.now(UTC), files)
    return commit_id, files


def test_recovery_publishes_a_commit_journaled_before_the_crash(
    queue: LocalQueue, storage: LocalStorage, sessions: sessionmaker[Session], db_path: Path
) -> None:
    crashed = LakeWriter(
        queue=queue, storage=storage, sessions=sessions, options=NormalizeOptions()
    )
    batch = events_batch(5, at=DAY1)
    other_day = events_batch(2, at=DAY2)
    commit_id, files = _stage_and_journal(crashed, [batch, other_day])
    assert len(files) == 2
    assert {f.path for f in storage.list_staged()} == set(files)
    assert storage.list("events") == []
    assert total(Lake(storage)) == (0, 0)  # staged files are invisible

    # a new process: its own engine, writer and query context
    engine = make_engine(f"sqlite:///{db_path}")
    try:
        restarted = LakeWriter(
            queue=queue,
            storage=storage,
            sessions=session_factory(engine),
            options=NormalizeOptions(),
        )
        restarted.recover()
        assert sorted(f.path for f in storage.list("events")) == sorted(files)
        assert storage.list_staged() == []
        assert total(Lake(storage)) == (7, 7)
        with restarted.sessions() as s:
            assert s.get(LakeCommit, commit_id).state == "done"  # type: ignore[union-attr]
        # the queue redelivers the unacked batches: they are recognised as applied
        assert sorted(write(restarted, batch, other_day)) == [0, 1]
        assert restarted.stats.duplicates == 2
        restarted.recover()  # recovering twice changes nothing
        assert total(Lake(storage)) == (7, 7)
    finally:
        engine.dispose()


def test_recovery_completes_a_commit_whose_renames_had_partly_happened(
    writer: LakeWriter, storage: LocalStorage, lake: Lake
) -> None:
    commit_id, files = _stage_and_journal(
        writer, [events_batch(3, at=DAY1), events_batch(4, at=DAY2)]
    )
    assert storage.publish(files[0])  # crash after the first rename, before `done`
    writer.recover()
    assert sorted(f.path for f in storage.list("events")) == sorted(files)
    assert total(lake) == (7, 7)
    with writer.sessions() as s:
        assert s.get(LakeCommit, commit_id).state == "done"  # type: ignore[union-attr]


def test_recovery_discards_old_unjournaled_staged_files_only(
    writer: LakeWriter, storage: LocalStorage, lake: Lake, sessions: sessionmaker[Session]
) -> None:
    # a crash before the journal commit: staged files that no commit owns
    table = rows_to_table("events", [])
    old = "events/org_id=org-1/date=2025-03-04/part-old.parquet"
    young = "events/org_id=org-1/date=2025-03-04/part-young.parquet"
    storage.stage(old, parquet_bytes(table))
    storage.stage(young, parquet_bytes(table))  # maybe another writer's flush in progress
    past = time.time() - STAGED_GRACE_S - 60
    os.utime(Path(storage.root) / temp_name(old), (past, past))
    writer.recover()
    assert [f.path for f in storage.list_staged()] == [young]
    assert storage.list("events") == []
    assert applied_ids(sessions) == []  # nothing was journaled, so the batch will be re-applied


def test_no_half_written_parquet_is_ever_visible(
    writer: LakeWriter, storage: LocalStorage, lake: Lake
) -> None:
    write(writer, events_batch(6))
    assert total(lake) == (6, 6)
    # a writer mid-way through staging: a temp file holding half a Parquet file
    half = parquet_bytes(rows_to_table("events", [{"prompt_id": "x", "developer_id": "d"}] * 50))
    tmp = Path(storage.root) / temp_name("events/org_id=org-1/date=2025-03-04/part-half.parquet")
    tmp.write_bytes(half[: len(half) // 2])

    big = parquet_bytes(
        rows_to_table("events", [{"prompt_id": str(i), "developer_id": "d"} for i in range(20_000)])
    )
    stop = threading.Event()
    staging = threading.Event()
    errors: list[BaseException] = []
    staged = 0

    def keep_staging() -> None:
        nonlocal staged
        try:
            while not stop.is_set():
                rel = f"events/org_id=org-1/date=2025-03-04/part-{uuid.uuid4()}.parquet"
                storage.stage(rel, big)
                staging.set()
                storage.discard(rel)
                staged += 1
        except BaseException as exc:
            errors.append(exc)
            staging.set()

    stager = threading.Thread(target=keep_staging)
    stager.start()
    try:
        assert staging.wait(30)
        seen = {total(lake) for _ in range(25)}
        rows = lake.telemetry("events", Filters("org-1", None))
    finally:
        stop.set()
        stager.join(30)
    assert errors == []
    assert staged > 0
    assert seen == {(6, 6)}
    assert len(rows) == 6


# --- compaction -----------------------------------------------------------------------------------


def test_compaction_merges_small_files_and_readers_never_see_duplicates(
    writer: LakeWriter, storage: LocalStorage, lake: Lake, sessions: sessionmaker[Session]
) -> None:
    per_flush = 3
    flushes = 8
    for i in range(flushes):  # each flush writes one small file per partition
        write(
            writer,
            events_batch(per_flush, at=DAY1, tag=f"{i}a"),
            events_batch(per_flush, at=DAY2, tag=f"{i}b"),
            events_batch(per_flush, at=DAY1, org="org-2", dev="dev-x", tag=f"{i}c"),
        )
    assert len(storage.list("events")) == 3 * flushes
    expected = {"org-1": (2 * per_flush * flushes,) * 2, "org-2": (per_flush * flushes,) * 2}

    reader = Lake(storage)  # another reader with its own DataFusion context
    stop = threading.Event()
    first_read = threading.Event()
    observed: list[tuple[str, tuple[int, int]]] = []
    errors: list[BaseException] = []

    def read_continuously() -> None:
        try:
            while not stop.is_set():
                for org in ("org-1", "org-2"):
                    observed.append((org, total(reader, org)))
                first_read.set()
        except BaseException as exc:
            errors.append(exc)
            first_read.set()

    thread = threading.Thread(target=read_continuously)
    thread.start()
    try:
        assert first_read.wait(30)
        compactor = Compactor(
            storage=storage, sessions=sessions, writer=writer, min_files=4, min_age_s=0
        )
        before = len(observed)
        assert compactor.run_once(time.time()) == 3
        reads_during = len(observed) - before
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert reads_during > 0, "no query overlapped the compaction"
    bad = [(org, got) for org, got in observed if got != expected[org]]
    assert bad == [], f"a reader saw a partial or doubled lake: {bad[:5]}"
    files = storage.list("events")
    assert len(files) == 3  # one per partition
    assert {f.path.rsplit("/", 1)[0] for f in files} == {
        "events/org_id=org-1/date=2025-03-04",
        "events/org_id=org-1/date=2025-03-05",
        "events/org_id=org-2/date=2025-03-04",
    }
    for org, want in expected.items():
        assert total(lake, org) == want
    # merged files stay sorted by developer, then time
    merged = pq.read_table(io.BytesIO(storage.read(files[0].path)))
    times = merged.column("time").to_pylist()
    assert times == sorted(times)
    with sessions() as s:
        assert set(s.scalars(select(LakeCommit.state))) == {"done"}
    assert compactor.run_once(time.time()) == 0  # nothing small enough in numbers any more


def test_compaction_leaves_partitions_with_few_files_alone(
    writer: LakeWriter, storage: LocalStorage, sessions: sessionmaker[Session]
) -> None:
    for _ in range(3):
        write(writer, events_batch(1))
    compactor = Compactor(
        storage=storage, sessions=sessions, writer=writer, min_files=4, min_age_s=0
    )
    assert compactor.run_once(time.time()) == 0
    assert len(storage.list("events")) == 3
    young = Compactor(
        storage=storage, sessions=sessions, writer=writer, min_files=2, min_age_s=3600
    )
    assert young.run_once(time.time()) == 0  # files younger than min_age_s are left alone


# --- cumulative metrics -> deltas -----------------------------------------------------------------


def _metric_values(lake: Lake, name: str) -> list[tuple[str | None, float, float]]:
    t = lake.sql(
        "SELECT type, value, raw_value FROM metrics WHERE org_id = 'org-1' AND name = $name "
        "ORDER BY time, type, value DESC",
        {"name": name},
    )
    return list(
        zip(*(t.column(c).to_pylist() for c in ("type", "value", "raw_value")), strict=True)
    )


def test_cumulative_sums_become_deltas_across_batches_and_restarts(
    queue: LocalQueue,
    storage: LocalStorage,
    sessions: sessionmaker[Session],
    lake: Lake,
    db_path: Path,
) -> None:
    name = "claude_code.token.usage"
    start = utc("2025-03-04T10:00:00")
    t = [start + timedelta(minutes=i) for i in range(1, 8)]
    inp = {"type": "input", "session.id": "s1"}
    out = {"type": "output", "session.id": "s1"}

    def batch(*points: tuple[datetime, datetime, float, dict[str, str]]) -> Batch:
        return Otlp.batch("metrics", Otlp.metrics([Otlp.sum_metric(name, list(points))]))

    w1 = LakeWriter(queue=queue, storage=storage, sessions=sessions, options=NormalizeOptions())
    write(w1, batch((start, t[0], 10.0, inp), (start, t[0], 4.0, out)))
    # two points of one series in one batch, given out of order
    write(w1, batch((start, t[2], 25.0, inp), (start, t[1], 15.0, inp), (start, t[1], 4.0, out)))

    # restart: a new process with its own engine; the series state lives in the store
    engine = make_engine(f"sqlite:///{db_path}")
    try:
        w2 = LakeWriter(
            queue=queue,
            storage=storage,
            sessions=session_factory(engine),
            options=NormalizeOptions(),
        )
        write(w2, batch((start, t[3], 31.0, inp)))
        write(w2, batch((start, t[3], 31.0, inp), (start, t[4], 31.0, inp)))  # re-sent + flat
        # the agent restarted: a new start time, counting from zero again
        new_start = t[4] + timedelta(seconds=30)
        write(w2, batch((new_start, t[5], 3.0, inp)))
        # a counter that went down without a new start time is a reset too
        write(w2, batch((new_start, t[6], 1.0, inp)))
    finally:
        engine.dispose()

    assert _metric_values(lake, name) == [
        ("input", 10.0, 10.0),
        ("output", 4.0, 4.0),
        ("input", 5.0, 15.0),
        ("output", 0.0, 4.0),
        ("input", 10.0, 25.0),
        ("input", 6.0, 31.0),
        ("input", 0.0, 31.0),  # the same point sent again adds nothing
        ("input", 0.0, 31.0),
        ("input", 3.0, 3.0),
        ("input", 1.0, 1.0),
    ]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MetricSeriesState)) == 2


def test_delta_sums_and_gauges_pass_through(writer: LakeWriter, lake: Lake) -> None:
    start = utc("2025-03-04T10:00:00")
    points = [
        (start, start + timedelta(minutes=i), v, {"type": "x"}) for i, v in ((1, 7.0), (2, 3.0))
    ]
    write(
        writer,
        Otlp.batch(
            "metrics",
            Otlp.metrics(
                [
                    Otlp.sum_metric("delta.sum", points, temporality=1),
                    Otlp.sum_metric("a.gauge", points, kind="gauge"),
                ]
            ),
        ),
    )
    assert _metric_values(lake, "delta.sum") == [("x", 7.0, 7.0), ("x", 3.0, 3.0)]
    assert _metric_values(lake, "a.gauge") == [("x", 7.0, 7.0), ("x", 3.0, 3.0)]
