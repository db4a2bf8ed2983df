"""The OpenTelemetry Python SDK as Prism's client: logs, metrics and traces over three transports.

Transports: OTLP/HTTP protobuf and OTLP/gRPC with the SDK's own exporters, and OTLP/HTTP JSON.
The Python SDK (1.45) has no JSON exporter, so `_JsonExporter*` below encode the SDK's batches
with the SDK's own OTLP encoders and post them as OTLP/JSON the way Claude Code's JavaScript
exporter writes it (intValue as a JSON number, 64-bit timestamps as decimal strings, hex ids,
enums as integers). Every export goes through a recorder, so the tests compare what Prism serves
with what the SDK actually sent, and fail if any export was refused.
"""

from __future__ import annotations

import base64
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e]

TRANSPORTS = ("http-protobuf", "http-json", "grpc")
RESOURCE = Resource.create(
    {"service.name": "claude-code", "service.version": "2.1.300-sdk", "os.type": "linux"}
)
EVENTS_SCOPE = "com.anthropic.claude_code.events"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Keys


def new_developer(server: PrismServer, email: str) -> dict[str, str]:
    """A developer key made through the API (admin key); returns key, id, email, developer_id."""
    assert server.admin_key
    r = server.api("POST", "/v1/keys", server.admin_key, json={"developer": email})
    assert r.status_code == 201, r.text
    created = r.json()
    keys = server.api("GET", "/v1/keys", server.admin_key).json()["keys"]
    item = next(k for k in keys if k["id"] == created["id"])
    return {**created, "email": email, "developer_id": item["developer_id"]}


@pytest.fixture(scope="module")
def dev(prism_server: PrismServer) -> dict[str, str]:
    return new_developer(prism_server, "sdk-writer@example.com")


@pytest.fixture(scope="module")
def other(prism_server: PrismServer) -> dict[str, str]:
    return new_developer(prism_server, "sdk-other@example.com")


# --------------------------------------------------------------------------------------------
# OTLP/JSON the way the JavaScript exporter writes it


def js_otlp_json(message: Message) -> bytes:
    """Proto3 JSON of `message`, reshaped to OTLP/JSON as Claude Code's JS exporter sends it."""

    def fix(obj: Any) -> Any:
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    out[k] = base64.b64decode(v).hex()  # OTLP/JSON ids are hex, not base64
                elif k in ("intValue", "asInt") and isinstance(v, str):
                    out[k] = int(v)  # the JS exporter writes these as JSON numbers
                else:
                    out[k] = fix(v)  # timeUnixNano & co stay decimal strings
            return out
        if isinstance(obj, list):
            return [fix(x) for x in obj]
        return obj

    doc = MessageToDict(message, use_integers_for_enums=True)
    return orjson.dumps(fix(doc))


class _JsonPoster:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, message: Message) -> bool:
        r = httpx.post(self.url, content=js_otlp_json(message), headers=self.headers, timeout=10)
        return r.status_code == 200 and r.json() == {}


