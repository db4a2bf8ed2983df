"""OTLP at the edge: validation, the protobuf/JSON walkers, Claude Code's coercions, body limits.

Requests are built with the real opentelemetry-proto classes; their OTLP/JSON twin is made with
google.protobuf.json_format (camelCase, 64-bit ints as strings) and then given hex trace/span
ids, which is where OTLP/JSON departs from proto3's JSON mapping.
"""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import anyio
import orjson
import pytest
from google.protobuf import json_format
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
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from prism.agents import adapter_for
from prism.agents.base import as_bool, as_int, usd_to_micros
from prism.agents.claude_code import ClaudeCodeAdapter
from prism.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from prism.lake.normalize import Normalized, NormalizeOptions, normalize
from prism.queue.base import Batch
from prism.receive import otlp
from prism.receive.body import inflate, read_limited

T0 = 1_760_000_000_000_000_000  # 2025-10-09, in ns
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")


# --- building real requests -----------------------------------------------------------------------


def any_value(v: Any) -> AnyValue:
    out = AnyValue()
    if isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, int):
        out.int_value = v
    elif isinstance(v, float):
        out.double_value = v
    elif isinstance(v, str):
        out.string_value = v
    elif isinstance(v, bytes):
        out.bytes_value = v
    elif isinstance(v, list):
        out.array_value.values.extend(any_value(x) for x in v)
    elif isinstance(v, dict):
        out.kvlist_value.values.extend(kv(k, x) for k, x in v.items())
    return out


def kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=any_value(value))


def set_attrs(target: Any, attrs: dict[str, Any]) -> None:
    target.extend(kv(k, v) for k, v in attrs.items())


RESOURCE = {
    "service.name": "claude-code",
    "service.version": "2.1.130",
    "host.arch": "arm64",
    "os.type": "darwin",
}
CC_ATTRS: dict[str, Any] = {
    "event.name": "api_request",
    "session.id": "sess-1",
    "prompt.id": "p-1",
    "event.sequence": 7,
    "model": "claude-sonnet-4-5",
    "input_tokens": 1200,
    "output_tokens": 85,
    "cost_usd": 0.020050000000000002,
    "duration_ms": 1534.5,
    "success": True,
    "tags": ["a", 2, 3.5, False],
    "nested": {"k": "v", "n": 1},
    "blob": b"\x00\x01\xfe",
    "empty": "",
}


def logs_request() -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    set_attrs(rl.resource.attributes, RESOURCE)
    sl = rl.scope_logs.add()
    sl.scope.name = "com.anthropic.claude_code.events"
    sl.scope.version = "2.1.130"
    rec = sl.log_records.add()
    rec.time_unix_nano = T0
    rec.observed_time_unix_nano = T0 + 5
    rec.severity_text = "INFO"
    rec.severity_number = 9
    rec.body.string_value = "claude_code.api_request"
    set_attrs(rec.attributes, CC_ATTRS)
    rec.trace_id = TRACE_ID
    rec.span_id = SPAN_ID
    # a second record: no timestamps, structured body, negative int
    rec2 = sl.log_records.add()
    rec2.body.kvlist_value.values.extend([kv("msg", "hello"), kv("n", -3)])
    set_attrs(rec2.attributes, {"event.name": "user_prompt", "prompt_length": -1})
    # a second resource with another scope
    rl2 = req.resource_logs.add()
    set_attrs(rl2.resource.attributes, {"service.name": "other"})
    rec3 = rl2.scope_logs.add().log_records.add()
    rec3.time_unix_nano = T0 + 1
    rec3.body.double_value = 2.5
    return req


