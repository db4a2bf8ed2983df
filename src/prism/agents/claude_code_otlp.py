"""Build OTLP requests shaped exactly like Claude Code's exports (the inverse of the adapter).

Used where Prism must produce Claude Code telemetry itself and send it through the real ingest
path: the scenario tests, the benchmarks and `prism demo`. The shape follows the captured
2.1.197 payloads: body `claude_code.<event>`, `event.name`, `event.sequence`, `event.timestamp`,
scope `com.anthropic.claude_code.events`, resource `service.name=claude-code`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

SERVICE_VERSION = "2.1.197"
EVENTS_SCOPE = "com.anthropic.claude_code.events"
METRICS_SCOPE = "com.anthropic.claude_code"

# lake column -> Claude Code attribute key
_ATTRS: dict[str, str] = {
    "session_id": "session.id",
    "prompt_id": "prompt.id",
    "model": "model",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_creation_tokens": "cache_creation_tokens",
    "duration_ms": "duration_ms",
    "tool_name": "tool_name",
    "tool_use_id": "tool_use_id",
    "success": "success",
    "decision": "decision",
    "decision_source": "source",
    "error": "error",
    "status_code": "status_code",
    "attempt": "attempt",
    "prompt": "prompt",
    "prompt_length": "prompt_length",
    "response": "response",
    "response_length": "response_length",
    "tool_parameters": "tool_parameters",
    "tool_input": "tool_input",
    "request_id": "request_id",
    "query_source": "query_source",
}


def _value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def _kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=_value(value))


def _ns(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1_000_000) * 1000


def _resource(version: str) -> list[KeyValue]:
    return [
        _kv("host.arch", "amd64"),
        _kv("os.type", "linux"),
        _kv("service.name", "claude-code"),
        _kv("service.version", version),
    ]


def event_record_attrs(event: Mapping[str, Any], sequence: int) -> list[KeyValue]:
    """Attributes of one event, typed the way Claude Code 2.1.197 types them."""
    t: datetime = event["time"]
    attrs = [
        _kv("user.id", event.get("agent_user_id") or "0" * 64),
        _kv("session.id", event["session_id"]),
        _kv("terminal.type", "non-interactive"),
        _kv("event.name", event["event_name"]),
        _kv("event.timestamp", t.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"),
        _kv("event.sequence", sequence),
    ]
    for column, key in _ATTRS.items():
        if column == "session_id":
            continue
        value = event.get(column)
        if value is None:
            continue
        if column in ("prompt_length", "duration_ms") or column == "success":
            value = str(value).lower() if isinstance(value, bool) else str(value)
        attrs.append(_kv(key, value))
    cost = event.get("cost_micro_usd")
    if cost is not None:
        attrs.append(_kv("cost_usd", cost / 1_000_000))
        attrs.append(_kv("cost_usd_micros", int(cost)))
    for key, value in (event.get("attributes") or {}).items():
        attrs.append(_kv(key, value))
    return attrs


def logs_request(
    events: Iterable[Mapping[str, Any]], *, version: str = SERVICE_VERSION, first_sequence: int = 0
) -> ExportLogsServiceRequest:
    """One ExportLogsServiceRequest holding `events` (dicts with lake column names)."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.extend(_resource(version))
    sl = rl.scope_logs.add()
    sl.scope.name = EVENTS_SCOPE
    sl.scope.version = version
    for i, event in enumerate(events):
        rec = sl.log_records.add()
        ns = _ns(event["time"])
        rec.time_unix_nano = ns
        rec.observed_time_unix_nano = ns
        rec.body.string_value = f"claude_code.{event['event_name']}"
        seq = event.get("event_sequence")
        rec.attributes.extend(event_record_attrs(event, first_sequence + i if seq is None else seq))
    return request


def metrics_request(
    points: Iterable[Mapping[str, Any]], *, version: str = SERVICE_VERSION
) -> ExportMetricsServiceRequest:
    """Delta monotonic sums, one datapoint per dict {name, time, start_time, value, session_id,
    attributes}; the shape of Claude Code's default (delta) metrics export."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(_resource(version))
    sm = rm.scope_metrics.add()
    sm.scope.name = METRICS_SCOPE
    sm.scope.version = version
    by_name: dict[str, Any] = {}
    for p in points:
        metric = by_name.get(p["name"])
        if metric is None:
            metric = sm.metrics.add()
            metric.name = p["name"]
            metric.unit = p.get("unit", "")
            metric.sum.aggregation_temporality = 1
            metric.sum.is_monotonic = True
            by_name[p["name"]] = metric
        dp = metric.sum.data_points.add()
        dp.start_time_unix_nano = _ns(p.get("start_time", p["time"]))
        dp.time_unix_nano = _ns(p["time"])
        dp.as_double = float(p["value"])
        dp.attributes.extend([_kv("session.id", p["session_id"])])
        dp.attributes.extend(_kv(k, v) for k, v in (p.get("attributes") or {}).items())
    return request
