"""Per-file usage rollups: what `prism usage` reads instead of scanning every event each time.

Lake files never change once published (compaction publishes a new file and deletes the old
ones), so the token and cost sums of a file can be kept beside the lake, keyed by the file's
path, size and modification time, and reused until the file goes away. A report reads the lake's
file listing, rolls up only the files it has not seen (with pyarrow, `api_request` rows only),
forgets the files that are gone, and sums the cached rows in SQLite: a year of history answers in
milliseconds without starting the query engine.

Rows are kept per 15-minute bucket (so any time zone's days come out exact), org, developer,
session, model and whether the row was imported. A session holding both imported and live
requests needs the per-request dedupe of `query.py` (live rows win); the rollup cannot do that
from sums, so it says so (returns None) and the caller runs the query instead.

The cache is `<data_dir>/usage-rollup.db`; deleting it only costs one slower report.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prism.lake.dedupe import IMPORT_BATCH_PREFIX

VERSION = 1
BUCKET_S = 900
_COLUMNS = [
    "time",
    "developer_id",
    "session_id",
    "model",
    "batch_id",
    "event_name",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_micro_usd",
]


def lake_files(lake_root: Path) -> Iterator[tuple[str, int, int]]:
    """(path relative to the lake, size, mtime_ns) of every published events file."""
    base = lake_root / "events"
    if not base.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(".parquet") and not name.startswith("."):
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                except FileNotFoundError:  # compacted away meanwhile
                    continue
                yield str(p.relative_to(lake_root)), st.st_size, st.st_mtime_ns


class Rollups:
    """The rollup cache of one local lake."""

    def __init__(self, lake_root: Path, cache_path: Path) -> None:
        self.lake_root = lake_root
        self.db = sqlite3.connect(str(cache_path), timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        have = self.db.execute("PRAGMA user_version").fetchone()[0]
        if have != VERSION:
            self.db.executescript(
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS r;"
                "CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER);"
                "CREATE TABLE r (path TEXT, bucket INTEGER, org TEXT, dev TEXT, session TEXT,"
                " model TEXT, imported INTEGER, input INTEGER, output INTEGER, cw INTEGER,"
                " cr INTEGER, cost INTEGER, requests INTEGER, unpriced INTEGER,"
                " first_us INTEGER, last_us INTEGER);"
                "CREATE INDEX r_path ON r (path); CREATE INDEX r_bucket ON r (bucket);"
                f"PRAGMA user_version = {VERSION};"
            )

    def close(self) -> None:
        self.db.close()

    # --- keeping up with the lake ---------------------------------------------------------------
    def refresh(self) -> int:
        """Roll up new files, forget removed ones; returns how many files were read."""
        current = {p: (s, m) for p, s, m in lake_files(self.lake_root)}
        known = {p: (s, m) for p, s, m in self.db.execute("SELECT path, size, mtime_ns FROM files")}
        gone = [p for p, sm in known.items() if current.get(p) != sm]
        new = [p for p, sm in current.items() if known.get(p) != sm]
        if not gone and not new:
            return 0
        with self.db:
            for p in gone:
                self.db.execute("DELETE FROM r WHERE path = ?", (p,))
                self.db.execute("DELETE FROM files WHERE path = ?", (p,))
        for p in new:
            try:
                rows = _rollup_file(self.lake_root, p)
            except FileNotFoundError:  # compacted away between listing and reading
                continue
            size, mtime = current[p]
            with self.db:
                self.db.execute("DELETE FROM r WHERE path = ?", (p,))
                self.db.executemany("INSERT INTO r VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (p, size, mtime))
        return len(new)

    # --- reading --------------------------------------------------------------------------------
    def rows(
        self,
        *,
        developer_ids: tuple[str, ...] | None,
        start: datetime | None,
        end: datetime | None,
        by_session: bool,
    ) -> list[dict[str, Any]] | None:
        """Sums per (bucket, model[, session]) like `query.usage_rows`; None when a session in
        the window holds both imported and live requests (then the query must dedupe)."""
        where = ["1 = 1"]
        params: list[Any] = []
        if developer_ids is not None:
            where.append(f"dev IN ({','.join('?' * len(developer_ids))})")
            params += list(developer_ids)
        if start is not None:
            where.append("bucket >= ?")
            params.append(int(start.timestamp()) // BUCKET_S * BUCKET_S)
        if end is not None:
            where.append("bucket < ?")
            params.append(int(end.timestamp()))
        cond = " AND ".join(where)
        mixed = self.db.execute(
            f"SELECT 1 FROM r WHERE {cond} GROUP BY dev, session "
            "HAVING MIN(imported) != MAX(imported) LIMIT 1",
            params,
        ).fetchone()
        if mixed is not None:
            return None
        keys = "bucket, model, session" if by_session else "bucket, model"
        out = []
        for row in self.db.execute(
            f"SELECT {keys}, SUM(input), SUM(output), SUM(cw), SUM(cr), SUM(cost),"
            f" SUM(requests), SUM(unpriced), MIN(first_us), MAX(last_us) FROM r WHERE {cond}"
            f" GROUP BY {keys} ORDER BY bucket, model",
            params,
        ):
            i = 3 if by_session else 2
            out.append(
                {
                    "bucket": datetime.fromtimestamp(row[0], tz=UTC),
                    "model": row[1],
                    "session_id": row[2] if by_session else None,
                    "input_tokens": row[i],
                    "output_tokens": row[i + 1],
                    "cache_creation_tokens": row[i + 2],
                    "cache_read_tokens": row[i + 3],
                    "cost_micro_usd": row[i + 4],
                    "requests": row[i + 5],
                    "unpriced": row[i + 6],
                    "first_time": datetime.fromtimestamp(row[i + 7] / 1e6, tz=UTC),
                    "last_time": datetime.fromtimestamp(row[i + 8] / 1e6, tz=UTC),
                }
            )
        return out


def _rollup_file(lake_root: Path, rel: str) -> list[tuple[Any, ...]]:
    import pyarrow.parquet as pq

    table = pq.read_table(
        lake_root / rel, columns=_COLUMNS, filters=[("event_name", "=", "api_request")]
    )
    return rollup_table(rel, table)


def rollup_table(rel: str, table: Any) -> list[tuple[Any, ...]]:
    """The cache rows of lake file `rel` whose events are `table` (any superset of the
    columns the rollup reads; rows other than `api_request` are ignored)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    org = next((part[7:] for part in rel.split("/") if part.startswith("org_id=")), "")
    table = table.select(_COLUMNS)
    table = table.filter(pc.equal(table.column("event_name"), "api_request"))
    if table.num_rows == 0:
        return []
    us = pc.cast(table.column("time"), pa.int64())
    table = table.append_column("bucket", pc.multiply(pc.divide(us, BUCKET_S * 10**6), BUCKET_S))
    table = table.append_column("us", us)
    table = table.append_column(
        "imported", pc.starts_with(table.column("batch_id"), IMPORT_BATCH_PREFIX)
    )
    grouped = table.group_by(
        ["bucket", "developer_id", "session_id", "model", "imported"]
    ).aggregate(
        [
            ("input_tokens", "sum"),
            ("output_tokens", "sum"),
            ("cache_creation_tokens", "sum"),
            ("cache_read_tokens", "sum"),
            ("cost_micro_usd", "sum"),
            ("us", "count"),
            ("cost_micro_usd", "count", pc.CountOptions(mode="only_null")),
            ("us", "min"),
            ("us", "max"),
        ]
    )
    cols = grouped.to_pydict()
    return [
        (
            rel,
            cols["bucket"][i],
            org,
            cols["developer_id"][i],
            cols["session_id"][i],
            cols["model"][i],
            int(bool(cols["imported"][i])),
            cols["input_tokens_sum"][i] or 0,
            cols["output_tokens_sum"][i] or 0,
            cols["cache_creation_tokens_sum"][i] or 0,
            cols["cache_read_tokens_sum"][i] or 0,
            cols["cost_micro_usd_sum"][i] or 0,
            cols["us_count"][i],
            cols["cost_micro_usd_count"][i],
            cols["us_min"][i],
            cols["us_max"][i],
        )
        for i in range(grouped.num_rows)
    ]


