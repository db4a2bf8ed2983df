"""The embedded durable queue: durability across processes, claim/ack, backpressure, group commit.

(No `__init__.py` in this folder on purpose: as a package it would be imported as top-level
`queue` and shadow the standard library's `queue` module.)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from prism.queue.base import Batch, Claimed, Depth, QueueFull
from prism.queue.local import LocalQueue


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_batch(i: int, payload: bytes | None = None, **kw: Any) -> Batch:
    fields: dict[str, Any] = {
        "batch_id": f"batch-{i:05d}",
        "signal": "logs",
        "encoding": "protobuf",
        "org_id": "org-1",
        "developer_id": "dev-1",
        "received_at_ns": 1_700_000_000_000_000_000 + i,
        "records": i + 1,
        "payload": payload if payload is not None else f"payload-{i}".encode(),
    }
    fields.update(kw)
    return Batch(**fields)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "q" / "queue.db"


@pytest.fixture
def queue(path: Path) -> Iterator[LocalQueue]:
    q = LocalQueue(path)
    try:
        yield q
    finally:
        asyncio.run(q.close())


# --- durability -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_after_put_returns_another_process_sees_the_batch(
    queue: LocalQueue, path: Path
) -> None:
    await queue.put(make_batch(1, b"\x00\x01durable\xff"))
    reader = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "for row in c.execute('SELECT batch_id, records, hex(payload) FROM batches'):\n"
        "    print(*row)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert out == ["batch-00001", "2", b"\x00\x01durable\xff".hex().upper()]


def _put_then_wait_to_be_killed(path: str, conn: Connection) -> None:
    q = LocalQueue(Path(path))
    asyncio.run(q.put(make_batch(7, b"acknowledged")))
    conn.send("put returned")  # the moment ingest would answer 200
    while True:
        signal.pause()


def test_a_batch_survives_kill_9_right_after_put_returned(path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=_put_then_wait_to_be_killed, args=(str(path), child_end))
    child.start()
    try:
        assert parent_end.poll(30), "the child never finished its put"
        assert parent_end.recv() == "put returned"
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
    finally:
        if child.is_alive():
            child.kill()
    reopened = LocalQueue(path)
    try:
        claimed = reopened.claim_sync(10)
        assert [c.batch for c in claimed] == [make_batch(7, b"acknowledged")]
    finally:
        asyncio.run(reopened.close())


# --- claim / ack ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_claim_is_oldest_first_and_ack_removes(queue: LocalQueue) -> None:
    batches = [
        make_batch(i, signal=s, encoding=e)
        for i, (s, e) in enumerate([("logs", "json"), ("metrics", "protobuf"), ("traces", "json")])
    ]
    for b in batches:
        await queue.put(b)
    first = await queue.claim(2)
    assert [c.batch for c in first] == batches[:2]  # every field round-trips
    rest = await queue.claim(10)
    assert [c.batch for c in rest] == batches[2:]
    assert await queue.claim(10) == []  # everything is claimed: nothing to hand out
    assert queue.depth_sync().batches == 3  # claimed batches still count until acked

    await queue.ack([c.handle for c in first])
    assert queue.depth_sync().batches == 1
    await queue.ack([c.handle for c in first])  # acking again is harmless
    await queue.ack([])
    await queue.ack([rest[0].handle])
    assert queue.depth_sync() == Depth(0, 0)


@pytest.mark.anyio
async def test_unacked_batches_come_back_after_the_visibility_timeout(queue: LocalQueue) -> None:
    await queue.put(make_batch(1))
    await queue.put(make_batch(2))
    visibility = 0.3
    started = time.monotonic()
    (held,) = await queue.claim(1, visibility_s=visibility)
    assert held.batch.batch_id == "batch-00001"
    (other,) = await queue.claim(1, visibility_s=60)  # the next one, not the held one
    assert other.batch.batch_id == "batch-00002"
    assert await queue.claim(5) == []

    # the consumer "died" without acking: wait for the timeout to pass (the thing under test)
    again: list[Claimed] = []
    while not again and time.monotonic() - started < 10:
        again = await queue.claim(5, visibility_s=60)
        if not again:
            await asyncio.sleep(0.02)
    assert time.monotonic() - started >= visibility
    assert [c.batch for c in again] == [held.batch]  # only the expired one, not batch 2
    await queue.ack([again[0].handle, other.handle])
    assert queue.depth_sync().batches == 0


def test_a_restarted_consumer_gets_the_dead_ones_claims_back_at_once(path: Path) -> None:
    """One consumer per queue file: a new consumer means the previous one is gone, so its
    unacked claims are handed out again without waiting for their visibility timeout."""
    producer = LocalQueue(path)
    dead = LocalQueue(path)
    try:
        asyncio.run(producer.put(make_batch(1)))
        (held,) = dead.claim_sync(10, visibility_s=3600)
        assert dead.claim_sync(10) == []
    finally:
        asyncio.run(dead.close())  # died without acking
    restarted = LocalQueue(path)
    try:
        again = restarted.claim_sync(10)
        assert [c.batch for c in again] == [held.batch]
        assert restarted.claim_sync(10) == []  # and from then on, claims hold again
        restarted.ack_sync([again[0].handle])
        assert restarted.depth_sync().batches == 0
    finally:
        asyncio.run(restarted.close())
        asyncio.run(producer.close())


def test_running_consumers_never_claim_the_same_batch(path: Path) -> None:
    producer = LocalQueue(path)
    consumers = [LocalQueue(path), LocalQueue(path)]  # two connections, as in two processes
    for c in consumers:
        assert c.claim_sync(1) == []  # both are up and running before the batches arrive

    async def fill() -> None:
        await asyncio.gather(*(producer.put(make_batch(i)) for i in range(300)))

    asyncio.run(fill())
    got: list[list[int | str]] = [[], []]

    def drain(i: int) -> None:
        while claimed := consumers[i].claim_sync(7):
            got[i].extend(c.handle for c in claimed)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert not set(got[0]) & set(got[1])
        assert len(got[0]) + len(got[1]) == 300
    finally:
        for q in (producer, *consumers):
            asyncio.run(q.close())


# --- depth and backpressure -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_depth_counts_batches_and_bytes(queue: LocalQueue) -> None:
    assert await queue.depth() == Depth(0, 0)
    sizes = [10, 200, 3000]
    for i, n in enumerate(sizes):
        await queue.put(make_batch(i, b"x" * n))
    assert await queue.depth() == Depth(3, sum(sizes))
    assert queue.depth_sync() == Depth(3, sum(sizes))
    claimed = await queue.claim(1)
    assert queue.depth_sync() == Depth(3, sum(sizes))
    await queue.ack([claimed[0].handle])
    assert queue.depth_sync() == Depth(2, sum(sizes[1:]))


@pytest.mark.anyio
async def test_queue_full_at_the_batch_high_water_mark(path: Path) -> None:
    q = LocalQueue(path, high_water_batches=3)
    try:
        for i in range(3):
            await q.put(make_batch(i))
        with pytest.raises(QueueFull):
            await q.put(make_batch(3))
        assert q.depth_sync().batches == 3  # the refused batch was not stored
        await q.ack([c.handle for c in await q.claim(3)])
    finally:
        await q.close()
    fresh = LocalQueue(path, high_water_batches=3)  # drained: accepts again
    try:
        await fresh.put(make_batch(4))
        assert fresh.depth_sync().batches == 1
    finally:
        await fresh.close()


@pytest.mark.anyio
async def test_queue_full_at_the_byte_high_water_mark(path: Path) -> None:
    q = LocalQueue(path, high_water_bytes=1000)
    try:
        await q.put(make_batch(0, b"x" * 600))
        await q.put(make_batch(1, b"x" * 600))  # 600 < 1000 before this put: accepted
        with pytest.raises(QueueFull):
            await q.put(make_batch(2, b"x"))
        assert q.depth_sync() == Depth(2, 1200)
    finally:
        await q.close()


# --- group commit ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_puts_share_commits(path: Path) -> None:
    q = LocalQueue(path, commit_window_s=0.002)
    committer = q._committer
    real_commit = committer._commit
    groups: list[int] = []

    def counting_commit(conn: sqlite3.Connection, group: list[Any]) -> None:
        groups.append(len(group))
        real_commit(conn, group)

    committer._commit = counting_commit  # type: ignore[method-assign]
    n = 500
    try:
        started = time.monotonic()
        await asyncio.gather(*(q.put(make_batch(i)) for i in range(n)))
        elapsed = time.monotonic() - started
        depth = q.depth_sync()
    finally:
        await q.close()
    assert depth.batches == n
    assert sum(groups) == n
    # one fsync'd transaction per put would be 500 commits; group commit needs a handful
    assert len(groups) <= n // 10, f"{len(groups)} commits for {n} puts: {groups}"
    assert max(groups) >= 50
    assert elapsed < 10
    with sqlite3.connect(path) as conn:
        ids = {r[0] for r in conn.execute("SELECT batch_id FROM batches")}
    assert ids == {f"batch-{i:05d}" for i in range(n)}