def metrics_request() -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    set_attrs(rm.resource.attributes, RESOURCE)
    sm = rm.scope_metrics.add()
    sm.scope.name = "com.anthropic.claude_code"
    cost = sm.metrics.add(name="claude_code.cost.usage", unit="USD")
    cost.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    cost.sum.is_monotonic = True
    p = cost.sum.data_points.add(start_time_unix_nano=T0 - 10**9, time_unix_nano=T0)
    p.as_double = 0.125
    set_attrs(p.attributes, {"session.id": "sess-1", "model": "claude-sonnet-4-5"})
    tokens = sm.metrics.add(name="claude_code.token.usage", unit="tokens")
    tokens.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    tokens.sum.is_monotonic = True
    for i, kind in enumerate(("input", "output")):
        q = tokens.sum.data_points.add(start_time_unix_nano=T0 - 10**9, time_unix_nano=T0 + i)
        q.as_int = 1000 + i
        set_attrs(q.attributes, {"type": kind, "session.id": "sess-1"})
    gauge = sm.metrics.add(name="queue.depth")
    g = gauge.gauge.data_points.add(time_unix_nano=T0)
    g.as_double = 0.0  # a real zero must survive as 0.0 in both encodings
    hist = sm.metrics.add(name="claude_code.latency", unit="ms")
    hist.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    h = hist.histogram.data_points.add(start_time_unix_nano=T0 - 10**9, time_unix_nano=T0)
    h.count, h.sum = 6, 123.5
    h.bucket_counts.extend([1, 2, 3])
    h.explicit_bounds.extend([10.0, 100.0])
    summ = sm.metrics.add(name="summary.metric")
    s = summ.summary.data_points.add(time_unix_nano=T0, count=4, sum=9.5)
    set_attrs(s.attributes, {"k": "v"})
    sm.metrics.add(name="no.data")  # a metric with no data: not a point
    return req


def traces_request() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    set_attrs(rs.resource.attributes, RESOURCE)
    ss = rs.scope_spans.add()
    ss.scope.name = "com.anthropic.claude_code.tracing"
    span = ss.spans.add(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        parent_span_id=PARENT_ID,
        name="claude_code.llm_request",
        kind=trace_pb2.Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 2_500_000,
    )
    span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    span.status.message = "overloaded"
    set_attrs(span.attributes, {"session.id": "sess-1", "attempt": 2, "ok": False})
    ev = span.events.add(time_unix_nano=T0 + 1000, name="retry")
    set_attrs(ev.attributes, {"delay_ms": 250.0})
    root = ss.spans.add(trace_id=TRACE_ID, span_id=PARENT_ID, name="root", kind=1)
    root.start_time_unix_nano = T0 - 1
    root.end_time_unix_nano = T0 + 10**7
    return req


def to_otlp_json(message: Any, *, enums_as_ints: bool = True) -> bytes:
    """Proto3 JSON mapping, then OTLP's one exception: trace and span ids are hex, not base64."""
    doc = json_format.MessageToDict(message, use_integers_for_enums=enums_as_ints)
    return orjson.dumps(_hex_ids(doc))


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                base64.b64decode(v).hex()
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _hex_ids(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(x) for x in node]
    return node


REQUESTS = {"logs": logs_request, "metrics": metrics_request, "traces": traces_request}


# --- the walkers agree ----------------------------------------------------------------------------


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
@pytest.mark.parametrize("enums_as_ints", [True, False])
def test_protobuf_and_json_walkers_produce_identical_records(
    signal: str, enums_as_ints: bool
) -> None:
    request = REQUESTS[signal]()
    from_pb = list(otlp.walk(signal, "protobuf", request.SerializeToString()))
    from_json = list(otlp.walk(signal, "json", to_otlp_json(request, enums_as_ints=enums_as_ints)))
    assert from_pb, "the request must produce records"
    assert from_json == from_pb


def test_walked_log_records_carry_the_data() -> None:
    items = list(otlp.walk("logs", "protobuf", logs_request().SerializeToString()))
    assert len(items) == 3
    first = items[0]
    assert first.resource == RESOURCE
    assert first.scope == "com.anthropic.claude_code.events"
    assert (first.time_ns, first.observed_ns) == (T0, T0 + 5)
    assert first.body == "claude_code.api_request"
    assert first.trace_id == TRACE_ID.hex() and first.span_id == SPAN_ID.hex()
    assert first.attrs["input_tokens"] == 1200
    assert first.attrs["tags"] == ["a", 2, 3.5, False]
    assert first.attrs["nested"] == {"k": "v", "n": 1}
    assert first.attrs["blob"] == base64.b64encode(b"\x00\x01\xfe").decode()
    assert items[1].time_ns == 0 and items[1].body == {"msg": "hello", "n": -3}
    assert items[1].trace_id == ""
    assert items[2].resource == {"service.name": "other"} and items[2].body == 2.5


