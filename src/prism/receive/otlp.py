"""OTLP payloads: validate at ingest, walk into plain Python records for the lake writer.

This is the only module that touches protobuf messages or raw OTLP/JSON. It yields neutral
records (`LogItem`, `PointItem`, `SpanItem`) whose attributes are plain dicts of Python values;
`prism.agents` maps them onto the lake's columns. The protobuf and JSON walkers produce identical
records for the same data (a round-trip test pins this).

OTLP/JSON as real exporters send it is looser than the spec: Claude Code's JavaScript exporter
sends `intValue` as a JSON number and timestamps as decimal strings, and some versions send a
malformed `{"doubleValue": {}}`. The JSON walker accepts all of these.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from prism.errors import BadRequest

Attrs = dict[str, Any]

REQUEST_TYPES = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}
RESPONSE_TYPES = {
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "traces": ExportTraceServiceResponse,
}
_RESOURCE_KEY = {"logs": "resourceLogs", "metrics": "resourceMetrics", "traces": "resourceSpans"}
_SCOPE_KEY = {"logs": "scopeLogs", "metrics": "scopeMetrics", "traces": "scopeSpans"}
_ITEM_KEY = {"logs": "logRecords", "metrics": "metrics", "traces": "spans"}
_TEMPORALITY = {0: "unspecified", 1: "delta", 2: "cumulative"}
_SPAN_KIND = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}
_STATUS = {0: "unset", 1: "ok", 2: "error"}
_POINT_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")
_PB_POINT_KINDS = {
    "sum": "sum",
    "gauge": "gauge",
    "histogram": "histogram",
    "exponential_histogram": "exponential_histogram",
    "summary": "summary",
}


class LogItem(NamedTuple):
    resource: Attrs
    scope: str
    time_ns: int
    observed_ns: int
    severity_text: str
    body: Any
    attrs: Attrs
    trace_id: str
    span_id: str


class PointItem(NamedTuple):
    resource: Attrs
    scope: str
    name: str
    unit: str
    kind: str
    temporality: str
    is_monotonic: bool
    start_ns: int
    time_ns: int
    value: float | None
    count: int | None
    sum: float | None
    bucket_counts: list[int] | None
    explicit_bounds: list[float] | None
    attrs: Attrs


class SpanItem(NamedTuple):
    resource: Attrs
    scope: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str
    attrs: Attrs
    events: list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Validation at ingest: decode enough to answer 400 for garbage and to count records.
# --------------------------------------------------------------------------------------------


class Checked(NamedTuple):
    records: int
    rejected: int
    message: str


def check(signal: str, encoding: str, payload: bytes) -> Checked:
    """Decode `payload` once to prove it is well-formed and count its records."""
    if encoding == "protobuf":
        try:
            request = REQUEST_TYPES[signal].FromString(payload)
        except (DecodeError, ValueError, RecursionError) as exc:
            raise BadRequest(f"Body is not a valid OTLP {signal} protobuf message: {exc}") from None
        return Checked(_count_pb(signal, request), 0, "")
    try:
        doc = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadRequest("OTLP/JSON body must be a JSON object")
    return _count_json(signal, doc)


def _count_pb(signal: str, request: Any) -> int:
    n = 0
    if signal == "logs":
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                n += len(sl.log_records)
    elif signal == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                n += len(ss.spans)
    else:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is not None:
                        n += len(getattr(m, kind).data_points)
    return n


def _count_json(signal: str, doc: dict[str, Any]) -> Checked:
    resources = doc.get(_RESOURCE_KEY[signal], [])
    if not isinstance(resources, list):
        raise BadRequest(f"{_RESOURCE_KEY[signal]} must be a list")
    n = rejected = 0
    for r in resources:
        if not isinstance(r, dict):
            raise BadRequest(f"{_RESOURCE_KEY[signal]} entries must be objects")
        for s in r.get(_SCOPE_KEY[signal]) or []:
            if not isinstance(s, dict):
                raise BadRequest(f"{_SCOPE_KEY[signal]} entries must be objects")
            items = s.get(_ITEM_KEY[signal]) or []
            if not isinstance(items, list):
                raise BadRequest(f"{_ITEM_KEY[signal]} must be a list")
            for item in items:
                if not isinstance(item, dict):
                    rejected += 1
                elif signal == "metrics":
                    points = _json_points(item)
                    n += sum(1 for p in points if isinstance(p, dict))
                    rejected += sum(1 for p in points if not isinstance(p, dict))
                else:
                    n += 1
    message = f"{rejected} records were not JSON objects and were dropped" if rejected else ""
    return Checked(n, rejected, message)


def _json_points(metric: dict[str, Any]) -> list[Any]:
    for kind in _POINT_KINDS:
        data = metric.get(kind)
        if isinstance(data, dict):
            points = data.get("dataPoints") or []
            return points if isinstance(points, list) else []
    return []


def success_response(signal: str, rejected: int, message: str, *, as_json: bool) -> bytes:
    """The Export*ServiceResponse, with partial_success when some records were dropped."""
    if as_json:
        if not rejected:
            return b"{}"
        field = (
            "rejectedDataPoints"
            if signal == "metrics"
            else ("rejectedLogRecords" if signal == "logs" else "rejectedSpans")
        )
        return orjson.dumps({"partialSuccess": {field: rejected, "errorMessage": message}})
    response = RESPONSE_TYPES[signal]()
    if rejected:
        ps = response.partial_success
        if signal == "metrics":
            ps.rejected_data_points = rejected
        elif signal == "logs":
            ps.rejected_log_records = rejected
        else:
            ps.rejected_spans = rejected
        ps.error_message = message
    return response.SerializeToString()


# --------------------------------------------------------------------------------------------
# Walking: payload -> neutral records (used by the lake writer).
# --------------------------------------------------------------------------------------------


def walk(signal: str, encoding: str, payload: bytes) -> Iterator[Any]:
    if encoding == "protobuf":
        request = REQUEST_TYPES[signal].FromString(payload)
        return {"logs": _pb_logs, "metrics": _pb_metrics, "traces": _pb_spans}[signal](request)
    doc = orjson.loads(payload) if payload else {}
    return {"logs": _json_logs, "metrics": _json_metrics, "traces": _json_spans}[signal](doc)


# --- protobuf ---------------------------------------------------------------------------------


def _pb_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def _pb_attrs(kvs: Any) -> Attrs:
    out: Attrs = {}
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "string_value":
            out[kv.key] = v.string_value
        elif kind == "int_value":
            out[kv.key] = v.int_value
        else:
            out[kv.key] = _pb_value(v)
    return out


def _pb_logs(request: Any) -> Iterator[LogItem]:
    for rl in request.resource_logs:
        resource = _pb_attrs(rl.resource.attributes)
        for sl in rl.scope_logs:
            scope = sl.scope.name
            for r in sl.log_records:
                yield LogItem(
                    resource,
                    scope,
                    r.time_unix_nano,
                    r.observed_time_unix_nano,
                    r.severity_text,
                    _pb_value(r.body),
                    _pb_attrs(r.attributes),
                    r.trace_id.hex(),
                    r.span_id.hex(),
                )


def _pb_metrics(request: Any) -> Iterator[PointItem]:
    for rm in request.resource_metrics:
        resource = _pb_attrs(rm.resource.attributes)
        for sm in rm.scope_metrics:
            scope = sm.scope.name
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(m, kind)
                temporality = _TEMPORALITY.get(getattr(data, "aggregation_temporality", 0), "")
                monotonic = bool(getattr(data, "is_monotonic", False))
                for p in data.data_points:
                    value = count = total = buckets = bounds = None
                    if kind in ("sum", "gauge"):
                        which = p.WhichOneof("value")
                        value = float(p.as_int) if which == "as_int" else p.as_double
                    elif kind in ("histogram", "exponential_histogram"):
                        count, total = int(p.count), float(p.sum)
                        if kind == "histogram":
                            buckets = list(p.bucket_counts)
                            bounds = list(p.explicit_bounds)
                        value = total
                    else:  # summary
                        count, total = int(p.count), float(p.sum)
                        value = total
                    yield PointItem(
                        resource,
                        scope,
                        m.name,
                        m.unit,
                        _PB_POINT_KINDS[kind],
                        temporality if kind != "gauge" else "unspecified",
                        monotonic,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        value,
                        count,
                        total,
                        buckets,
                        bounds,
                        _pb_attrs(p.attributes),
                    )


def _pb_spans(request: Any) -> Iterator[SpanItem]:
    for rs in request.resource_spans:
        resource = _pb_attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = ss.scope.name
            for s in ss.spans:
                yield SpanItem(
                    resource,
                    scope,
                    s.trace_id.hex(),
                    s.span_id.hex(),
                    s.parent_span_id.hex(),
                    s.name,
                    _SPAN_KIND.get(s.kind, "unspecified"),
                    s.start_time_unix_nano,
                    s.end_time_unix_nano,
                    _STATUS.get(s.status.code, "unset"),
                    s.status.message,
                    _pb_attrs(s.attributes),
                    [
                        {
                            "time_unix_nano": e.time_unix_nano,
                            "name": e.name,
                            "attributes": _pb_attrs(e.attributes),
                        }
                        for e in s.events
                    ],
                )


# --- JSON -------------------------------------------------------------------------------------


def _int(v: Any) -> int:
    """OTLP/JSON 64-bit ints: decimal strings per spec, JSON numbers from some exporters."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return int(float(v))
            except ValueError:
                return 0
    return 0


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None  # e.g. the malformed {"doubleValue": {}} some Claude Code versions send


