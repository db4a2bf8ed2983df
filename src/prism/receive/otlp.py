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
from collections import Counter
from collections.abc import Iterator
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
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
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from prism.errors import BadRequest

Attrs = dict[str, Any]

REQUEST_TYPES: dict[str, Any] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}
RESPONSE_TYPES: dict[str, Any] = {
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
    count: int | None  # type: ignore[assignment]  # shadows tuple.count on purpose
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
        if signal == "logs":
            fast = _pb_logs_flat(payload)
            if fast is not None:
                return iter(fast)
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


# Logs are the volume, and walking them attribute by attribute through protobuf objects costs
# about half a microsecond per attribute (two wrapper objects, a WhichOneof, a getter): a Claude
# Code event has ~20. The flat path reads the same bytes through private, wire-compatible views
# of the OTLP messages in which each record's attributes form ONE message (protobuf merges
# repeated occurrences of a singular message field, so its repeated `key`/`value` fields fill
# up in wire order) and all the AnyValues of a scope are parsed by ONE call into per-type lists.
# Python then only pairs them up. Anything not in the canonical form every OTLP SDK writes (a
# KeyValue without key or value, an AnyValue with two fields) makes it return None, and the
# reference walker above handles the request.


def _pb_flat_types() -> dict[str, Any]:
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="prism/otlp_flat_logs.proto", package="prism.otlp_flat", syntax="proto3"
    )
    layouts: dict[str, list[tuple[int, str, int, bool, str]]] = {
        "Request": [(1, "resource_logs", F.TYPE_MESSAGE, True, "ResourceLogs")],
        "ResourceLogs": [
            (1, "resource", F.TYPE_BYTES, False, ""),
            (2, "scope_logs", F.TYPE_MESSAGE, True, "ScopeLogs"),
        ],
        "ScopeLogs": [
            (1, "scope", F.TYPE_BYTES, False, ""),
            (2, "log_records", F.TYPE_MESSAGE, True, "LogRecord"),
        ],
        "LogRecord": [
            (1, "time_unix_nano", F.TYPE_FIXED64, False, ""),
            (3, "severity_text", F.TYPE_STRING, False, ""),
            (5, "body", F.TYPE_BYTES, False, ""),
            (6, "attributes", F.TYPE_MESSAGE, False, "KeyValues"),  # singular: merged
            (9, "trace_id", F.TYPE_BYTES, False, ""),
            (10, "span_id", F.TYPE_BYTES, False, ""),
            (11, "observed_time_unix_nano", F.TYPE_FIXED64, False, ""),
        ],
        "KeyValues": [
            (1, "key", F.TYPE_STRING, True, ""),
            (2, "value", F.TYPE_BYTES, True, ""),
        ],
        # The same records with each KeyValue kept whole: how many each record has.
        "CountRequest": [(1, "resource_logs", F.TYPE_MESSAGE, True, "CountResourceLogs")],
        "CountResourceLogs": [(2, "scope_logs", F.TYPE_MESSAGE, True, "CountScopeLogs")],
        "CountScopeLogs": [(2, "log_records", F.TYPE_MESSAGE, True, "CountLogRecord")],
        "CountLogRecord": [(6, "attributes", F.TYPE_BYTES, True, "")],
        "AnyValues": [
            (1, "string_value", F.TYPE_STRING, True, ""),
            (2, "bool_value", F.TYPE_BOOL, True, ""),
            (3, "int_value", F.TYPE_INT64, True, ""),
            (4, "double_value", F.TYPE_DOUBLE, True, ""),
            (5, "array_value", F.TYPE_BYTES, True, ""),
            (6, "kvlist_value", F.TYPE_BYTES, True, ""),
            (7, "bytes_value", F.TYPE_BYTES, True, ""),
        ],
    }
    for name, fields in layouts.items():
        message = file.message_type.add(name=name)
        for number, field_name, kind, repeated, type_name in fields:
            f = message.field.add(name=field_name, number=number, type=kind)
            f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            if type_name:
                f.type_name = f".prism.otlp_flat.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prism.otlp_flat.{name}"))
        for name in layouts
    }


