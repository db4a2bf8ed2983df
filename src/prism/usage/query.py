"""Token and cost totals from the lake's `api_request` events, with DataFusion.

One query per report: `api_request` rows of the owner (and optionally one developer) in the
time window, summed per model and per time bucket (an hour, or 15 minutes when the report's
time zone is not a whole number of hours off UTC) and, for the session report, per session.
Buckets are turned into days, weeks and months in the report's time zone afterwards, in
Python: there are at most a few thousand of them, and DST stays correct.

A request stored twice (its transcript imported while OTLP also sent it; `lake/dedupe.py`)
counts once: an imported row is left out when a live row of the same session has its
`request_id`. OTLP `api_request` rows are the cost ledger. The first scan also tells whether
both kinds are present; only then is the (join) query for shadowed rows run.

Every user-supplied value is a bound parameter; the SQL is assembled only from fixed fragments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from prism.lake import schema
from prism.lake.dedupe import IMPORT_BATCH_PREFIX
from prism.lake.query import Lake


@dataclass(frozen=True, slots=True)
class UsageFilter:
    org_id: str | None  # None: every org (the local, offline lake)
    developer_ids: tuple[str, ...] | None  # None: every developer of the org
    start: datetime | None = None  # inclusive (UTC)
    end: datetime | None = None  # exclusive (UTC)
    bucket_minutes: int = 60
    by_session: bool = False


_SUMS = (
    "SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, "
    "SUM(cache_creation_tokens) AS cache_creation_tokens, "
    "SUM(cache_read_tokens) AS cache_read_tokens, SUM(cost_micro_usd) AS cost_micro_usd, "
    "COUNT(*) AS requests, SUM(CASE WHEN cost_micro_usd IS NULL THEN 1 ELSE 0 END) AS unpriced, "
    "MIN(time) AS first_time, MAX(time) AS last_time"
)
_ADDITIVE = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_micro_usd",
    "requests",
    "unpriced",
)
_IMPORTED = f"starts_with(batch_id, '{IMPORT_BATCH_PREFIX}')"


def usage_rows(lake: Lake, f: UsageFilter) -> list[dict[str, Any]]:
    """Per (bucket, model[, session_id]) sums; `bucket` is a UTC timestamp.

    One scan in the usual case. Only when the window holds both imported and live requests is
    a second query run: the imported rows that a live row of the same session shadows, whose
    sums are then taken off (live rows are the ledger).
    """
    where, params = _where(f)
    bucket = _bucket(f)
    keys = "bucket, model, session_id" if f.by_session else "bucket, model"
    session_col = ", session_id" if f.by_session else ""
    rows = lake.sql(
        f"SELECT {bucket} AS bucket, model{session_col}, {_IMPORTED} AS imported, {_SUMS} "
        f"FROM events WHERE {where} GROUP BY {keys}, imported",
        params,
    ).to_pylist()
    kinds = {r["imported"] for r in rows}
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["bucket"], r["model"], r.get("session_id"))
        into = merged.get(key)
        if into is None:
            merged[key] = {k: v for k, v in r.items() if k != "imported"}
        else:
            _add(into, r, 1)
    if kinds == {True, False}:
        shadowed = lake.sql(
            "WITH req AS ("
            " SELECT time, developer_id, session_id, request_id, model, input_tokens,"
            " output_tokens, cache_creation_tokens, cache_read_tokens, cost_micro_usd,"
            f" {_IMPORTED} AS imported FROM events WHERE {where} AND request_id IS NOT NULL"
            "), live AS ("
            " SELECT DISTINCT developer_id, session_id, request_id FROM req WHERE NOT imported"
            ") "
            f"SELECT {bucket.replace('time', 'req.time')} AS bucket, req.model AS model"
            f"{session_col.replace('session_id', 'req.session_id AS session_id')}, "
            f"{_SUMS.replace('(time)', '(req.time)')} FROM req JOIN live"
            " ON live.developer_id = req.developer_id AND live.session_id = req.session_id"
            " AND live.request_id = req.request_id WHERE req.imported"
            f" GROUP BY {keys}",
            params,
        ).to_pylist()
        for r in shadowed:
            into = merged.get((r["bucket"], r["model"], r.get("session_id")))
            if into is not None:
                _add(into, r, -1)
        merged = {k: v for k, v in merged.items() if v["requests"] > 0}
    return sorted(merged.values(), key=lambda r: (r["bucket"], r["model"] or ""))


def _add(into: dict[str, Any], r: dict[str, Any], sign: int) -> None:
    for col in _ADDITIVE:
        into[col] = (into[col] or 0) + sign * (r[col] or 0)
    if sign > 0:
        into["first_time"] = min(t for t in (into["first_time"], r["first_time"]) if t)
        into["last_time"] = max(t for t in (into["last_time"], r["last_time"]) if t)


def _where(f: UsageFilter) -> tuple[str, dict[str, Any]]:
    where = ["event_name = 'api_request'"]
    params: dict[str, Any] = {}
    if f.org_id is not None:
        where.append("org_id = $org")
        params["org"] = f.org_id
    if f.developer_ids is not None:
        where.append(Lake._in_list("developer_id", "dev", list(f.developer_ids), params))
    if f.start is not None:
        where.append("time >= $start")
        where.append("date >= $start_date")
        params["start"] = pa.scalar(f.start, type=schema.TS)
        params["start_date"] = f.start.strftime("%Y-%m-%d")
    if f.end is not None:
        where.append("time < $end")
        where.append("date <= $end_date")
        params["end"] = pa.scalar(f.end, type=schema.TS)
        params["end_date"] = f.end.strftime("%Y-%m-%d")
    return " AND ".join(where), params


def _bucket(f: UsageFilter) -> str:
    if f.bucket_minutes == 60:
        return "date_trunc('hour', time)"
    if f.bucket_minutes == 15:
        return "date_bin(INTERVAL '15 minutes', time, TIMESTAMP '1970-01-01T00:00:00')"
    raise ValueError("bucket_minutes must be 60 or 15")