def _json_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return None
    if "stringValue" in v:
        s = v["stringValue"]
        return s if isinstance(s, str) else str(s)
    if "intValue" in v:
        return _int(v["intValue"])
    if "doubleValue" in v:
        return _float(v["doubleValue"])
    if "boolValue" in v:
        b = v["boolValue"]
        return b if isinstance(b, bool) else str(b).lower() == "true"
    if "arrayValue" in v:
        arr = v["arrayValue"]
        values = arr.get("values", []) if isinstance(arr, dict) else []
        return [_json_value(x) for x in values] if isinstance(values, list) else []
    if "kvlistValue" in v:
        kv = v["kvlistValue"]
        values = kv.get("values", []) if isinstance(kv, dict) else []
        return _json_attrs(values)
    if "bytesValue" in v:
        return v["bytesValue"] if isinstance(v["bytesValue"], str) else None
    return None


def _json_attrs(kvs: Any) -> Attrs:
    out: Attrs = {}
    if not isinstance(kvs, list):
        return out
    for kv in kvs:
        if isinstance(kv, dict):
            key = kv.get("key")
            if isinstance(key, str):
                out[key] = _json_value(kv.get("value"))
    return out


def _json_id(v: Any) -> str:
    """Trace and span ids are hex in OTLP/JSON (not base64, unlike proto3's JSON mapping)."""
    return v.lower() if isinstance(v, str) else ""