def record_published(cache_path: Path, lake_root: Path, parts: list[tuple[str, Any]]) -> None:
    """Add files just published from tables still in memory (the importer), so the next
    report needs not read them back. A cache that cannot be written is simply not updated."""
    try:
        rollups = Rollups(lake_root, cache_path)
    except sqlite3.Error:
        return
    try:
        for rel, table in parts:
            try:
                st = (lake_root / rel).stat()
            except FileNotFoundError:
                continue
            rows = rollup_table(rel, table)
            with rollups.db:
                rollups.db.execute("DELETE FROM r WHERE path = ?", (rel,))
                rollups.db.executemany(
                    "INSERT INTO r VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows
                )
                rollups.db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                    (rel, st.st_size, st.st_mtime_ns),
                )
    except sqlite3.Error:
        pass
    finally:
        rollups.close()


def cached_rows(
    lake_root: Path,
    cache_path: Path,
    *,
    developer_ids: tuple[str, ...] | None,
    start: datetime | None,
    end: datetime | None,
    by_session: bool,
) -> list[dict[str, Any]] | None:
    """Refresh the cache and read it; None when it cannot answer (the caller queries)."""
    try:
        rollups = Rollups(lake_root, cache_path)
    except sqlite3.Error:
        return None
    try:
        rollups.refresh()
        return rollups.rows(
            developer_ids=developer_ids, start=start, end=end, by_session=by_session
        )
    except sqlite3.Error:
        return None
    finally:
        rollups.close()
