"""Queued batches -> typed lake columns.

Decoding goes through `prism.receive.otlp` (the only OTLP-aware module) and attribute mapping
through the agent's adapter; this module adds what is the lake's business: the owner columns,
sane timestamps, the length limit on strings, and the privacy switch.

Events are the volume (every Claude Code action is one), so they are accumulated column by
column (`EventColumns`): a row costs a few list appends, a column the adapter did not set costs
nothing, and the resource map, identical for every record of an export, is cut once per
resource. Event times stay integer nanoseconds until the Arrow table is built. Metrics and spans
are few and stay one dict per row, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from prism.agents import adapter_for
from prism.agents.base import as_str
from prism.lake import schema
from prism.queue.base import Batch
from prism.receive import otlp

TRUNCATION_MARKER = "…[truncated]"
_MIN_NS = 946_684_800 * 10**9  # 2000-01-01: anything older is a missing or broken clock
_MAX_SKEW_NS = 24 * 3600 * 10**9  # up to a day ahead is clock skew; beyond is a broken clock
_MAX_NS = 253_402_300_799 * 10**9  # 9999-12-31: the last instant a lake timestamp can hold
DAY_NS = 86_400 * 10**9
TIME_COLUMNS = frozenset({"time", "observed_time", "start_time", "end_time"})


@dataclass(frozen=True, slots=True)
class NormalizeOptions:
    max_attribute_length: int = 65536
    store_content: bool = True


def sane_time_ns(ns: int, *fallbacks: int, received_ns: int) -> tuple[int, bool]:
    """Pick the first plausible timestamp; say whether the record's own one was replaced."""
    if _MIN_NS <= ns <= received_ns + _MAX_SKEW_NS:
        return ns, False
    for alt in fallbacks:
        if _MIN_NS <= alt <= received_ns + _MAX_SKEW_NS:
            return alt, ns != 0
    return received_ns, ns != 0