def _json_resources(doc: dict[str, Any], signal: str) -> Iterator[tuple[Attrs, str, Any]]:
    for r in doc.get(_RESOURCE_KEY[signal]) or []:
        if not isinstance(r, dict):
            continue
        res = r.get("resource")
        resource = _json_attrs(res.get("attributes")) if isinstance(res, dict) else {}
        for s in r.get(_SCOPE_KEY[signal]) or []:
            if not isinstance(s, dict):
                continue
            sc = s.get("scope")
            scope = sc.get("name", "") if isinstance(sc, dict) else ""
            items = s.get(_ITEM_KEY[signal]) or []
            if isinstance(items, list):
                yield resource, scope if isinstance(scope, str) else "", items


def _json_logs(doc: dict[str, Any]) -> Iterator[LogItem]:
    for resource, scope, records in _json_resources(doc, "logs"):
        for r in records:
            if not isinstance(r, dict):
                continue
            sev = r.get("severityText", "")
            yield LogItem(
                resource,
                scope,
                _int(r.get("timeUnixNano", 0)),
                _int(r.get("observedTimeUnixNano", 0)),
                sev if isinstance(sev, str) else "",
                _json_value(r.get("body")),
                _json_attrs(r.get("attributes")),
                _json_id(r.get("traceId")),
                _json_id(r.get("spanId")),
            )


