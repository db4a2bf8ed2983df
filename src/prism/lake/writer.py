"""The lake writer: queued batches -> Parquet files, exactly once.

One flush:
  1. claim batches; drop those the journal says are applied (redelivery, exporter retries);
  2. normalize them into rows and turn cumulative metric sums into per-interval deltas;
  3. stage one zstd Parquet file per (table, org, date) under a temporary name;
  4. in ONE metadata transaction: journal the commit (state `renaming`, its files), the applied
     batch ids and the metric series state;
  5. publish (rename) the files, mark the commit `done`;
  6. ack the batches.
A crash before 4 leaves staged files that recovery deletes; after 4, recovery finishes the
renames; after 5, redelivered batches are dropped at step 1. So every acknowledged record
reaches the lake once.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from prism.lake import schema
from prism.lake.normalize import (
    Normalized,
    NormalizeOptions,
    by_date,
    normalize,
    rows_to_table,
)
from prism.lake.storage import LakeStorage
from prism.queue.base import Claimed, Queue
from prism.store.models import LakeAppliedBatch, LakeCommit, MetricSeriesState

log = logging.getLogger(__name__)
__all__ = ["LakeWriter", "WriterStats", "parquet_bytes", "rows_to_table", "series_key"]

STAGED_GRACE_S = 600.0
APPLIED_RETENTION = timedelta(days=7)


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        row_group_size=1 << 20,
        use_dictionary=True,
        write_statistics=True,
    )
    return buf.getvalue()


def _sort_key(table: str) -> list[tuple[str, str]]:
    return [("developer_id", "ascending"), (schema.TIME_COLUMN[table], "ascending")]


def series_key(row: dict[str, Any]) -> str:
    parts = [row["developer_id"], row["name"], row.get("service_version") or ""]
    parts += [f"{k}={v}" for k, v in sorted(row["attributes"])]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class WriterStats:
    flushes: int = 0
    batches: int = 0
    duplicates: int = 0
    records: int = 0
    truncated: int = 0
    failed_batches: int = 0
    last_flush_at: float = 0.0
    files: int = 0
    history: list[float] = field(default_factory=list)


class LakeWriter:
    """Worker that drains the queue into the lake (start/stop from the worker process)."""

    name = "lake-writer"

    def __init__(
        self,
        *,
        queue: Queue,
        storage: LakeStorage,
        sessions: sessionmaker[Session],
        options: NormalizeOptions,
        flush_batches: int = 2000,
        flush_records: int = 25_000,
        idle_wait_s: float = 0.5,
        visibility_s: float = 120.0,
        nice: int = 10,
    ) -> None:
        self.queue = queue
        self.storage = storage
        self.sessions = sessions
        self.options = options
        self.flush_batches = flush_batches
        # Batches carry 1 to thousands of records: claim about `flush_records` per flush so a
        # flush's memory and duration stay bounded whatever the exporters' batch size.
        self.flush_records = flush_records
        self._records_per_batch = 100.0
        # Flushes run on one thread of their own, at a lower CPU priority (`nice`): on a box
        # where ingest and the writer share the cores, acks (which wait on a client) go first
        # and the writer, whose queue absorbs the delay, takes what is left. One thread also
        # keeps the flushes' allocations in one malloc arena.
        self.nice = nice
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lake-writer", initializer=self._lower_priority
        )
        self.idle_wait_s = idle_wait_s
        self.visibility_s = visibility_s
        self.stats = WriterStats()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.on_flush: list[Any] = []  # callbacks(list[str] developer ids) after each flush
        # hooks(session, rows by org) run inside the journal transaction (atomic with it)
        self.in_transaction: list[Any] = []

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self.recover)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self.queue.claim(self.claim_size(), self.visibility_s)
                if claimed:
                    mean = sum(c.batch.records for c in claimed) / len(claimed)
                    self._records_per_batch = max(1.0, (self._records_per_batch + mean) / 2)
                    await self.flush(claimed)
                    continue
            except Exception:  # keep draining; the batches come back after visibility
                log.exception("lake writer flush failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.idle_wait_s)
            except TimeoutError:
                pass

    def claim_size(self) -> int:
        """Batches to claim for about `flush_records` records (at most `flush_batches`)."""
        return max(1, min(self.flush_batches, int(self.flush_records / self._records_per_batch)))

    # --- one flush -------------------------------------------------------------------------------
    def _lower_priority(self) -> None:
        if self.nice and sys.platform.startswith("linux"):
            try:  # Linux: a thread id names one thread, so only the flush thread is lowered
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                log.warning("could not lower the lake writer's priority", exc_info=True)

    async def flush(self, claimed: list[Claimed]) -> None:
        loop = asyncio.get_running_loop()
        handles = await loop.run_in_executor(self._executor, self.apply, claimed)
        await self.queue.ack(handles)

    def apply(self, claimed: list[Claimed]) -> list[int | str]:
        """Steps 1-5 of the module docstring; returns the handles safe to ack."""
        ids = list({c.batch.batch_id for c in claimed})
        with self.sessions() as session:
            applied = set(
                session.scalars(
                    select(LakeAppliedBatch.batch_id).where(LakeAppliedBatch.batch_id.in_(ids))
                )
            )
        fresh: list[Claimed] = []
        seen: set[str] = set()
        for c in claimed:
            bid = c.batch.batch_id
            if bid in applied or bid in seen:
                self.stats.duplicates += 1
                continue
            seen.add(bid)
            fresh.append(c)
        if fresh:
            try:
                self._write(fresh)
            except IntegrityError:
                # Another writer applied one of these meanwhile: nothing of ours was published;
                # the batches come back and step 1 sorts them out.
                log.warning("concurrent writer applied a batch first; retrying later")
                return [c.handle for c in claimed if c.batch.batch_id in applied]
        return [c.handle for c in claimed]

    def _write(self, fresh: list[Claimed]) -> None:
        by_org: dict[str, Normalized] = defaultdict(Normalized)
        records_of: dict[str, int] = {}
        for c in fresh:
            out = by_org[c.batch.org_id]
            before = len(out)
            try:
                normalize(c.batch, self.options, out)
            except Exception:
                # Ingest validated it, so this is a bug or an exotic payload: keep the rest,
                # journal it as applied with 0 records so it is not retried forever.
                log.exception("batch %s could not be normalized; skipped", c.batch.batch_id)
                self.stats.failed_batches += 1
            records_of[c.batch.batch_id] = len(out) - before
        commit_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        files: list[str] = []
        try:
            total = self._journal(commit_id, by_org, fresh, records_of, now, files)
        except Exception:
            for rel in files:
                self.storage.discard(rel)
            raise
        self._finish(commit_id, files, [])
        self.stats.flushes += 1
        self.stats.batches += len(fresh)
        self.stats.records += total
        self.stats.truncated += sum(n.truncated for n in by_org.values())
        self.stats.files += len(files)
        self.stats.last_flush_at = time.time()
        developers = sorted({c.batch.developer_id for c in fresh})
        for callback in self.on_flush:
            callback(developers)

    def _journal(
        self,
        commit_id: str,
        by_org: dict[str, Normalized],
        fresh: list[Claimed],
        records_of: dict[str, int],
        now: datetime,
        files: list[str],
    ) -> int:
        """Stage the files (appending to `files`) and journal them in one transaction."""
        with self.sessions.begin() as session:
            states = self._metric_deltas(session, by_org)
            total = self._stage(commit_id, by_org, files)
            session.add(
                LakeCommit(
                    id=commit_id,
                    state="renaming",
                    files={"publish": files, "delete": []},
                    records=total,
                    created_at=now,
                )
            )
            session.add_all(
                LakeAppliedBatch(
                    batch_id=c.batch.batch_id,
                    commit_id=commit_id,
                    records=records_of.get(c.batch.batch_id, 0),
                    applied_at=now,
                )
                for c in fresh
            )
            for st in states:
                session.merge(st)
            for hook in self.in_transaction:
                hook(session, by_org)
        return total

    def _stage(self, commit_id: str, by_org: dict[str, Normalized], files: list[str]) -> int:
        total = 0
        for org_id, norm in by_org.items():
            for table in schema.TABLES:
                if not norm.count(table):
                    continue
                whole = norm.to_arrow(table)
                for date, part in by_date(whole, schema.TIME_COLUMN[table]).items():
                    tbl = part.sort_by(_sort_key(table))
                    rel = f"{table}/org_id={org_id}/date={date}/part-{commit_id}.parquet"
                    self.storage.stage(rel, parquet_bytes(tbl))
                    files.append(rel)
                    total += tbl.num_rows
        return total

    def _finish(self, commit_id: str, publish: list[str], remove: list[str]) -> None:
        if remove:
            with self.storage.swap_lock(exclusive=True):
                for rel in publish:
                    self.storage.publish(rel)
                for rel in remove:
                    self.storage.delete(rel)
        else:
            for rel in publish:
                self.storage.publish(rel)
        with self.sessions.begin() as session:
            commit = session.get(LakeCommit, commit_id)
            if commit is not None:
                commit.state = "done"

    def _metric_deltas(
        self, session: Session, by_org: dict[str, Normalized]
    ) -> list[MetricSeriesState]:
        """Turn cumulative sums into per-interval values, carrying state across batches."""
        cumulative = [
            r
            for n in by_org.values()
            for r in n.metrics
            if r["temporality"] == "cumulative" and r["kind"] in ("sum", "histogram")
        ]
        if not cumulative:
            return []
        for r in cumulative:
            r["_key"] = series_key(r)
        keys = list({r["_key"] for r in cumulative})
        states = {
            s.series_key: s
            for s in session.scalars(
                # Locked in key order: two writers (scale mode) must not both subtract from
                # the same last value.
                select(MetricSeriesState)
                .where(MetricSeriesState.series_key.in_(keys))
                .order_by(MetricSeriesState.series_key)
                .with_for_update()
            )
        }
        cumulative.sort(key=lambda r: r["time"])
        for r in cumulative:
            raw = r["raw_value"] or 0.0
            t_ns = int(r["time"].timestamp() * 1e9)
            st = states.get(r["_key"])
            if st is None or st.start_time_ns != r["start_ns"] or raw < st.last_value:
                r["value"] = raw  # first point of a series, or the process restarted
                st = MetricSeriesState(
                    series_key=r["_key"],
                    start_time_ns=r["start_ns"],
                    last_time_ns=t_ns,
                    last_value=raw,
                )
                states[r["_key"]] = st
            elif t_ns <= st.last_time_ns:
                r["value"] = 0.0  # a point we already counted, sent again
            else:
                r["value"] = raw - st.last_value
                st.last_time_ns, st.last_value = t_ns, raw
        return list(states.values())

    # --- recovery and housekeeping ----------------------------------------------------------
    def recover(self) -> None:
        """Finish commits a crash interrupted; delete staged files no commit owns."""
        with self.sessions() as session:
            pending = list(
                session.scalars(select(LakeCommit).where(LakeCommit.state == "renaming"))
            )
        owned: set[str] = set()
        for commit in pending:
            files = commit.files if isinstance(commit.files, dict) else {"publish": commit.files}
            owned.update(files.get("publish", []))
            self._finish(commit.id, files.get("publish", []), files.get("delete", []))
            log.info("recovered lake commit %s", commit.id)
        cutoff = time.time() - STAGED_GRACE_S
        for f in self.storage.list_staged():
            if f.path not in owned and f.mtime < cutoff:
                self.storage.discard(f.path)

    def prune_journal(self) -> int:
        """Forget applied batch ids older than any exporter would retry."""
        cutoff = datetime.now(UTC) - APPLIED_RETENTION
        with self.sessions.begin() as session:
            result = session.execute(
                delete(LakeAppliedBatch).where(LakeAppliedBatch.applied_at < cutoff)
            )
            session.execute(
                delete(LakeCommit).where(LakeCommit.state == "done", LakeCommit.created_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)