def test_walked_metric_points_carry_the_data() -> None:
    points = list(otlp.walk("metrics", "protobuf", metrics_request().SerializeToString()))
    by_name: dict[str, list[otlp.PointItem]] = {}
    for p in points:
        by_name.setdefault(p.name, []).append(p)
    assert "no.data" not in by_name
    (cost,) = by_name["claude_code.cost.usage"]
    assert (cost.kind, cost.temporality, cost.is_monotonic) == ("sum", "cumulative", True)
    assert cost.value == 0.125 and cost.start_ns == T0 - 10**9
    tokens = by_name["claude_code.token.usage"]
    assert [(t.value, t.attrs["type"], t.temporality) for t in tokens] == [
        (1000.0, "input", "delta"),
        (1001.0, "output", "delta"),
    ]
    (gauge,) = by_name["queue.depth"]
    assert (gauge.kind, gauge.temporality, gauge.value) == ("gauge", "unspecified", 0.0)
    (hist,) = by_name["claude_code.latency"]
    assert (hist.count, hist.sum, hist.value) == (6, 123.5, 123.5)
    assert hist.bucket_counts == [1, 2, 3] and hist.explicit_bounds == [10.0, 100.0]
    (summary,) = by_name["summary.metric"]
    assert (summary.kind, summary.count, summary.sum) == ("summary", 4, 9.5)


def test_walked_spans_carry_the_data() -> None:
    spans = list(otlp.walk("traces", "json", to_otlp_json(traces_request())))
    llm = spans[0]
    assert llm.trace_id == TRACE_ID.hex() and llm.parent_span_id == PARENT_ID.hex()
    assert (llm.kind, llm.status_code, llm.status_message) == ("client", "error", "overloaded")
    assert llm.end_ns - llm.start_ns == 2_500_000
    assert llm.attrs == {"session.id": "sess-1", "attempt": 2, "ok": False}
    assert llm.events == [
        {"time_unix_nano": T0 + 1000, "name": "retry", "attributes": {"delay_ms": 250.0}}
    ]
    assert spans[1].kind == "internal" and spans[1].parent_span_id == ""


def _metrics_with(kind: str) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    if kind == "histogram-without-sum":  # `sum` is optional in a histogram point
        hist = sm.metrics.add(name="hist.without.sum")
        hist.histogram.aggregation_temporality = 2
        hp = hist.histogram.data_points.add(time_unix_nano=T0, count=3)
        hp.bucket_counts.extend([1, 2])
        hp.explicit_bounds.append(5.0)
    else:  # a summary whose sum is 0.0: proto3 JSON omits the default value
        summ = sm.metrics.add(name="summary.zero.sum")
        summ.summary.data_points.add(time_unix_nano=T0, count=2, sum=0.0)
    return req


def test_histogram_without_sum_walks_identically() -> None:
    """The same point in both encodings must give the same record; an absent optional sum is
    unknown (None), not 0.0."""
    req = _metrics_with("histogram-without-sum")
    from_pb = list(otlp.walk("metrics", "protobuf", req.SerializeToString()))
    from_json = list(otlp.walk("metrics", "json", to_otlp_json(req)))
    assert from_json == from_pb
    assert from_pb[0].sum is None


def test_summary_with_zero_sum_walks_identically() -> None:
    """proto3 JSON leaves out a 0.0 sum; the JSON walker must read that as 0.0, as protobuf does."""
    req = _metrics_with("summary-zero-sum")
    from_pb = list(otlp.walk("metrics", "protobuf", req.SerializeToString()))
    from_json = list(otlp.walk("metrics", "json", to_otlp_json(req)))
    assert from_json == from_pb
    assert from_json[0].sum == 0.0 and from_json[0].count == 2


