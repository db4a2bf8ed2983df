"""Embedded durable queue: one SQLite file in WAL mode with synchronous=FULL.

Durability costs one fsync per commit, so `put` does not commit by itself: a committer thread
gathers every batch that arrived during the last few milliseconds into one transaction (group
commit) and then releases all their waiters. Several processes may open the same file (ingest
puts, the worker claims): SQLite's locking arbitrates.

Payloads are stored lz4-compressed (OTLP repeats every attribute key in every record, so a
batch shrinks several times for ~30 us of CPU): the bytes each fsync and each checkpoint must
write, and so the ack latency under load, shrink with them. `codec` says how a row is stored;
rows written before it existed are raw.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from prism.queue.base import Batch, Claimed, Depth, QueueFull

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL,
    signal TEXT NOT NULL,
    encoding TEXT NOT NULL,
    org_id TEXT NOT NULL,
    developer_id TEXT NOT NULL,
    received_at_ns INTEGER NOT NULL,
    records INTEGER NOT NULL,
    size INTEGER NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    payload BLOB NOT NULL,
    codec TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS ix_batches_claimed ON batches (claimed_until, seq);
-- covers the backpressure check (COUNT, SUM(size)): an index scan, not a walk over payloads
CREATE INDEX IF NOT EXISTS ix_batches_size ON batches (size);
"""
_CODEC = "lz4" if pa.Codec.is_available("lz4") else ""
_DEPTH_CACHE_S = 0.2
# Checkpoints (copying the WAL into the database file) run on the consumer's connection, after
# its acks, so the committer's fsync path, which ingest acks wait on, does not pay for them.
# The committer checkpoints only as a fallback, when the WAL grows past this many pages.
_COMMITTER_CHECKPOINT_PAGES = 4096
_CONSUMER_CHECKPOINT_PAGES = 256
_WAL_SIZE_LIMIT = 64 << 20


def _connect(path: Path, *, checkpoint_pages: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
    conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT}")
    return conn