def _json_metrics(doc: dict[str, Any]) -> Iterator[PointItem]:
    for resource, scope, metrics in _json_resources(doc, "metrics"):
        for m in metrics:
            if not isinstance(m, dict):
                continue
            for kind in _POINT_KINDS:
                data = m.get(kind)
                if isinstance(data, dict):
                    break
            else:
                continue
            temporality = _TEMPORALITY.get(_temporality(data.get("aggregationTemporality")), "")
            monotonic = bool(data.get("isMonotonic", False))
            points = data.get("dataPoints") or []
            out_kind = "exponential_histogram" if kind == "exponentialHistogram" else kind
            name, unit = str(m.get("name", "")), str(m.get("unit", ""))
            for p in points if isinstance(points, list) else []:
                if not isinstance(p, dict):
                    continue
                value = count = total = buckets = bounds = None
                if kind in ("sum", "gauge"):
                    value = _float(p["asInt"]) if "asInt" in p else _float(p.get("asDouble"))
                else:
                    count, total = _int(p.get("count", 0)), _float(p.get("sum"))
                    value = total
                    if kind == "histogram":
                        buckets = [_int(x) for x in p.get("bucketCounts") or []]
                        bounds = [_float(x) or 0.0 for x in p.get("explicitBounds") or []]
                yield PointItem(
                    resource,
                    scope,
                    name,
                    unit,
                    out_kind,
                    temporality if kind != "gauge" else "unspecified",
                    monotonic,
                    _int(p.get("startTimeUnixNano", 0)),
                    _int(p.get("timeUnixNano", 0)),
                    value,
                    count,
                    total,
                    buckets,
                    bounds,
                    _json_attrs(p.get("attributes")),
                )


def _temporality(v: Any) -> int:
    if isinstance(v, str):
        return {"AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2}.get(
            v, _int(v)
        )
    return _int(v)


def _json_spans(doc: dict[str, Any]) -> Iterator[SpanItem]:
    for resource, scope, spans in _json_resources(doc, "traces"):
        for s in spans:
            if not isinstance(s, dict):
                continue
            status = s.get("status") if isinstance(s.get("status"), dict) else {}
            kind = s.get("kind", 0)
            kind_name = (
                kind.removeprefix("SPAN_KIND_").lower()
                if isinstance(kind, str)
                else _SPAN_KIND.get(_int(kind), "unspecified")
            )
            code = status.get("code", 0)
            code_name = (
                code.removeprefix("STATUS_CODE_").lower()
                if isinstance(code, str)
                else _STATUS.get(_int(code), "unset")
            )
            events = s.get("events") if isinstance(s.get("events"), list) else []
            yield SpanItem(
                resource,
                scope,
                _json_id(s.get("traceId")),
                _json_id(s.get("spanId")),
                _json_id(s.get("parentSpanId")),
                str(s.get("name", "")),
                kind_name,
                _int(s.get("startTimeUnixNano", 0)),
                _int(s.get("endTimeUnixNano", 0)),
                code_name,
                str(status.get("message", "")),
                _json_attrs(s.get("attributes")),
                [
                    {
                        "time_unix_nano": _int(e.get("timeUnixNano", 0)),
                        "name": str(e.get("name", "")),
                        "attributes": _json_attrs(e.get("attributes")),
                    }
                    for e in events
                    if isinstance(e, dict)
                ],
            )