# --- OTLP/JSON as real exporters send it ----------------------------------------------------------


def _json_logs(
    records: list[dict[str, Any]], resource: list[dict[str, Any]] | None = None
) -> bytes:
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": resource or []},
                    "scopeLogs": [{"scope": {"name": "s"}, "logRecords": records}],
                }
            ]
        }
    )


def test_json_quirks_of_real_exporters() -> None:
    payload = _json_logs(
        [
            {
                "timeUnixNano": str(T0),  # decimal string per spec
                "observedTimeUnixNano": T0 + 1,  # a JSON number from the JS exporter
                "traceId": TRACE_ID.hex().upper(),
                "attributes": [
                    {"key": "n_num", "value": {"intValue": 42}},
                    {"key": "n_str", "value": {"intValue": "42"}},
                    {"key": "n_big", "value": {"intValue": "9223372036854775807"}},
                    {"key": "d_str", "value": {"doubleValue": "1.5"}},
                    {"key": "d_int", "value": {"doubleValue": 3}},
                    {"key": "d_broken", "value": {"doubleValue": {}}},
                    {"key": "b_str", "value": {"boolValue": "true"}},
                    {"key": "s_num", "value": {"stringValue": 7}},
                    {"key": "no_value"},
                    {"key": 5, "value": {"stringValue": "non-string key is skipped"}},
                    "not an object",
                ],
            }
        ]
    )
    (item,) = otlp.walk("logs", "json", payload)
    assert item.time_ns == T0 and item.observed_ns == T0 + 1
    assert item.trace_id == TRACE_ID.hex()
    assert item.attrs == {
        "n_num": 42,
        "n_str": 42,
        "n_big": 2**63 - 1,
        "d_str": 1.5,
        "d_int": 3.0,
        "d_broken": None,
        "b_str": True,
        "s_num": "7",
        "no_value": None,
    }
    assert isinstance(item.attrs["d_int"], float)


def test_json_metric_quirks() -> None:
    doc = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "m",
                                "sum": {
                                    "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {"timeUnixNano": T0, "asInt": 5},
                                        {"timeUnixNano": str(T0 + 1), "asInt": "6"},
                                        {"timeUnixNano": str(T0 + 2), "asDouble": "0.5"},
                                        {"timeUnixNano": str(T0 + 3), "asDouble": {}},
                                        "junk",
                                    ],
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }
    points = list(otlp.walk("metrics", "json", orjson.dumps(doc)))
    assert [p.value for p in points] == [5.0, 6.0, 0.5, None]
    assert [p.time_ns for p in points] == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert all(p.temporality == "cumulative" and p.is_monotonic for p in points)


# --- check(): validation and counts ---------------------------------------------------------------


@pytest.mark.parametrize(("signal", "expected"), [("logs", 3), ("metrics", 6), ("traces", 2)])
def test_check_counts_records_in_both_encodings(signal: str, expected: int) -> None:
    request = REQUESTS[signal]()
    assert otlp.check(signal, "protobuf", request.SerializeToString()) == (expected, 0, "")
    assert otlp.check(signal, "json", to_otlp_json(request)) == (expected, 0, "")


def test_check_empty_bodies_are_legal_and_empty() -> None:
    assert otlp.check("logs", "protobuf", b"").records == 0
    assert otlp.check("logs", "json", b"").records == 0
    assert otlp.check("traces", "json", b"{}").records == 0


def test_check_rejects_non_object_records_and_counts_them() -> None:
    payload = _json_logs([{"timeUnixNano": "1"}, "junk", 3, {"body": {"stringValue": "x"}}])
    checked = otlp.check("logs", "json", payload)
    assert (checked.records, checked.rejected) == (2, 2)
    assert "2 records" in checked.message
    # the walker keeps the good ones and skips the same bad ones
    assert len(list(otlp.walk("logs", "json", payload))) == 2


