"""Queued batches -> typed lake rows (one dict per row, keyed by lake column).

Decoding goes through `prism.receive.otlp` (the only OTLP-aware module) and attribute mapping
through the agent's adapter; this module adds what is the lake's business: the owner columns,
sane timestamps, the length limit on strings, and the privacy switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from prism.agents import adapter_for
from prism.agents.base import as_str
from prism.queue.base import Batch
from prism.receive import otlp

TRUNCATION_MARKER = "…[truncated]"
_MIN_NS = 946_684_800 * 10**9  # 2000-01-01: anything older is a missing or broken clock
_MAX_SKEW_NS = 24 * 3600 * 10**9  # up to a day ahead is clock skew; beyond is a broken clock


@dataclass(frozen=True, slots=True)
class NormalizeOptions:
    max_attribute_length: int = 65536
    store_content: bool = True


@dataclass(slots=True)
class Normalized:
    """Rows of one or more batches, by table."""

    events: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    truncated: int = 0
    skipped: int = 0

    def table(self, name: str) -> list[dict[str, Any]]:
        return {"events": self.events, "metrics": self.metrics, "spans": self.spans}[name]


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
        out = []
        limit = self.limit
        for k, v in attrs.items():
            s = v if isinstance(v, str) else as_str(v)
            if s is not None and len(s) > limit:
                self.count += 1
                s = s[:limit] + TRUNCATION_MARKER
            out.append((k[:limit], s))
        return out


_EVENT_TEXT_COLUMNS = (
    "prompt",
    "response",
    "tool_parameters",
    "tool_input",
    "error",
    "body",
)


def normalize(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    """Append the rows of `batch` to `out`."""
    if batch.signal == "logs":
        _logs(batch, options, out)
    elif batch.signal == "metrics":
        _metrics(batch, options, out)
    else:
        _spans(batch, options, out)


def _logs(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    limiter = _Limiter(options.max_attribute_length)
    received = batch.received_at_ns
    rows = out.events
    for item in otlp.walk("logs", batch.encoding, batch.payload):
        adapter = adapter_for(item.resource, item.scope)
        attrs = item.attrs
        name = adapter.event_name(item.body, attrs)
        cols, rest = adapter.map_event(attrs)
        if not options.store_content:
            for key in adapter.content_keys:
                rest.pop(key, None)
            cols.pop("prompt", None)
            cols.pop("response", None)
            cols.pop("tool_input", None)
        ts = item.time_ns
        if ts == 0 and isinstance(attrs.get("event.timestamp"), str):
            ts = _iso_ns(attrs["event.timestamp"])
        ts, replaced = sane_time_ns(ts, item.observed_ns, received_ns=received)
        if replaced:
            rest["prism.original_time_unix_nano"] = str(item.time_ns)
        body = item.body if isinstance(item.body, str) else as_str(item.body)
        if name is not None and body == f"{adapter.name.replace('_', '_')}.{name}":
            body = None  # the body only repeats the event name; do not store it twice
        row = cols
        row["time"] = to_datetime(ts)
        row["observed_time"] = to_datetime(item.observed_ns or received)
        row["developer_id"] = batch.developer_id
        row["batch_id"] = batch.batch_id
        row["agent"] = adapter.name
        row["service_name"] = as_str(item.resource.get("service.name"))
        row["service_version"] = as_str(item.resource.get("service.version"))
        row["event_name"] = name or "log"
        row["trace_id"] = item.trace_id or None
        row["span_id"] = item.span_id or None
        row["severity_text"] = item.severity_text or None
        row["body"] = body
        for col in _EVENT_TEXT_COLUMNS:
            if col in row:
                row[col] = limiter.cut(row[col])
        row["attributes"] = limiter.cut_map(rest)
        row["resource"] = limiter.cut_map(item.resource)
        row["truncated"] = limiter.count
        limiter.count, out.truncated = 0, out.truncated + limiter.count
        rows.append(row)


def _iso_ns(text: str) -> int:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)
    except ValueError:
        return 0


def _metrics(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    limiter = _Limiter(options.max_attribute_length)
    received = batch.received_at_ns
    for p in otlp.walk("metrics", batch.encoding, batch.payload):
        adapter = adapter_for(p.resource, p.scope)
        t, _ = sane_time_ns(p.time_ns, received_ns=received)
        start = p.start_ns if _MIN_NS <= p.start_ns <= t else 0
        attrs = p.attrs
        out.metrics.append(
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
    out.truncated += limiter.count


def _spans(batch: Batch, options: NormalizeOptions, out: Normalized) -> None:
    limiter = _Limiter(options.max_attribute_length)
    received = batch.received_at_ns
    for s in otlp.walk("traces", batch.encoding, batch.payload):
        adapter = adapter_for(s.resource, s.scope)
        start, _ = sane_time_ns(s.start_ns, received_ns=received)
        end = s.end_ns if s.end_ns >= start else start
        attrs = dict(s.attrs)
        if not options.store_content:
            for key in (*adapter.content_keys, "user_prompt"):
                attrs.pop(key, None)
        out.spans.append(
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
    out.truncated += limiter.count
