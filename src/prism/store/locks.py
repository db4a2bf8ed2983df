"""Named locks shared by every Prism process, held in the metadata store.

Scale mode runs many worker and engine processes on many machines, so a lock that must be seen
by all of them cannot be a local `flock`. On PostgreSQL these are transaction-scoped advisory
locks (`pg_advisory_xact_lock*`): the server releases them when the transaction ends or the
connection drops, so a process killed while holding one never leaves it held, and waiting
exclusive requests queue ahead of later shared ones, so a compaction swap is not starved by a
steady stream of queries. On SQLite (the embedded layout, one machine) they fall back to `flock`
on a file beside the database, which has the same semantics between local processes; one file
per lock family (the part of the name before ":"), so per-developer locks do not litter the data
folder; coarser, but the embedded layout runs one worker anyway.

    shared_lock(engine, name, exclusive=...)  blocking, for readers vs. a swap
    try_lock(engine, name)                     non-blocking, yields whether this process won
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, text

from prism.store.db import is_postgres

T = TypeVar("T")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (collisions only serialize)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _lock_file(engine: Engine, name: str) -> Path | None:
    """The flock file of `name` on SQLite; None for an in-memory database (one process)."""
    db = engine.url.database or ""
    if not db or db == ":memory:":
        return None
    base = Path(db).parent
    family = name.split(":", 1)[0]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", family)[:80]
    return base / f".{safe}.lock"


@contextmanager
def shared_lock(engine: Engine, name: str, *, exclusive: bool) -> Iterator[None]:
    """Hold lock `name` shared (many holders) or exclusive (one, no shared holders)."""
    if is_postgres(str(engine.url)):
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        with engine.begin() as conn:
            conn.execute(text(f"SELECT {fn}(:k)"), {"k": lock_key(name)})
            yield
        return
    path = _lock_file(engine, name)
    if path is None:
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def try_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Try to take lock `name` exclusively without waiting; yields True when taken."""
    if is_postgres(str(engine.url)):
        with engine.begin() as conn:
            won = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(name)}
                ).scalar()
            )
            yield won
        return
    path = _lock_file(engine, name)
    if path is None:
        yield True
        return
    with open(path, "a+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_exclusively(engine: Engine, name: str, fn: Callable[..., T], *args: object) -> T | None:
    """Run `fn(*args)` only if no other process holds `name`; None when skipped."""
    with try_lock(engine, name) as won:
        if not won:
            return None
        return fn(*args)