def test_check_rejects_non_object_metric_points() -> None:
    doc = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "g", "gauge": {"dataPoints": [{"asInt": "1"}, 5, None]}},
                            "not a metric",
                        ]
                    }
                ]
            }
        ]
    }
    checked = otlp.check("metrics", "json", orjson.dumps(doc))
    assert (checked.records, checked.rejected) == (1, 3)


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("protobuf", b"\x0a\xff\xff\xff\x0f"),  # field 1, length far beyond the body
        ("protobuf", b"\xff\xff\xff\xff"),
        ("json", b"{not json"),
        ("json", b"[1, 2]"),
        ("json", b'"text"'),
        ("json", b'{"resourceLogs": {"a": 1}}'),
        ("json", b'{"resourceLogs": [1]}'),
        ("json", b'{"resourceLogs": [{"scopeLogs": ["x"]}]}'),
        ("json", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": {"a": 1}}]}]}'),
    ],
)
def test_check_refuses_garbage_with_bad_request(encoding: str, payload: bytes) -> None:
    with pytest.raises(BadRequest):
        otlp.check("logs", encoding, payload)


def test_check_refuses_a_protobuf_of_the_wrong_shape() -> None:
    # A traces request sent to /v1/logs: field 1 is a ResourceSpans, whose own field 2 (scope
    # spans) does not parse as ScopeLogs -> still either decodes cleanly or is a BadRequest,
    # never an unhandled exception.
    try:
        checked = otlp.check("logs", "protobuf", traces_request().SerializeToString())
    except BadRequest:
        return
    assert checked.rejected == 0


# --- success_response -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "response_type", "field"),
    [
        ("logs", ExportLogsServiceResponse, "rejected_log_records"),
        ("metrics", ExportMetricsServiceResponse, "rejected_data_points"),
        ("traces", ExportTraceServiceResponse, "rejected_spans"),
    ],
)
def test_success_response(signal: str, response_type: Any, field: str) -> None:
    full = response_type.FromString(otlp.success_response(signal, 0, "", as_json=False))
    assert not full.HasField("partial_success")
    assert otlp.success_response(signal, 0, "", as_json=True) == b"{}"

    partial = response_type.FromString(
        otlp.success_response(signal, 3, "3 records dropped", as_json=False)
    )
    assert getattr(partial.partial_success, field) == 3
    assert partial.partial_success.error_message == "3 records dropped"

    # the JSON form parses as the real OTLP response message
    as_json = otlp.success_response(signal, 3, "3 records dropped", as_json=True)
    parsed = json_format.Parse(as_json, response_type())
    assert getattr(parsed.partial_success, field) == 3
    assert parsed.partial_success.error_message == "3 records dropped"


# --- the Claude Code adapter ----------------------------------------------------------------------


def test_adapter_is_chosen_by_service_name_or_scope() -> None:
    assert adapter_for({"service.name": "claude-code"}, "").name == "claude_code"
    assert adapter_for({}, "com.anthropic.claude_code.events").name == "claude_code"
    assert adapter_for({"service.name": "gemini-cli"}, "gemini").name == "unknown"


def test_claude_code_event_names() -> None:
    a = ClaudeCodeAdapter()
    assert a.event_name("claude_code.tool_result", {}) == "tool_result"
    assert a.event_name(None, {"event.name": "claude_code.user_prompt"}) == "user_prompt"
    assert a.event_name("free text", {"event.name": "api_error"}) == "api_error"
    assert a.event_name("free text", {}) is None