def to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def date_of(ns: int) -> str:
    """The `date=` partition of a nanosecond timestamp (UTC)."""
    return datetime.fromtimestamp(ns // DAY_NS * 86_400, tz=UTC).strftime("%Y-%m-%d")


def ns_array(values: list[Any]) -> pa.Array:
    """Integer nanoseconds (or None) -> the lake's microsecond UTC timestamps.

    Exact integer truncation: going through a float (as `to_datetime` does) can be off by 1 us.
    """
    return pc.cast(pc.divide(pa.array(values, pa.int64()), 1000), schema.TS)


class _Limiter:
    """Cuts over-long strings and counts the cuts."""

    __slots__ = ("count", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def cut(self, s: str | None) -> str | None:
        if s is not None and len(s) > self.limit:
            self.count += 1
            return s[: self.limit] + TRUNCATION_MARKER
        return s

    def cut_map(self, attrs: dict[str, Any]) -> list[tuple[str, str | None]]:
        keys: list[str] = []
        values: list[str | None] = []
        self.cut_into(attrs, keys, values)
        return list(zip(keys, values, strict=True))

    def cut_into(self, attrs: dict[str, Any], keys: list[str], values: list[str | None]) -> None:
        """Append `attrs` as (cut) string keys and values to two flat lists."""
        limit = self.limit
        vals = list(attrs.values())
        try:  # the common case, all short strings, checked without a Python-level loop
            short = max(map(len, vals), default=0) <= limit and all(
                map(str.__instancecheck__, vals)
            )
        except TypeError:  # a value without len(): not all strings
            short = False
        if short and max(map(len, attrs), default=0) <= limit:
            keys.extend(attrs)
            values.extend(vals)
            return
        for k, v in attrs.items():
            s = v if v.__class__ is str else as_str(v)
            if s is not None and len(s) > limit:
                self.count += 1
                s = s[:limit] + TRUNCATION_MARKER
            keys.append(k if len(k) <= limit else k[:limit])
            values.append(s)


_EVENT_TEXT_COLUMNS = frozenset({"prompt", "response", "tool_parameters", "tool_input", "error"})
# Event columns every row sets (in EventColumns.dense); the others come from the adapter.
_EVENT_DENSE = (
    "time",
    "observed_time",
    "developer_id",
    "batch_id",
    "agent",
    "service_name",
    "service_version",
    "event_name",
    "trace_id",
    "span_id",
    "severity_text",
    "body",
    "truncated",
)
_EVENT_MAPS = ("attributes", "resource")
_EVENT_SPARSE = frozenset(
    f.name for f in schema.EVENTS if f.name not in _EVENT_DENSE and f.name not in _EVENT_MAPS
)
_EVENT_TYPED = pa.struct([f for f in schema.EVENTS if f.name in _EVENT_SPARSE])


class _MapColumn:
    """A map<string,string> column as flat keys, values and row offsets."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[str | None] = []
        self.offsets: list[int] = [0]

    def to_arrow(self) -> pa.Array:
        return pa.MapArray.from_arrays(
            pa.array(self.offsets, pa.int32()),
            pa.array(self.keys, pa.string()),
            pa.array(self.values, pa.string()),
        )


class EventColumns:
    """Event rows accumulated column by column (see module docstring)."""

    def __init__(self) -> None:
        self.n = 0
        self.dense: dict[str, list[Any]] = {name: [] for name in _EVENT_DENSE}
        self.typed: list[dict[str, Any]] = []  # per row, the adapter's columns (others absent)
        self.maps = {name: _MapColumn() for name in _EVENT_MAPS}

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        """Read-only row views (times as datetimes), for code written against row dicts;
        prefer the column accessors: a view costs about a microsecond per field read."""
        return (_EventRow(self, i) for i in range(self.n))

    def column(self, name: str) -> list[Any]:
        """Every row's value of one column (times as integer nanoseconds)."""
        if name in self.dense:
            return self.dense[name]
        if name in self.maps:
            m = self.maps[name]
            return [
                list(zip(m.keys[a:b], m.values[a:b], strict=True))
                for a, b in zip(m.offsets, m.offsets[1:], strict=False)
            ]
        return [cols.get(name) for cols in self.typed]

    def earliest_by_developer(self) -> dict[str, datetime]:
        """The oldest event time of each developer in these rows."""
        earliest: dict[str, int] = {}
        for dev, ns in zip(self.dense["developer_id"], self.dense["time"], strict=True):
            if ns < earliest.get(dev, ns + 1):
                earliest[dev] = ns
        return {dev: to_datetime(ns) for dev, ns in earliest.items()}

    def to_arrow(self) -> pa.Table:
        # Arrow reads the typed columns out of the row dicts itself (in C): no Python loop
        # over (row, column) pairs, and a column no adapter set costs a null bitmap.
        typed = pa.array(self.typed, type=_EVENT_TYPED).flatten()
        typed_of = dict(zip(_EVENT_TYPED.names, typed, strict=True))
        arrays = []
        for f in schema.EVENTS:
            name = f.name
            if name in TIME_COLUMNS:
                arrays.append(ns_array(self.dense[name]))
            elif name in self.maps:
                arrays.append(self.maps[name].to_arrow())
            elif name in self.dense:
                arrays.append(pa.array(self.dense[name], type=f.type))
            else:
                arrays.append(typed_of[name])
        return pa.Table.from_arrays(arrays, schema=schema.EVENTS)


class _EventRow(Mapping[str, Any]):
    """One row of `EventColumns` seen as a read-only mapping (absent columns read as None)."""

    __slots__ = ("_cols", "_i")

    def __init__(self, cols: EventColumns, i: int) -> None:
        self._cols, self._i = cols, i

    def __getitem__(self, name: str) -> Any:
        cols = self._cols
        if name in cols.dense:
            value = cols.dense[name][self._i]
            return to_datetime(value) if name in TIME_COLUMNS else value
        if name in cols.maps:
            m = cols.maps[name]
            a, b = m.offsets[self._i], m.offsets[self._i + 1]
            return list(zip(m.keys[a:b], m.values[a:b], strict=True))
        if name not in _EVENT_SPARSE:
            raise KeyError(name)
        return cols.typed[self._i].get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(schema.EVENTS.names)

    def __len__(self) -> int:
        return len(schema.EVENTS.names)


@dataclass(slots=True)
class Normalized:
    """Rows of one or more batches, by table (events column-wise, the others as dicts)."""

    events: EventColumns = field(default_factory=EventColumns)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    truncated: int = 0
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.events) + len(self.metrics) + len(self.spans)

    def count(self, name: str) -> int:
        return {"events": len(self.events), "metrics": len(self.metrics), "spans": len(self.spans)}[
            name
        ]

    def to_arrow(self, name: str) -> pa.Table:
        if name == "events":
            return self.events.to_arrow()
        return rows_to_table(name, self.metrics if name == "metrics" else self.spans)


def rows_to_table(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Build an Arrow table column by column from row dicts (metrics, spans, tests)."""
    sch = schema.TABLES[table]
    arrays = [pa.array([r.get(f.name) for r in rows], type=f.type) for f in sch]
    return pa.Table.from_arrays(arrays, schema=sch)


def by_date(table: pa.Table, time_column: str) -> dict[str, pa.Table]:
    """Split `table` by the UTC date of `time_column` (the lake's `date=` partitions)."""
    if table.num_rows == 0:
        return {}
    us = pc.cast(table.column(time_column), pa.int64())
    days = pc.divide(us, 86_400 * 10**6)
    lo, hi = pc.min_max(days).values()
    if lo.as_py() == hi.as_py():
        return {date_of(lo.as_py() * DAY_NS): table}
    out: dict[str, pa.Table] = {}
    for day in pc.unique(days).to_pylist():
        out[date_of(day * DAY_NS)] = table.filter(pc.equal(days, day))
    return out


def normalize(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    """Append the rows of `batch` to `out` (all of them, or none when it raises)."""
    if batch.signal == "logs":
        _logs(batch, options, out)
    elif batch.signal == "metrics":
        _metrics(batch, options, out)
    else:
        _spans(batch, options, out)


def _logs(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    """Events of one batch, staged first so a batch that fails adds nothing to `out`."""
    limiter = _Limiter(options.max_attribute_length)
    received = batch.received_at_ns
    store_content = options.store_content
    cut = limiter.cut
    # One tuple per row of dense values, the adapter's columns, and the two maps.
    dense: list[tuple[Any, ...]] = []
    typed: list[dict[str, Any]] = []
    limit = options.max_attribute_length
    attr_keys: list[str] = []
    attr_values: list[str | None] = []
    attr_ends: list[int] = []
    resources: list[tuple[list[str], list[str | None], int]] = []
    last_resource: Any = None
    last_scope: str | None = None
    adapter: Any = None
    res_cut: tuple[list[str], list[str | None], int] = ([], [], 0)
    service_name = service_version = None
    text_cols = _EVENT_TEXT_COLUMNS
    developer_id, batch_id = batch.developer_id, batch.batch_id
    latest = received + _MAX_SKEW_NS
    for item in otlp.walk("logs", batch.encoding, batch.payload):
        resource = item.resource
        if resource is not last_resource or item.scope != last_scope:
            adapter = adapter_for(resource, item.scope)
            prefix = f"{adapter.name}."
            if resource is not last_resource:
                rkeys: list[str] = []
                rvalues: list[str | None] = []
                limiter.count = 0
                limiter.cut_into(resource, rkeys, rvalues)
                res_cut = (rkeys, rvalues, limiter.count)
                service_name = as_str(resource.get("service.name"))
                service_version = as_str(resource.get("service.version"))
            last_resource, last_scope = resource, item.scope
        attrs = item.attrs
        name = adapter.event_name(item.body, attrs)
        cols, rest = adapter.map_event(attrs)
        if not store_content:
            for key in adapter.content_keys:
                rest.pop(key, None)
            cols.pop("prompt", None)
            cols.pop("response", None)
            cols.pop("tool_input", None)
        ts = item.time_ns
        if not _MIN_NS <= ts <= latest:  # else sane_time_ns would keep it: skip the call
            if ts == 0 and isinstance(attrs.get("event.timestamp"), str):
                ts = _iso_ns(attrs["event.timestamp"])
            ts, replaced = sane_time_ns(ts, item.observed_ns, received_ns=received)
            if replaced:
                rest["prism.original_time_unix_nano"] = str(item.time_ns)
        observed = item.observed_ns or received
        if observed > _MAX_NS:
            raise ValueError(f"observed time {observed} ns is beyond year 9999")
        body = item.body if isinstance(item.body, str) else as_str(item.body)
        if name is not None and body == prefix + name:
            body = None  # the body only repeats the event name; do not store it twice
        elif body is not None and len(body) > limit:
            body = cut(body)
        limiter.count = res_cut[2]
        for col in text_cols:
            value = cols.get(col)
            if value is not None and len(value) > limit:
                cols[col] = cut(value)
        typed.append(cols)
        limiter.cut_into(rest, attr_keys, attr_values)
        attr_ends.append(len(attr_keys))
        resources.append(res_cut)
        dense.append(
            (
                ts,
                observed,
                developer_id,
                batch_id,
                adapter.name,
                service_name,
                service_version,
                name or "log",
                item.trace_id or None,
                item.span_id or None,
                item.severity_text or None,
                body,
                limiter.count,
            )
        )
        out.truncated += limiter.count
    _append_events(out.events, dense, typed, attr_keys, attr_values, attr_ends, resources)


def _append_events(
    ev: EventColumns,
    dense: list[tuple[Any, ...]],
    typed: list[dict[str, Any]],
    attr_keys: list[str],
    attr_values: list[str | None],
    attr_ends: list[int],
    resources: list[tuple[list[str], list[str | None], int]],
) -> None:
    base = ev.n
    if not dense:
        return
    for name, column in zip(_EVENT_DENSE, zip(*dense, strict=True), strict=True):
        ev.dense[name].extend(column)
    ev.typed.extend(typed)
    attributes = ev.maps["attributes"]
    start = len(attributes.keys)
    attributes.keys.extend(attr_keys)
    attributes.values.extend(attr_values)
    attributes.offsets.extend(start + end for end in attr_ends)
    res = ev.maps["resource"]
    keys, values, offsets = res.keys, res.values, res.offsets
    for rkeys, rvalues, _ in resources:
        keys.extend(rkeys)
        values.extend(rvalues)
        offsets.append(len(keys))
    ev.n = base + len(dense)


def _iso_ns(text: str) -> int:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)
    except ValueError:
        return 0


def _metrics(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    limiter = _Limiter(options.max_attribute_length)
    received = batch.received_at_ns
    rows: list[dict[str, Any]] = []
    for p in otlp.walk("metrics", batch.encoding, batch.payload):
        adapter = adapter_for(p.resource, p.scope)
        t, _ = sane_time_ns(p.time_ns, received_ns=received)
        start = p.start_ns if _MIN_NS <= p.start_ns <= t else 0
        attrs = p.attrs
        rows.append(
            {
                "time": to_datetime(t),
                "start_time": to_datetime(start) if start else None,
                "start_ns": start,  # used for cumulative->delta, not stored
                "developer_id": batch.developer_id,
                "batch_id": batch.batch_id,
                "agent": adapter.name,
                "service_version": as_str(p.resource.get("service.version")),
                "session_id": as_str(attrs.get("session.id")),
                "name": p.name,
                "unit": p.unit,
                "kind": p.kind,
                "temporality": p.temporality,
                "is_monotonic": p.is_monotonic,
                "value": p.value,
                "raw_value": p.value,
                "count": p.count,
                "sum": p.sum,
                "bucket_counts": p.bucket_counts,
                "explicit_bounds": p.explicit_bounds,
                "type": as_str(attrs.get("type")),
                "model": as_str(attrs.get("model")),
                "attributes": limiter.cut_map(attrs),
                "resource": limiter.cut_map(p.resource),
            }
        )
    out.metrics.extend(rows)
    out.truncated += limiter.count


def _spans(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    limiter = _Limiter(options.max_attribute_length)
    received = batch.received_at_ns
    rows: list[dict[str, Any]] = []
    for s in otlp.walk("traces", batch.encoding, batch.payload):
        adapter = adapter_for(s.resource, s.scope)
        start, _ = sane_time_ns(s.start_ns, received_ns=received)
        end = s.end_ns if s.end_ns >= start else start
        attrs = dict(s.attrs)
        if not options.store_content:
            for key in (*adapter.content_keys, "user_prompt"):
                attrs.pop(key, None)
        rows.append(
            {
                "start_time": to_datetime(start),
                "end_time": to_datetime(end),
                "developer_id": batch.developer_id,
                "batch_id": batch.batch_id,
                "agent": adapter.name,
                "service_name": as_str(s.resource.get("service.name")),
                "trace_id": s.trace_id,
                "span_id": s.span_id,
                "parent_span_id": s.parent_span_id or None,
                "name": s.name,
                "kind": s.kind,
                "duration_ms": (end - start) / 1e6,
                "status_code": s.status_code,
                "status_message": s.status_message or None,
                "session_id": as_str(attrs.get("session.id")),
                "prompt_id": as_str(attrs.get("prompt.id")),
                "attributes": limiter.cut_map(attrs),
                "resource": limiter.cut_map(s.resource),
                "events": limiter.cut(orjson.dumps(s.events).decode()) if s.events else None,
            }
        )
    out.spans.extend(rows)
    out.truncated += limiter.count


__all__ = [
    "DAY_NS",
    "TRUNCATION_MARKER",
    "EventColumns",
    "NormalizeOptions",
    "Normalized",
    "by_date",
    "normalize",
    "rows_to_table",
    "sane_time_ns",
    "to_datetime",
]
