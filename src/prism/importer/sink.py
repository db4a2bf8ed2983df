"""Writing imported events into the lake: skip what it already holds, journal the rest once.

A chunk of imported events is written with the lake writer's commit protocol (`lake/writer.py`):
staged Parquet files (one per UTC day), one metadata transaction that journals the commit, the
chunk's batch id and the sessionizer's dirty mark, then the renames; the writer's `recover()`
finishes or undoes a commit a crash interrupted. The batch id is a hash of the owner and the
chunk's files (or the request body), so a chunk applied before is dropped by the journal.

Before that, the lake is asked which join keys (`rows.event_keys`) it already has for the
chunk's sessions, OTLP rows and earlier imports alike, and those events are left out. That is
what makes importing twice add nothing, and what stores a session that arrived by OTLP first
only once, OTLP's `api_request` rows being the cost ledger. (When the transcript is imported
first and OTLP arrives later, readers prefer the live rows: `prism/lake/dedupe.py`.) Check
and write run under a per-developer lock, so two imports of one developer cannot both decide
that a key is new.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from prism.importer.rows import earliest_ns
from prism.lake.dedupe import IMPORT_BATCH_PREFIX, event_keys
from prism.lake.normalize import NormalizeOptions
from prism.lake.query import Lake
from prism.lake.storage import LakeStorage
from prism.lake.writer import LakeWriter, parquet_bytes
from prism.queue.base import Batch, Claimed, Depth
from prism.sessions.worker import mark_dirty
from prism.store.locks import shared_lock
from prism.store.models import LakeAppliedBatch, LakeCommit

log = logging.getLogger(__name__)
SESSIONS_PER_QUERY = 400
DAY = timedelta(days=1)


class _NoQueue:
    """The sink borrows a writer for its publish and recovery steps; imports use no queue."""

    async def put(self, batch: Batch) -> None:
        raise RuntimeError("the import sink has no queue")

    async def claim(self, max_batches: int, visibility_s: float = 60.0) -> list[Claimed]:
        return []

    async def ack(self, handles: list[int | str]) -> None:
        return None

    async def depth(self) -> Depth:
        return Depth(0, 0)

    async def close(self) -> None:
        return None


@dataclass
class WriteResult:
    written: int = 0
    already_there: int = 0
    duplicate_chunk: bool = False


def chunk_batch_id(developer_id: str, digest: bytes) -> str:
    """`imp-` + 60 hex digits: 64 characters like an ingest batch id, recognisable as import."""
    h = hashlib.sha256(b"prism-import\x00" + developer_id.encode() + b"\x00" + digest)
    return IMPORT_BATCH_PREFIX + h.hexdigest()[: 64 - len(IMPORT_BATCH_PREFIX)]


class LakeSink:
    """Writes chunks of imported events for one owner straight into the lake."""

    def __init__(
        self,
        *,
        storage: LakeStorage,
        sessions: sessionmaker[Session],
        lake: Lake,
        options: NormalizeOptions,
        org_id: str,
        developer_id: str,
        rollup_cache: Path | None = None,
    ) -> None:
        self.storage = storage
        # Offline on a local lake: the usage rollups of what is written are cached at once
        # (`usage/rollup.py`), so the first `prism usage` after an import needs no lake scan.
        self.rollup_cache = rollup_cache
        self.sessions = sessions
        self.lake = lake
        self.org_id = org_id
        self.developer_id = developer_id
        self.writer = LakeWriter(
            queue=_NoQueue(), storage=storage, sessions=sessions, options=options
        )

    # --- what the lake already has --------------------------------------------------------------
    def existing_keys(self, table: pa.Table) -> set[tuple[str, str]]:
        """(session id, join key) pairs the lake holds for the sessions in `table`."""
        if table.num_rows == 0:
            return set()
        lo_hi = pc.min_max(table.column("time"))
        lo = lo_hi["min"].as_py() - DAY
        hi = lo_hi["max"].as_py() + DAY
        wanted = {s for s in pc.unique(table.column("session_id")).to_pylist() if s}
        # One narrow read first: which of these sessions does the lake know at all? (On a
        # first import, none: the keys are then never read.)
        base: dict[str, Any] = {
            "org": self.org_id,
            "dev": self.developer_id,
            "d0": lo.strftime("%Y-%m-%d"),
            "d1": hi.strftime("%Y-%m-%d"),
        }
        known = self.lake.sql(
            "SELECT DISTINCT session_id FROM events WHERE org_id = $org AND developer_id = $dev "
            "AND date >= $d0 AND date <= $d1",
            dict(base),
        )
        sessions = sorted(wanted.intersection(known.column("session_id").to_pylist()))
        found: set[tuple[str, str]] = set()
        for i in range(0, len(sessions), SESSIONS_PER_QUERY):
            part = sessions[i : i + SESSIONS_PER_QUERY]
            params = dict(base)
            in_sessions = Lake._in_list("session_id", "s", part, params)
            query = (
                "SELECT session_id, event_name, prompt_id, request_id, tool_use_id, message_uuid "
                "FROM events WHERE org_id = $org AND developer_id = $dev "
                f"AND date >= $d0 AND date <= $d1 AND {in_sessions}"
            )
            found |= _keys_of(self.lake.sql(query, params))
        return found

    # --- writing --------------------------------------------------------------------------------
    def write(self, table: pa.Table, digest: bytes) -> WriteResult:
        """Write the rows of one chunk that the lake does not have yet (exactly once).

        `table` has the lake's `events` schema; its owner and batch columns are set here.
        """
        result = WriteResult()
        if table.num_rows == 0:
            return result
        batch_id = chunk_batch_id(self.developer_id, digest)
        engine = self.sessions.kw["bind"]
        with shared_lock(engine, f"import:{self.developer_id}", exclusive=True):
            with self.sessions() as session:
                if session.get(LakeAppliedBatch, batch_id) is not None:
                    result.duplicate_chunk = True
                    result.already_there = table.num_rows
                    return result
            existing = self.existing_keys(table)
            if existing:
                kept = table.filter(pa.array(keep_mask(table, existing), pa.bool_()))
            else:
                kept = table
            result.already_there = table.num_rows - kept.num_rows
            try:
                result.written = self._journal(_owned(kept, self.developer_id, batch_id), batch_id)
            except IntegrityError:
                # Journaled meanwhile by another process: nothing of ours was published.
                result.duplicate_chunk = True
                result.already_there = table.num_rows
        return result

    def _journal(self, table: pa.Table, batch_id: str) -> int:
        """The lake writer's commit protocol (`lake/writer.py`) for one chunk.

        Staged files (one per UTC day, rows sorted by time), then ONE transaction journaling
        the commit (state `renaming`, its files), the chunk's batch id and the sessionizer's
        dirty mark, then the renames. A crash in between is finished or undone by the
        writer's `recover()`, exactly as for telemetry.
        """
        commit_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        files: list[str] = []
        parts: list[tuple[str, pa.Table]] = []
        first = earliest_ns(table)
        try:
            for day, part in _days(table):
                rel = f"events/org_id={self.org_id}/date={day}/part-{commit_id}.parquet"
                self.storage.stage(rel, parquet_bytes(part))
                files.append(rel)
                parts.append((rel, part))
            with self.sessions.begin() as session:
                session.add(
                    LakeCommit(
                        id=commit_id,
                        state="renaming",
                        files={"publish": files, "delete": []},
                        records=table.num_rows,
                        created_at=now,
                    )
                )
                session.add(
                    LakeAppliedBatch(
                        batch_id=batch_id,
                        commit_id=commit_id,
                        records=table.num_rows,
                        applied_at=now,
                    )
                )
                if first is not None:
                    earliest = datetime.fromtimestamp(first // 10**9, tz=UTC)
                    mark_dirty(session, {(self.org_id, self.developer_id): earliest})
        except Exception:
            for rel in files:
                self.storage.discard(rel)
            raise
        self.writer._finish(commit_id, files, [])
        if self.rollup_cache is not None:
            from prism.usage.rollup import record_published

            record_published(self.rollup_cache, Path(self.storage.root), parts)
        return table.num_rows


def _keys_of(table: pa.Table) -> set[tuple[str, str]]:
    cols = [
        table.column(c).to_pylist()
        for c in (
            "session_id",
            "event_name",
            "prompt_id",
            "request_id",
            "tool_use_id",
            "message_uuid",
        )
    ]
    found: set[tuple[str, str]] = set()
    for sess, name, pid, rid, tid, muid in zip(*cols, strict=True):
        for key in event_keys(name, pid, rid, tid, muid):
            found.add((sess, key))
    return found


def keep_mask(table: pa.Table, existing: set[tuple[str, str]]) -> list[bool]:
    """Rows none of whose join keys `existing` holds for their session."""
    cols = [
        table.column(c).to_pylist()
        for c in (
            "session_id",
            "event_name",
            "prompt_id",
            "request_id",
            "tool_use_id",
            "message_uuid",
        )
    ]
    return [
        not any((sess, k) in existing for k in event_keys(name, pid, rid, tid, muid))
        for sess, name, pid, rid, tid, muid in zip(*cols, strict=True)
    ]


def _days(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """The table sorted by time and cut into UTC days (zero-copy slices)."""
    if table.num_rows == 0:
        return []
    table = table.sort_by([("time", "ascending")])
    us = pc.cast(table.column("time"), pa.int64())
    days = pc.divide(us, 86_400_000_000).to_pylist()
    out: list[tuple[str, pa.Table]] = []
    start = 0
    n = len(days)
    while start < n:
        day = days[start]
        end = bisect_right(days, day, start)
        label = datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")
        out.append((label, table.slice(start, end - start)))
        start = end
    return out


def _owned(table: pa.Table, developer_id: str, batch_id: str) -> pa.Table:
    n = table.num_rows
    for name, value in (("developer_id", developer_id), ("batch_id", batch_id)):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pa.array([value] * n, pa.string()))
    return table