_PB_FLAT = _pb_flat_types()
_first_byte = itemgetter(slice(0, 1))
_attributes_of = attrgetter("attributes")
_keys_of = attrgetter("key")
_values_of = attrgetter("value")
_body_of = attrgetter("body")
_NONES = repeat(None)
# First byte of a serialised AnyValue with one field: the tag of the field that is set.
_SCALAR_TAGS = {
    b"\n": "string_value",
    b"\x10": "bool_value",
    b"\x18": "int_value",
    b"!": "double_value",
}
_NESTED_TAGS = (b"*", b"2", b":")  # array_value, kvlist_value, bytes_value


def _pb_any_values(raw: list[bytes]) -> list[Any] | None:
    """Decode serialised AnyValues (in order) with one parse; None when one is not canonical."""
    if not raw:
        return []
    flat = _PB_FLAT["AnyValues"].FromString(b"".join(raw))
    tags = list(map(_first_byte, raw))
    counts = Counter(tags)
    sources: dict[bytes, Iterator[Any]] = {b"": _NONES}  # an AnyValue with nothing set
    for tag, field_name in _SCALAR_TAGS.items():
        values = getattr(flat, field_name)
        if counts.get(tag, 0) != len(values):
            return None
        sources[tag] = iter(values)
    nested = sum(counts.get(tag, 0) for tag in _NESTED_TAGS)
    if nested != len(flat.array_value) + len(flat.kvlist_value) + len(flat.bytes_value):
        return None
    if nested:
        decoded = iter([_pb_value(AnyValue.FromString(v)) for v in raw if v[:1] in _NESTED_TAGS])
        for tag in _NESTED_TAGS:
            sources[tag] = decoded
    if not counts.keys() <= sources.keys():  # a value that starts with no AnyValue field
        return None
    return list(map(next, map(sources.__getitem__, tags)))


def _pb_logs_flat(payload: bytes) -> list[LogItem] | None:
    """The log records of `payload`, as `_pb_logs` yields them; None: use `_pb_logs`."""
    items: list[LogItem] = []
    counted = _PB_FLAT["CountRequest"].FromString(payload).resource_logs
    for rl, rl_counted in zip(
        _PB_FLAT["Request"].FromString(payload).resource_logs, counted, strict=True
    ):
        resource = _pb_attrs(Resource.FromString(rl.resource).attributes)
        for sl, sl_counted in zip(rl.scope_logs, rl_counted.scope_logs, strict=True):
            scope = InstrumentationScope.FromString(sl.scope).name
            records = sl.log_records
            kvs = list(map(_attributes_of, records))
            # Every KeyValue must bring exactly one key and one value, or pairs would shift.
            per_record = list(map(len, map(_attributes_of, sl_counted.log_records)))
            if list(map(len, map(_keys_of, kvs))) != per_record or per_record != list(
                map(len, map(_values_of, kvs))
            ):
                return None
            values = _pb_any_values(list(chain.from_iterable(map(_values_of, kvs))))
            bodies = _pb_any_values(list(map(_body_of, records)))
            if values is None or bodies is None:
                return None
            at = 0
            for r, kv, body, n in zip(records, kvs, bodies, per_record, strict=True):
                end = at + n
                items.append(
                    LogItem(
                        resource,
                        scope,
                        r.time_unix_nano,
                        r.observed_time_unix_nano,
                        r.severity_text,
                        body,
                        dict(zip(kv.key, values[at:end], strict=True)),
                        r.trace_id.hex(),
                        r.span_id.hex(),
                    )
                )
                at = end
    return items


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
                        # `sum` is optional in histogram points: absent is unknown, not 0.0
                        count = _count(p.count)
                        total = float(p.sum) if p.HasField("sum") else None
                        if kind == "histogram":
                            buckets = [_count(x) for x in p.bucket_counts]
                            bounds = list(p.explicit_bounds)
                        value = total
                    else:  # summary
                        count, total = _count(p.count), float(p.sum)
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


def _count(n: int) -> int:
    """Counts are uint64 on the wire (and unbounded in JSON); the lake stores int64."""
    return min(max(n, 0), 2**63 - 1)


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
                    count, total = _count(_int(p.get("count", 0))), _float(p.get("sum"))
                    if kind == "summary" and "sum" not in p:
                        total = 0.0  # a plain double: proto3 JSON omits it when it is 0.0
                    value = total
                    if kind == "histogram":
                        buckets = [_count(_int(x)) for x in p.get("bucketCounts") or []]
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
            raw_status = s.get("status")
            status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
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
            raw_events = s.get("events")
            events: list[Any] = raw_events if isinstance(raw_events, list) else []
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
