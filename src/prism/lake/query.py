"""Reading the lake with DataFusion: one long-lived context, parameters always bound.

Queries are assembled only from fixed SQL fragments chosen by which filters are present; every
value a user supplies travels as a bound parameter (`$name`), never inside the SQL text.
DataFusion caches directory listings, which would hide files the writer publishes later, so the
cache is switched off when the context is created.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from datafusion import SessionConfig, SessionContext

from prism.lake import schema
from prism.lake.dedupe import prefer_live
from prism.lake.storage import LakeStorage


@dataclass(frozen=True, slots=True)
class Filters:
    """What a telemetry read may filter on (all optional except the owner)."""

    org_id: str
    developer_id: str | None  # None: every developer of the org (admin reads only)
    start: datetime | None = None
    end: datetime | None = None
    session_id: str | None = None
    event_name: str | None = None
    name: str | None = None
    trace_id: str | None = None
    limit: int = 100
    offset: int = 0


class Lake:
    """Query side of the lake, shared by every request of a process."""

    def __init__(self, storage: LakeStorage, *, target_partitions: int = 2) -> None:
        self.storage = storage
        config = (
            SessionConfig()
            .with_target_partitions(target_partitions)
            .with_information_schema(False)
            .set("datafusion.execution.parquet.pushdown_filters", "true")
        )
        self.ctx = SessionContext(config)
        # Without this the listing cache hides files published after the first query.
        self.ctx.sql("SET datafusion.runtime.list_files_cache_limit = '0K'").collect()
        register = getattr(storage, "register_object_store", None)
        if register is not None:  # an object-store lake (S3) tells DataFusion how to reach it
            register(self.ctx)
        for table, sch in schema.TABLES.items():
            self.ctx.register_listing_table(
                table,
                storage.table_url(table),
                table_partition_cols=schema.PARTITION_COLS,
                file_extension=".parquet",
                schema=sch,
            )
        self._lock = threading.Lock()

    def sql(self, query: str, params: dict[str, Any]) -> pa.Table:
        """Run a fixed query with bound parameters under the storage's shared swap lock."""
        with self.storage.swap_lock(exclusive=False):
            df = self.ctx.sql(query, param_values=params)
            return df.to_arrow_table()

    # --- telemetry reads -----------------------------------------------------------------------
    def telemetry(self, table: str, f: Filters) -> list[dict[str, Any]]:
        """Newest-first rows of `table` matching `f` (the owner filter is always applied)."""
        time_col = schema.TIME_COLUMN[table]
        where = ["org_id = $org"]
        params: dict[str, Any] = {"org": f.org_id}
        if f.developer_id is not None:
            where.append("developer_id = $dev")
            params["dev"] = f.developer_id
        if f.start is not None:
            where.append(f"{time_col} >= $start")
            where.append("date >= $start_date")
            params["start"] = pa.scalar(f.start, type=schema.TS)
            params["start_date"] = f.start.strftime("%Y-%m-%d")
        if f.end is not None:
            where.append(f"{time_col} < $end")
            where.append("date <= $end_date")
            params["end"] = pa.scalar(f.end, type=schema.TS)
            params["end_date"] = f.end.strftime("%Y-%m-%d")
        if f.session_id is not None:
            where.append("session_id = $session")
            params["session"] = f.session_id
        if f.event_name is not None and table == "events":
            where.append("event_name = $event")
            params["event"] = f.event_name
        if f.name is not None and table == "metrics":
            where.append("name = $name")
            params["name"] = f.name
        if f.trace_id is not None and table == "spans":
            where.append("trace_id = $trace")
            params["trace"] = f.trace_id.lower()
        order = f"{time_col} DESC"
        if table == "events":
            order += ", event_sequence DESC NULLS LAST"
        params["limit"] = f.limit
        params["offset"] = f.offset
        query = (
            f"SELECT * FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT $limit OFFSET $offset"
        )
        return self.sql(query, params).to_pylist()

    def count(self, table: str, org_id: str, developer_id: str | None = None) -> int:
        query = f"SELECT COUNT(*) AS n FROM {table} WHERE org_id = $org"
        params: dict[str, Any] = {"org": org_id}
        if developer_id is not None:
            query += " AND developer_id = $dev"
            params["dev"] = developer_id
        return int(self.sql(query, params).column("n")[0].as_py())

    # --- sessionizer reads ----------------------------------------------------------------------
    def session_ids_since(self, org_id: str, developer_id: str, since: datetime) -> list[str]:
        """Agent sessions of a developer with events at or after `since`."""
        query = (
            "SELECT DISTINCT session_id FROM events WHERE org_id = $org AND developer_id = $dev "
            "AND time >= $since AND date >= $since_date AND session_id IS NOT NULL"
        )
        params = {
            "org": org_id,
            "dev": developer_id,
            "since": pa.scalar(since, type=schema.TS),
            "since_date": since.strftime("%Y-%m-%d"),
        }
        return [r["session_id"] for r in self.sql(query, params).to_pylist()]

    @staticmethod
    def _in_list(column: str, prefix: str, values: list[str], params: dict[str, Any]) -> str:
        """`column IN ($p0, $p1, ...)`: placeholders only; the values are bound."""
        names = []
        for i, v in enumerate(values):
            params[f"{prefix}{i}"] = v
            names.append(f"${prefix}{i}")
        return f"{column} IN ({', '.join(names)})"

    def events_of_sessions(
        self, org_id: str, developer_id: str, session_ids: list[str], since: datetime
    ) -> list[dict[str, Any]]:
        """Every event of these agent sessions from `since` on, oldest first."""
        if not session_ids:
            return []
        params: dict[str, Any] = {
            "org": org_id,
            "dev": developer_id,
            "since": pa.scalar(since, type=schema.TS),
            "since_date": since.strftime("%Y-%m-%d"),
        }
        in_sessions = self._in_list("session_id", "s", session_ids, params)
        query = (
            "SELECT * FROM events WHERE org_id = $org AND developer_id = $dev "
            f"AND time >= $since AND date >= $since_date AND {in_sessions} "
            "ORDER BY time, event_sequence NULLS FIRST"
        )
        # A session both sent live and imported from its transcript: live rows win.
        return prefer_live(self.sql(query, params).to_pylist())

    def metric_signals(
        self,
        org_id: str,
        developer_id: str,
        session_ids: list[str],
        names: tuple[str, ...],
        since: datetime,
    ) -> list[dict[str, Any]]:
        """Per-interval values of the named metrics for these sessions (commits, PRs)."""
        if not session_ids:
            return []
        params: dict[str, Any] = {
            "org": org_id,
            "dev": developer_id,
            "since": pa.scalar(since, type=schema.TS),
            "since_date": since.strftime("%Y-%m-%d"),
        }
        in_sessions = self._in_list("session_id", "s", session_ids, params)
        in_names = self._in_list("name", "n", list(names), params)
        query = (
            "SELECT time, developer_id, session_id, name, value FROM metrics "
            "WHERE org_id = $org AND developer_id = $dev AND time >= $since "
            f"AND date >= $since_date AND {in_sessions} AND {in_names} AND value > 0 ORDER BY time"
        )
        return self.sql(query, params).to_pylist()

    def events_for(
        self, org_id: str, developer_id: str, start: datetime, end: datetime | None = None
    ) -> pa.Table:
        """Every event of one developer from `start` (used by the sessionizer)."""
        where = ["org_id = $org", "developer_id = $dev", "time >= $start", "date >= $start_date"]
        params: dict[str, Any] = {
            "org": org_id,
            "dev": developer_id,
            "start": pa.scalar(start, type=schema.TS),
            "start_date": start.strftime("%Y-%m-%d"),
        }
        if end is not None:
            where += ["time < $end", "date <= $end_date"]
            params["end"] = pa.scalar(end, type=schema.TS)
            params["end_date"] = end.strftime("%Y-%m-%d")
        query = (
            f"SELECT * FROM events WHERE {' AND '.join(where)} "
            "ORDER BY time, event_sequence NULLS FIRST"
        )
        return self.sql(query, params)