class _JsonLogExporter(LogRecordExporter):
    def __init__(self, url: str, key: str) -> None:
        self.poster = _JsonPoster(url, key)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self.poster.post(encode_logs(batch))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class _JsonSpanExporter(SpanExporter):
    def __init__(self, url: str, key: str) -> None:
        self.poster = _JsonPoster(url, key)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self.poster.post(encode_spans(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE


class _JsonMetricExporter(MetricExporter):
    def __init__(self, url: str, key: str, temporality: AggregationTemporality) -> None:
        super().__init__(preferred_temporality={Counter: temporality})
        self.poster = _JsonPoster(url, key)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        ok = self.poster.post(encode_metrics(metrics_data))
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


# --------------------------------------------------------------------------------------------
# Recorders: every export's result, and what it carried


class RecordingLogs(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter) -> None:
        self.inner = inner
        self.results: list[LogRecordExportResult] = []
        self.sent = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self.inner.export(batch)
        self.results.append(result)
        self.sent += len(batch)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class RecordingSpans(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.results: list[SpanExportResult] = []
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.results.append(result)
        self.spans += spans
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()


class RecordingMetrics(MetricExporter):
    def __init__(self, inner: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner = inner
        self.results: list[MetricExportResult] = []
        self.points: list[tuple[str, dict[str, Any], float, int, int]] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = self.inner.export(metrics_data, timeout_millis=timeout_millis)
        self.results.append(result)
        for rm in metrics_data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    for p in m.data.data_points:
                        self.points.append(
                            (
                                m.name,
                                dict(p.attributes or {}),
                                p.value,
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                            )
                        )
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis)


def log_exporter(transport: str, server: PrismServer, key: str) -> LogRecordExporter:
    if transport == "http-protobuf":
        return HttpLogExporter(
            endpoint=f"{server.ingest_url}/v1/logs", headers={"Authorization": f"Bearer {key}"}
        )
    if transport == "http-json":
        return _JsonLogExporter(f"{server.ingest_url}/v1/logs", key)
    return GrpcLogExporter(
        endpoint=server.grpc_target, insecure=True, headers=(("authorization", f"Bearer {key}"),)
    )


def metric_exporter(
    transport: str, server: PrismServer, key: str, temporality: AggregationTemporality
) -> MetricExporter:
    pref = {Counter: temporality}
    if transport == "http-protobuf":
        return HttpMetricExporter(
            endpoint=f"{server.ingest_url}/v1/metrics",
            headers={"Authorization": f"Bearer {key}"},
            preferred_temporality=pref,
        )
    if transport == "http-json":
        return _JsonMetricExporter(f"{server.ingest_url}/v1/metrics", key, temporality)
    return GrpcMetricExporter(
        endpoint=server.grpc_target,
        insecure=True,
        headers=(("authorization", f"Bearer {key}"),),
        preferred_temporality=pref,
    )


def span_exporter(transport: str, server: PrismServer, key: str) -> SpanExporter:
    if transport == "http-protobuf":
        return HttpSpanExporter(
            endpoint=f"{server.ingest_url}/v1/traces", headers={"Authorization": f"Bearer {key}"}
        )
    if transport == "http-json":
        return _JsonSpanExporter(f"{server.ingest_url}/v1/traces", key)
    return GrpcSpanExporter(
        endpoint=server.grpc_target, insecure=True, headers=(("authorization", f"Bearer {key}"),)
    )


def micros(iso: str) -> int:
    """An ISO 8601 time from the API as integer microseconds since the epoch."""
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (dt - EPOCH) // timedelta(microseconds=1)


def rows_when(
    read: Callable[[], list[dict[str, Any]]], count: int, what: str
) -> list[dict[str, Any]]:
    """Poll `read` until it returns exactly `count` rows (more would be a duplicate)."""
    rows = wait_for(lambda: (r := read()) and len(r) >= count and r, what=what)
    assert len(rows) == count, f"{what}: expected {count} rows, got {len(rows)}"
    return rows


# --------------------------------------------------------------------------------------------
# Logs: Claude-Code-shaped events


def _events(session: str) -> list[tuple[str, dict[str, Any]]]:
    """(body, attributes) of a small Claude Code session, with CC's mixed value types."""
    prompt_id = str(uuid.uuid4())
    base = {"session.id": session, "user.id": "f" * 64, "terminal.type": "non-interactive"}
    return [
        (
            "claude_code.user_prompt",
            {
                **base,
                "event.name": "user_prompt",
                "event.sequence": 0,
                "prompt.id": prompt_id,
                "prompt": "Fix the failing test",
                "prompt_length": "20",
            },
        ),
        (
            "claude_code.api_request",
            {
                **base,
                "event.name": "api_request",
                "event.sequence": 1,
                "prompt.id": prompt_id,
                "model": "claude-opus-4-8",
                "input_tokens": 1510,
                "output_tokens": 120,
                "cache_read_tokens": 9000,
                "cache_creation_tokens": 800,
                "cost_usd": 0.02005,
                "duration_ms": 742,
                "request_id": "req_011abc",
                "query_source": "sdk",
            },
        ),
        (
            "claude_code.tool_result",
            {
                **base,
                "event.name": "tool_result",
                "event.sequence": 2,
                "prompt.id": prompt_id,
                "tool_name": "Bash",
                "tool_use_id": "toolu_000002",
                "success": "true",
                "duration_ms": "70",
                "tool_parameters": '{"bash_command":"pytest"}',
            },
        ),
        (
            "claude_code.api_request",
            {
                **base,
                "event.name": "api_request",
                "event.sequence": 3,
                "prompt.id": prompt_id,
                "model": "claude-opus-4-8",
                "input_tokens": 1540,
                "output_tokens": 96,
                "cache_read_tokens": 10500,
                "cache_creation_tokens": 0,
                "cost_usd": 0.0202,
                "duration_ms": 19,
                "request_id": "req_011abd",
                "query_source": "sdk",
            },
        ),
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_logs_arrive_typed_and_scoped_to_the_key_owner(
    prism_server: PrismServer, dev: dict[str, str], other: dict[str, str], transport: str
) -> None:
    session = f"sdk-logs-{transport}-{uuid.uuid4()}"
    events = _events(session)
    exporter = RecordingLogs(log_exporter(transport, prism_server, dev["key"]))
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = provider.get_logger(EVENTS_SCOPE, "2.1.300")
    now = time.time_ns()
    for i, (body, attrs) in enumerate(events):
        logger.emit(timestamp=now + i * 1_000_000, body=body, attributes=attrs)
    assert provider.force_flush()
    provider.shutdown()
    assert exporter.sent == len(events)
    assert exporter.results and all(r == LogRecordExportResult.SUCCESS for r in exporter.results), (
        exporter.results
    )

    rows = rows_when(
        lambda: prism_server.telemetry(dev["key"], "logs", session_id=session),
        len(events),
        f"{transport} log rows",
    )
    by_seq = {r["event_sequence"]: r for r in rows}
    assert sorted(by_seq) == [0, 1, 2, 3]
    for seq, (body, attrs) in enumerate(events):
        row = by_seq[seq]
        assert row["developer_id"] == dev["developer_id"]
        assert row["session_id"] == session
        assert row["prompt_id"] == attrs["prompt.id"]
        assert row["event_name"] == body.removeprefix("claude_code.")
        assert row["agent"] == "claude_code"
        assert row["service_version"] == "2.1.300-sdk"
        sent_us = (now + seq * 1_000_000) // 1000
        assert abs(micros(row["time"]) - sent_us) <= 1, (row["time"], sent_us)
    prompt, req1, tool, req2 = (by_seq[i] for i in range(4))
    assert prompt["prompt"] == "Fix the failing test" and prompt["prompt_length"] == 20
    for row, (_, attrs) in ((req1, events[1]), (req2, events[3])):
        for col in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"):
            assert row[col] == attrs[col] and isinstance(row[col], int), (col, row[col])
        expected = int(Decimal(str(attrs["cost_usd"])) * 1_000_000)
        assert row["cost_micro_usd"] == expected and isinstance(row["cost_micro_usd"], int)
        assert row["model"] == "claude-opus-4-8" and row["request_id"] == attrs["request_id"]
    assert req1["cost_micro_usd"] == 20050  # exact, not 20049 (float) nor 20050.000000000004
    assert tool["tool_name"] == "Bash" and tool["tool_use_id"] == "toolu_000002"
    assert tool["success"] is True and tool["duration_ms"] == 70.0
    assert tool["tool_parameters"] == '{"bash_command":"pytest"}'
    assert tool["attributes"]["terminal.type"] == "non-interactive"
    assert tool["resource"]["service.name"] == "claude-code"

    # Another developer sees nothing of it, and cannot ask for it by id.
    assert prism_server.telemetry(other["key"], "logs", session_id=session) == []
    r = prism_server.api(
        "GET", "/v1/telemetry/logs", other["key"], params={"user_id": dev["developer_id"]}
    )
    assert r.status_code == 404, r.text
    assert r.json()["code"] == 404
    # An admin of the org reads them by developer id or email.
    assert prism_server.admin_key
    for who in (dev["developer_id"], dev["email"]):
        admin_rows = prism_server.telemetry(
            prism_server.admin_key, "logs", session_id=session, user_id=who
        )
        assert sorted(r["event_sequence"] for r in admin_rows) == [0, 1, 2, 3]
    # Without user_id the admin reads their own data, which holds none of these rows.
    assert prism_server.telemetry(prism_server.admin_key, "logs", session_id=session) == []


# --------------------------------------------------------------------------------------------
# Metrics: a token.usage-shaped counter, delta and cumulative

ROUNDS: list[dict[str, int]] = [
    {"input": 1510, "output": 120},
    {"input": 30, "cacheRead": 9000},
    {"input": 1540, "output": 96, "cacheRead": 10500},
]


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_counter_intervals_sum_to_the_true_total(
    prism_server: PrismServer, dev: dict[str, str], transport: str, temporality: str
) -> None:
    session = f"sdk-metrics-{transport}-{temporality}-{uuid.uuid4()}"
    temp = (
        AggregationTemporality.DELTA
        if temporality == "delta"
        else AggregationTemporality.CUMULATIVE
    )
    exporter = RecordingMetrics(metric_exporter(transport, prism_server, dev["key"], temp))
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=math.inf)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    counter = provider.get_meter("com.anthropic.claude_code", "2.1.300").create_counter(
        "claude_code.token.usage", unit="tokens", description="Number of tokens used"
    )
    truth: dict[str, int] = defaultdict(int)
    for increments in ROUNDS:
        for kind, n in increments.items():
            counter.add(n, {"session.id": session, "model": "claude-opus-4-8", "type": kind})
            truth[kind] += n
        assert reader.force_flush()  # one export per round: one interval each
    provider.shutdown()
    assert exporter.results and all(r == MetricExportResult.SUCCESS for r in exporter.results)
    sent = [p for p in exporter.points if p[1].get("session.id") == session]
    assert len({p[4] for p in sent}) >= len(ROUNDS)  # really several intervals

    rows = rows_when(
        lambda: prism_server.telemetry(
            dev["key"], "metrics", session_id=session, name="claude_code.token.usage"
        ),
        len(sent),
        f"{transport}/{temporality} metric rows",
    )
    got: dict[str, float] = defaultdict(float)
    for row in rows:
        assert row["developer_id"] == dev["developer_id"]
        assert row["kind"] == "sum" and row["temporality"] == temporality
        assert row["is_monotonic"] is True and row["unit"] == "tokens"
        assert row["model"] == "claude-opus-4-8"
        got[row["type"]] += row["value"]
    assert dict(got) == {k: float(v) for k, v in truth.items()}

    # Interval by interval: the value is what was added in that interval, in time order.
    for kind in truth:
        series = sorted((r for r in rows if r["type"] == kind), key=lambda r: micros(r["time"]))
        exported = sorted((p for p in sent if p[1]["type"] == kind), key=lambda p: p[4])
        assert [r["raw_value"] for r in series] == [float(p[2]) for p in exported]
        added = [float(p[2]) for p in exported]
        if temporality == "cumulative":
            added = [b - a for a, b in zip([0.0, *added], added, strict=False)]
        assert [r["value"] for r in series] == added, (kind, series)


# --------------------------------------------------------------------------------------------
# Traces: a parent/child tree


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_span_tree_reads_back_with_parents_and_attributes(
    prism_server: PrismServer, dev: dict[str, str], other: dict[str, str], transport: str
) -> None:
    session = f"sdk-traces-{transport}-{uuid.uuid4()}"
    exporter = RecordingSpans(span_exporter(transport, prism_server, dev["key"]))
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("com.anthropic.claude_code.tracing", "2.1.300")
    common = {"session.id": session, "prompt.id": "p-1"}
    with tracer.start_as_current_span(
        "claude_code.interaction",
        attributes={**common, "span.type": "interaction", "interaction.sequence": 1},
    ) as root:
        with tracer.start_as_current_span(
            "claude_code.llm_request",
            kind=SpanKind.CLIENT,
            attributes={
                **common,
                "model": "claude-opus-4-8",
                "input_tokens": 1510,
                "ttft_ms": 12.5,
                "success": True,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "claude_code.tool", attributes={**common, "tool_name": "Bash"}
        ) as tool:
            tool.add_event("tool.output", {"bytes": 5})
            with tracer.start_as_current_span(
                "claude_code.tool.execution", attributes={**common, "success": False}
            ) as execution:
                execution.set_status(Status(StatusCode.ERROR, "exit 1"))
    assert provider.force_flush()
    provider.shutdown()
    assert exporter.results and all(r == SpanExportResult.SUCCESS for r in exporter.results)
    assert len(exporter.spans) == 4

    trace_id = format(root.get_span_context().trace_id, "032x")
    rows = rows_when(
        lambda: prism_server.telemetry(dev["key"], "traces", trace_id=trace_id),
        4,
        f"{transport} spans",
    )
    by_name = {r["name"]: r for r in rows}
    span_id = {s.name: format(s.context.span_id, "016x") for s in exporter.spans}
    assert set(by_name) == set(span_id)
    parent = {
        "claude_code.interaction": None,
        "claude_code.llm_request": span_id["claude_code.interaction"],
        "claude_code.tool": span_id["claude_code.interaction"],
        "claude_code.tool.execution": span_id["claude_code.tool"],
    }
    for name, row in by_name.items():
        assert row["trace_id"] == trace_id
        assert row["span_id"] == span_id[name]
        assert row["parent_span_id"] == parent[name], name
        assert row["developer_id"] == dev["developer_id"]
        assert row["session_id"] == session and row["prompt_id"] == "p-1"
        assert row["end_time"] >= row["start_time"] and row["duration_ms"] >= 0
    llm = by_name["claude_code.llm_request"]
    assert llm["kind"] == "client"
    assert llm["attributes"]["model"] == "claude-opus-4-8"
    assert llm["attributes"]["input_tokens"] == "1510"
    assert float(llm["attributes"]["ttft_ms"]) == 12.5
    assert llm["attributes"]["success"] == "true"
    assert by_name["claude_code.interaction"]["kind"] == "internal"
    assert by_name["claude_code.interaction"]["attributes"]["interaction.sequence"] == "1"
    execution_row = by_name["claude_code.tool.execution"]
    assert execution_row["status_code"] == "error" and execution_row["status_message"] == "exit 1"
    events = orjson.loads(by_name["claude_code.tool"]["events"])
    assert [e["name"] for e in events] == ["tool.output"]
    assert events[0]["attributes"] == {"bytes": 5}
    assert prism_server.telemetry(other["key"], "traces", trace_id=trace_id) == []


def test_bad_key_export_is_reported_to_the_sdk(prism_server: PrismServer) -> None:
    """The SDK's exporters see the refusal (nothing silently accepted under a wrong key)."""
    results: list[Any] = []
    for transport in TRANSPORTS:
        exporter = RecordingLogs(log_exporter(transport, prism_server, "gck_" + "x" * 43))
        provider = LoggerProvider(resource=RESOURCE)
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        provider.get_logger(EVENTS_SCOPE).emit(
            body="claude_code.user_prompt", attributes={"session.id": "nope"}
        )
        provider.force_flush()
        provider.shutdown()
        results.append((transport, exporter.results))
    assert all(r and r[0] == LogRecordExportResult.FAILURE for _, r in results), results