def test_claude_code_coercions_of_string_typed_attributes() -> None:
    cols, rest = ClaudeCodeAdapter().map_event(
        {
            "event.name": "tool_result",
            "session.id": "s",
            "event.sequence": "12",
            "input_tokens": "1500",
            "output_tokens": 20.0,
            "cache_read_tokens": "3.0",
            "duration_ms": "1534.25",
            "success": "true",
            "status_code": "529",
            "prompt_length": "42",
            "tool_name": "Bash",
            "tool_input": '{"command": "ls"}',
            "decision_type": "accept",
            "source": "config",
            "custom.attr": "kept",
        }
    )
    assert cols["event_sequence"] == 12
    assert cols["input_tokens"] == 1500 and cols["output_tokens"] == 20
    assert cols["cache_read_tokens"] == 3
    assert cols["duration_ms"] == 1534.25
    assert cols["success"] is True
    assert cols["status_code"] == 529
    assert cols["prompt_length"] == 42
    assert cols["tool_input_length"] == len('{"command": "ls"}')
    assert (cols["decision"], cols["decision_source"]) == ("accept", "config")
    assert rest == {"custom.attr": "kept"}  # event.name is consumed, not kept
    failed, _ = ClaudeCodeAdapter().map_event({"success": "false", "input_tokens": "n/a"})
    assert failed["success"] is False and failed["input_tokens"] is None


@pytest.mark.parametrize(
    ("attrs", "micros"),
    [
        ({"cost_usd": 0.020050000000000002}, 20050),
        ({"cost_usd": 0.02005}, 20050),
        ({"cost_usd": "0.02005"}, 20050),
        ({"cost_usd": 1.1}, 1_100_000),
        ({"cost_usd": 0.0000015}, 2),  # half a micro rounds to even
        ({"cost_usd": 0}, 0),
        ({"cost_usd_micros": "20049", "cost_usd": 0.02005}, 20049),  # exact micros win
        ({"cost_usd": "nan"}, None),
        ({"cost_usd": "free"}, None),
        ({}, None),
    ],
)
def test_cost_is_exact_micro_dollars(attrs: dict[str, Any], micros: int | None) -> None:
    cols, rest = ClaudeCodeAdapter().map_event(attrs)
    assert cols.get("cost_micro_usd") == micros
    assert "cost_usd" not in rest and "cost_usd_micros" not in rest


def test_usd_to_micros_goes_through_decimal() -> None:
    assert usd_to_micros(Decimal("12.3456789")) == 12_345_679
    assert usd_to_micros(True) is None
    # naive float arithmetic gets this one wrong; the adapter must not
    assert int(1.005 * 1_000_000) == 1_004_999
    assert usd_to_micros(1.005) == 1_005_000


def test_redacted_prompt_becomes_none_with_a_marker() -> None:
    cols, rest = ClaudeCodeAdapter().map_event(
        {"prompt": "<REDACTED>", "prompt_length": "17", "response": "<REDACTED>"}
    )
    assert cols["prompt"] is None
    assert cols["prompt_length"] == 17  # the length Claude Code reported is kept
    assert rest["prompt_redacted"] == "true"
    assert cols["response"] is None
    visible, rest2 = ClaudeCodeAdapter().map_event({"prompt": "fix the bug"})
    assert visible["prompt"] == "fix the bug" and visible["prompt_length"] == 11
    assert "prompt_redacted" not in rest2


def test_scalar_coercions() -> None:
    assert [as_int(v) for v in ("7", " 8 ", "9.9", 10.0, True, None, "x", float("nan"))] == [
        7,
        8,
        9,
        10,
        1,
        None,
        None,
        None,
    ]
    assert [as_bool(v) for v in ("true", "FALSE", "1", "no", "maybe", 0, True)] == [
        True,
        False,
        True,
        False,
        None,
        False,
        True,
    ]