@dataclass
class _Pending:
    batch: Batch
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclass
class _Committer:
    """Background thread owning the write connection for puts."""

    path: Path
    window_s: float
    pending: list[_Pending] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="queue-committer", daemon=True)
        self.thread.start()

    def submit(self, item: _Pending) -> None:
        with self.cond:
            self.pending.append(item)
            self.cond.notify()

    def stop(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _run(self) -> None:
        conn = _connect(self.path, checkpoint_pages=_COMMITTER_CHECKPOINT_PAGES)
        try:
            while True:
                with self.cond:
                    while not self.pending and not self.closed:
                        self.cond.wait()
                    if self.closed and not self.pending:
                        return
                if self.window_s > 0:
                    time.sleep(self.window_s)  # let concurrent puts join this commit
                with self.cond:
                    group, self.pending = self.pending, []
                self._commit(conn, group)
        finally:
            conn.close()

    @staticmethod
    def _commit(conn: sqlite3.Connection, group: list[_Pending]) -> None:
        error: BaseException | None = None
        try:
            rows = [
                (
                    b.batch_id,
                    b.signal,
                    b.encoding,
                    b.org_id,
                    b.developer_id,
                    b.received_at_ns,
                    b.records,
                    len(b.payload),
                    *_compress(b.payload),
                )
                for b in (p.batch for p in group)
            ]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO batches (batch_id, signal, encoding, org_id, developer_id,"
                " received_at_ns, records, size, payload, codec) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.execute("COMMIT")  # WAL + synchronous=FULL: fsync'd before this returns
        except BaseException as exc:  # report to every waiter, never lose the thread
            error = exc
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        for p in group:
            p.loop.call_soon_threadsafe(_resolve, p.future, error)


def _compress(payload: bytes) -> tuple[bytes, str]:
    if _CODEC and len(payload) > 256:
        packed = pa.compress(payload, codec=_CODEC, asbytes=True)
        if len(packed) < len(payload):
            return packed, _CODEC
    return payload, ""


def _decompress(stored: bytes, codec: str, size: int) -> bytes:
    if not codec:
        return bytes(stored)
    return pa.decompress(stored, decompressed_size=size, codec=codec, asbytes=True)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class LocalQueue:
    """The embedded queue (see module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        high_water_batches: int = 20000,
        high_water_bytes: int = 1 << 30,
        commit_window_s: float = 0.002,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._high_batches = high_water_batches
        self._high_bytes = high_water_bytes
        self._conn = _connect(path, checkpoint_pages=_CONSUMER_CHECKPOINT_PAGES)
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(batches)")}
        if "codec" not in columns:  # a queue file from before payload compression
            try:
                self._conn.execute("ALTER TABLE batches ADD COLUMN codec TEXT NOT NULL DEFAULT ''")
            except sqlite3.OperationalError as exc:  # the other process added it first
                if "duplicate column" not in str(exc):
                    raise
        self._claimed_before = False
        self._lock = threading.Lock()  # guards self._conn (claim/ack/depth)
        self._committer = _Committer(path, commit_window_s)
        self._committer.start()
        self._depth = Depth(0, 0)
        self._depth_at = 0.0

    async def put(self, batch: Batch) -> None:
        depth = await self.depth()
        if depth.batches >= self._high_batches or depth.bytes >= self._high_bytes:
            raise QueueFull(f"queue holds {depth.batches} batches / {depth.bytes} bytes")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._committer.submit(_Pending(batch, loop, future))
        await future
        self._depth = Depth(self._depth.batches + 1, self._depth.bytes + len(batch.payload))

    async def claim(self, max_batches: int, visibility_s: float = 60.0) -> list[Claimed]:
        return await asyncio.to_thread(self.claim_sync, max_batches, visibility_s)

    def claim_sync(self, max_batches: int, visibility_s: float = 60.0) -> list[Claimed]:
        now = time.time()
        with self._lock:
            if not self._claimed_before:
                # One consumer per queue file (the worker): a consumer starting means the one
                # before it is gone, so its claims need not wait out their visibility. Were a
                # second consumer running, the lake's journal would still apply a batch once.
                self._conn.execute("UPDATE batches SET claimed_until = 0 WHERE claimed_until > 0")
                self._claimed_before = True
            # Mark in a short write transaction; read the payloads after it, outside the write
            # lock, so the committer (and the ingest acks waiting on it) never queue behind
            # megabytes of reads.
            seqs = self._conn.execute(
                "UPDATE batches SET claimed_until = ? WHERE seq IN ("
                " SELECT seq FROM batches WHERE claimed_until < ? ORDER BY seq LIMIT ?)"
                " RETURNING seq",
                (now + visibility_s, now, max_batches),
            ).fetchall()
            if not seqs:
                return []
            rows = self._conn.execute(
                "SELECT seq, batch_id, signal, encoding, org_id, developer_id,"
                " received_at_ns, records, payload, codec, size FROM batches"
                f" WHERE seq IN ({','.join('?' * len(seqs))}) ORDER BY seq",
                [s for (s,) in seqs],
            ).fetchall()
        return [
            Claimed(
                handle=r[0],
                batch=Batch(
                    batch_id=r[1],
                    signal=r[2],
                    encoding=r[3],
                    org_id=r[4],
                    developer_id=r[5],
                    received_at_ns=r[6],
                    records=r[7],
                    payload=_decompress(r[8], r[9], r[10]),
                ),
            )
            for r in rows
        ]

    async def ack(self, handles: Sequence[int | str]) -> None:
        await asyncio.to_thread(self.ack_sync, handles)

    def ack_sync(self, handles: Sequence[int | str]) -> None:
        if not handles:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "DELETE FROM batches WHERE seq = ?", [(int(h),) for h in handles]
            )
            self._conn.execute("COMMIT")

    async def depth(self) -> Depth:
        now = time.monotonic()
        if now - self._depth_at > _DEPTH_CACHE_S:
            self._depth = await asyncio.to_thread(self.depth_sync)
            self._depth_at = now
        return self._depth

    def depth_sync(self) -> Depth:
        with self._lock:
            n, size = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM batches"
            ).fetchone()
        return Depth(int(n), int(size))

    async def close(self) -> None:
        await asyncio.to_thread(self._committer.stop)
        with self._lock:
            self._conn.close()