def test_normalize_maps_a_claude_code_json_batch_onto_columns() -> None:
    payload = _json_logs(
        [
            {
                "timeUnixNano": str(T0),
                "body": {"stringValue": "claude_code.user_prompt"},
                "attributes": [
                    {"key": "event.name", "value": {"stringValue": "user_prompt"}},
                    {"key": "session.id", "value": {"stringValue": "s-9"}},
                    {"key": "prompt", "value": {"stringValue": "<REDACTED>"}},
                    {"key": "prompt_length", "value": {"stringValue": "31"}},
                    {"key": "cost_usd", "value": {"doubleValue": 0.020050000000000002}},
                    {"key": "event.sequence", "value": {"intValue": 4}},
                ],
            }
        ],
        resource=[{"key": "service.name", "value": {"stringValue": "claude-code"}}],
    )
    batch = Batch("b1", "logs", "json", "org", "dev", T0 + 10**9, 1, payload)
    out = Normalized()
    normalize(batch, NormalizeOptions(), out)
    (row,) = out.to_arrow("events").to_pylist()
    assert row["agent"] == "claude_code" and row["event_name"] == "user_prompt"
    assert row["session_id"] == "s-9" and row["event_sequence"] == 4
    assert row["prompt"] is None and row["prompt_length"] == 31
    assert dict(row["attributes"])["prompt_redacted"] == "true"
    assert row["cost_micro_usd"] == 20050
    assert row["body"] is None  # the body only repeated the event name
    assert row["developer_id"] == "dev" and row["batch_id"] == "b1"


# --- request bodies: compression and limits -------------------------------------------------------


def test_inflate_identity_gzip_and_deflate() -> None:
    data = b"otlp" * 1000
    assert inflate(data, None, max_bytes=10_000) == data
    assert inflate(data, "identity", max_bytes=10) == data  # the raw limit is read_limited's job
    assert inflate(gzip.compress(data), "gzip", max_bytes=10_000) == data
    assert inflate(gzip.compress(data), " GZIP ", max_bytes=10_000) == data
    assert inflate(zlib.compress(data), "deflate", max_bytes=10_000) == data


def test_inflate_limit_is_exact() -> None:
    data = b"x" * 5000
    assert inflate(gzip.compress(data), "gzip", max_bytes=5000) == data
    with pytest.raises(PayloadTooLarge):
        inflate(gzip.compress(data), "gzip", max_bytes=4999)


def _gzip_bomb(inflated_mib: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [comp.compress(zeros) for _ in range(inflated_mib)]
    parts.append(comp.flush())
    return b"".join(parts)


def test_gzip_bomb_is_refused_after_bounded_memory() -> None:
    bomb = _gzip_bomb(64)  # 64 MiB of zeros in about 64 KB
    assert len(bomb) < 1 << 20
    limit = 4 << 20
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            inflate(bomb, "gzip", max_bytes=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # at most the limit plus one inflate step (1 MiB) and overhead, nowhere near 64 MiB
    assert peak < limit + (4 << 20), f"inflating the bomb peaked at {peak} bytes"


def test_truncated_gzip_is_a_bad_request() -> None:
    whole = gzip.compress(b'{"resourceLogs": []}' * 100)
    with pytest.raises(BadRequest, match="truncated"):
        inflate(whole[: len(whole) // 2], "gzip", max_bytes=1 << 20)


def test_corrupt_gzip_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        inflate(b"this is not gzip at all", "gzip", max_bytes=1 << 20)


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_unknown_content_encoding_is_unsupported_media_type(encoding: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        inflate(b"abc", encoding, max_bytes=1 << 20)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


def test_read_limited_enforces_the_raw_limit() -> None:
    async def run() -> None:
        body = await read_limited(_chunks(b"ab", b"cd"), content_length="4", max_bytes=4)
        assert body == b"abcd"
        chunked = await read_limited(_chunks(b"ab", b"cd"), content_length=None, max_bytes=4)
        assert chunked == b"abcd"
        with pytest.raises(PayloadTooLarge):  # declared too large: refused before reading
            await read_limited(_chunks(), content_length="5", max_bytes=4)
        with pytest.raises(PayloadTooLarge):  # chunked, no length: refused while streaming
            await read_limited(_chunks(b"abc", b"de"), content_length=None, max_bytes=4)
        with pytest.raises(PayloadTooLarge):  # lying Content-Length
            await read_limited(_chunks(b"abc", b"de"), content_length="2", max_bytes=4)
        with pytest.raises(BadRequest):
            await read_limited(_chunks(b"a"), content_length="many", max_bytes=4)

    anyio.run(run)
