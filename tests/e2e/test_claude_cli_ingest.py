"""The real Claude Code CLI (2.1.197) exporting to a real `prism serve`, over each protocol.

How "every event the CLI emitted" is known: the CLI exports through a capture proxy that records
each request's raw bytes and forwards them unchanged (same framing, compression and auth) to
Prism, then hands Prism's answer back to the CLI. So the test knows exactly what was sent and that
Prism acknowledged it, and it checks that every sent log record and metric point is readable
through the API with the right owner and values. The CLI's `event.sequence` is a per-process
counter from 0; it must be contiguous, which shows the proxy saw every event.

Token numbers are checked against the fake Anthropic API's own usage figures (what the model
"reported"), not against what the CLI sent.

Skips (with what to install) when the CLI cannot be had, except under CI=true, where it fails.
"""

from __future__ import annotations

import gzip
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.claude_cli import ClaudeCliUnavailable, claude_binary, run_claude
from tests.support.fake_anthropic import (
    FakeAnthropic,
    Script,
    ToolCall,
    Usage,
    bash_call,
    write_call,
)
from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.cli, pytest.mark.slow]

MESSAGES = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}
GRPC_METHODS = {
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": "logs",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": "metrics",
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": "traces",
}
TOKEN_TYPES = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cacheRead": "cache_read_tokens",
    "cacheCreation": "cache_creation_tokens",
}


# --------------------------------------------------------------------------------------------
# What the CLI sent, decoded independently of Prism


@dataclass
class Captured:
    signal: str
    headers: dict[str, str]  # lower-cased HTTP headers or gRPC metadata
    raw: bytes  # the body as sent (possibly gzip'd)
    status: int  # Prism's answer: HTTP status, or 200 / gRPC code value + 1000
    doc: dict[str, Any] = field(default_factory=dict)  # the body as OTLP/JSON-shaped dict


def _value(v: dict[str, Any]) -> Any:
    if not v:
        return None
    (kind, x), *_ = v.items()
    if kind == "intValue":
        return int(x)
    if kind == "doubleValue":
        return float(x)
    return x


def _attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {a["key"]: _value(a.get("value") or {}) for a in items or []}


def decode(signal: str, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    if headers.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    if "json" in headers.get("content-type", ""):
        return dict(orjson.loads(raw))
    return MessageToDict(MESSAGES[signal].FromString(raw))


@dataclass
class Capture:
    exports: list[Captured] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, c: Captured) -> None:
        c.doc = decode(c.signal, c.raw, c.headers)
        with self.lock:
            self.exports.append(c)

    def all(self) -> list[Captured]:
        with self.lock:
            return list(self.exports)

    def records(self, session: str) -> list[dict[str, Any]]:
        out = []
        for e in self.all():
            if e.signal != "logs":
                continue
            for rl in e.doc.get("resourceLogs", []):
                for sl in rl.get("scopeLogs", []):
                    for r in sl.get("logRecords", []):
                        attrs = _attrs(r.get("attributes"))
                        if attrs.get("session.id") == session:
                            out.append({"body": r["body"]["stringValue"], **attrs})
        return out

    def points(self, session: str) -> list[dict[str, Any]]:
        out = []
        for e in self.all():
            if e.signal != "metrics":
                continue
            for rm in e.doc.get("resourceMetrics", []):
                for sm in rm.get("scopeMetrics", []):
                    for m in sm.get("metrics", []):
                        data = m.get("sum") or m.get("gauge") or {}
                        for p in data.get("dataPoints", []):
                            attrs = _attrs(p.get("attributes"))
                            if attrs.get("session.id") == session:
                                value = p["asDouble"] if "asDouble" in p else p.get("asInt", 0)
                                out.append({"name": m["name"], "value": float(value), **attrs})
        return out


class _HttpProxy(BaseHTTPRequestHandler):
    capture: Capture
    upstream: str
    client: httpx.Client
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Content-Length"):
            return self.rfile.read(int(self.headers["Content-Length"]))
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def do_POST(self) -> None:
        raw = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        forward = {
            k: v
            for k, v in headers.items()
            if k in ("authorization", "content-type", "content-encoding", "user-agent")
        }
        chunked = "chunked" in headers.get("transfer-encoding", "")
        # Same framing as the CLI used: chunked stays chunked.
        content: Any = iter([raw]) if chunked else raw
        reply = self.client.post(self.upstream + self.path, content=content, headers=forward)
        signal = self.path.rsplit("/", 1)[-1]
        self.capture.add(Captured(signal, headers, raw, reply.status_code))
        self.send_response(reply.status_code)
        self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(reply.content)))
        self.end_headers()
        self.wfile.write(reply.content)


class _GrpcProxy(grpc.GenericRpcHandler):
    def __init__(self, capture: Capture, channel: grpc.Channel) -> None:
        self.capture = capture
        self.channel = channel

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        signal = GRPC_METHODS.get(details.method)
        if signal is None:
            return None
        call = self.channel.unary_unary(details.method)

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            metadata = {k.lower(): v for k, v in context.invocation_metadata()}
            forward = [(k, v) for k, v in metadata.items() if k == "authorization"]
            try:
                reply: bytes = call(request, metadata=forward, timeout=30)
            except grpc.RpcError as exc:
                self.capture.add(Captured(signal, metadata, request, 1000 + exc.code().value[0]))
                context.abort(exc.code(), exc.details() or "")
                raise
            self.capture.add(Captured(signal, metadata, request, 200))
            return reply

        return grpc.unary_unary_rpc_method_handler(handle)


@contextmanager
def capture_proxy(protocol: str, server: PrismServer) -> Iterator[tuple[str, Capture]]:
    """An OTLP endpoint for the CLI that records and forwards to `server`."""
    capture = Capture()
    if protocol == "grpc":
        channel = grpc.insecure_channel(server.grpc_target)
        proxy = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        proxy.add_generic_rpc_handlers((_GrpcProxy(capture, channel),))
        port = proxy.add_insecure_port("127.0.0.1:0")
        proxy.start()
        try:
            yield f"http://127.0.0.1:{port}", capture
        finally:
            proxy.stop(grace=None).wait(5)
            channel.close()
        return
    with httpx.Client(timeout=30) as client:
        handler = type(
            "_Proxy",
            (_HttpProxy,),
            {"capture": capture, "upstream": server.ingest_url, "client": client},
        )
        http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        http.daemon_threads = True
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{http.server_address[1]}", capture
        finally:
            http.shutdown()
            http.server_close()
            thread.join(timeout=5)


# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def claude() -> Path:
    try:
        return claude_binary()
    except ClaudeCliUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the Claude Code CLI is unavailable: {exc}")
        pytest.skip(str(exc))


def new_developer(server: PrismServer, email: str) -> dict[str, str]:
    assert server.admin_key
    r = server.api("POST", "/v1/keys", server.admin_key, json={"developer": email})
    assert r.status_code == 201, r.text
    created = r.json()
    keys = server.api("GET", "/v1/keys", server.admin_key).json()["keys"]
    item = next(k for k in keys if k["id"] == created["id"])
    return {**created, "developer_id": item["developer_id"]}


@dataclass(frozen=True)
class Case:
    protocol: str
    compression: str | None
    tool: Callable[[Path], ToolCall]
    usage: Usage


CASES = [
    Case(
        "http/protobuf",
        None,
        lambda cwd: bash_call("echo hello > out.txt && cat out.txt", "write file"),
        Usage(
            input_tokens=1500,
            output_tokens=120,
            cache_read_input_tokens=9000,
            cache_creation_input_tokens=800,
        ),
    ),
    Case(
        "http/json",
        "gzip",
        lambda cwd: write_call(str(cwd / "notes.md"), "# written by the Write tool\n"),
        Usage(
            input_tokens=2311,
            output_tokens=77,
            cache_read_input_tokens=12345,
            cache_creation_input_tokens=0,
        ),
    ),
    Case(
        "grpc",
        None,
        lambda cwd: bash_call("printf 'via grpc' > grpc.txt", "write file"),
        Usage(
            input_tokens=701,
            output_tokens=333,
            cache_read_input_tokens=0,
            cache_creation_input_tokens=4096,
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.protocol}-{c.compression}" for c in CASES])
def test_every_cli_event_is_readable_in_prism(
    prism_server: PrismServer, claude: Path, tmp_path: Path, case: Case
) -> None:
    dev = new_developer(prism_server, f"cli-{case.protocol.replace('/', '-')}@example.com")
    cwd = tmp_path / "work"
    cwd.mkdir()
    tool = case.tool(cwd)
    prompt = f"Use {tool.name} to make a file and verify it"
    script = Script.tool_round_trip(tool, "Done.", title="Make a file")
    script.usage = case.usage
    with FakeAnthropic(script) as api, capture_proxy(case.protocol, prism_server) as (url, cap):
        run = run_claude(
            prompt,
            cwd=cwd,
            otlp_endpoint=url,
            protocol=case.protocol,
            api_key=dev["key"],
            fake_url=api.url,
            compression=case.compression,
            home=tmp_path / "home",
            timeout=90,
        )
        run.check()
        session = run.session_id
        assert session, run.stdout

        def sent_everything() -> bool:
            names = {r["body"] for r in cap.records(session)}
            return {
                "claude_code.user_prompt",
                "claude_code.api_request",
                "claude_code.tool_result",
            } <= names and any(p["name"] == "claude_code.token.usage" for p in cap.points(session))

        wait_for(sent_everything, timeout=15, what="the CLI's exports at the proxy")
    exports = cap.all()
    records = cap.records(session)
    points = cap.points(session)
    model_calls = [r for r in api.requests if r.kind in ("main", "title", "aux")]

    # The transport was what we asked for, and Prism acknowledged every export.
    assert exports and {e.signal for e in exports} == {"logs", "metrics"}
    assert [e.status for e in exports] == [200] * len(exports), [e.status for e in exports]
    for e in exports:
        assert e.headers.get("authorization") == f"Bearer {dev['key']}"
        if case.protocol == "http/protobuf":
            assert e.headers["content-type"] == "application/x-protobuf"
        if case.protocol == "http/json":
            assert e.headers["content-type"].startswith("application/json")
            assert e.headers.get("content-encoding") == "gzip" and e.raw[:2] == b"\x1f\x8b"
        if case.protocol.startswith("http"):
            assert e.headers.get("transfer-encoding") == "chunked"  # as 2.1.197 sends

    # The CLI's own numbering has no gaps: the proxy saw every event of the session.
    seqs = sorted(r["event.sequence"] for r in records)
    assert seqs == list(range(len(records))), seqs

    # Every record is readable, attributed to the key's developer, with the CLI's values.
    rows = wait_for(
        lambda: (
            (r := prism_server.telemetry(dev["key"], "logs", session_id=session))
            and len(r) >= len(records)
            and r
        ),
        what=f"{len(records)} events of {session}",
    )
    assert len(rows) == len(records)
    by_seq = {r["event_sequence"]: r for r in rows}
    assert sorted(by_seq) == seqs
    for rec in records:
        row = by_seq[rec["event.sequence"]]
        assert row["developer_id"] == dev["developer_id"]
        assert row["session_id"] == session
        assert row["event_name"] == rec["event.name"] == rec["body"].removeprefix("claude_code.")
        assert row["prompt_id"] == rec.get("prompt.id")
        assert row["tool_name"] == rec.get("tool_name")
        assert row["tool_use_id"] == rec.get("tool_use_id")
        assert row["service_version"] == "2.1.197"
        if rec["event.name"] == "api_request":
            for col in TOKEN_TYPES.values():
                assert row[col] == int(rec[col]), (col, row[col], rec[col])
            assert isinstance(row["cost_micro_usd"], int) and row["cost_micro_usd"] > 0
            assert row["cost_micro_usd"] == int(rec["cost_usd_micros"])
            assert row["request_id"] == rec["request_id"]
            assert row["model"] == rec["model"]

    # The token numbers are the fake model's usage figures, one api_request per model call.
    requests = [r for r in rows if r["event_name"] == "api_request"]
    expected = Counter(
        tuple(
            api.usage_for(c.body, script.usage.output_tokens)[k]
            for k in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            )
        )
        for c in model_calls
    )
    got = Counter(
        (r["input_tokens"], r["output_tokens"], r["cache_read_tokens"], r["cache_creation_tokens"])
        for r in requests
    )
    assert got == expected

    # The conversation is tied together: the prompt, its calls and the tool round trip.
    (user_prompt,) = [r for r in rows if r["event_name"] == "user_prompt"]
    assert user_prompt["prompt"] == prompt and user_prompt["prompt_length"] == len(prompt)
    tool_use_id = api.main_requests()[-1].tool_results()[0]["tool_use_id"]
    for name in ("tool_decision", "tool_result"):
        (event,) = [r for r in rows if r["event_name"] == name]
        assert event["tool_name"] == tool.name and event["tool_use_id"] == tool_use_id
        assert event["prompt_id"] == user_prompt["prompt_id"]
    (result,) = [r for r in rows if r["event_name"] == "tool_result"]
    assert result["success"] is True
    main_calls = [r for r in requests if r["query_source"] != "generate_session_title"]
    assert main_calls and all(r["prompt_id"] == user_prompt["prompt_id"] for r in main_calls)

    # Metrics: every point readable; token.usage per type adds up to the api_request totals.
    metric_rows = wait_for(
        lambda: (
            (r := prism_server.telemetry(dev["key"], "metrics", session_id=session))
            and len(r) >= len(points)
            and r
        ),
        what=f"{len(points)} metric points of {session}",
    )
    assert len(metric_rows) == len(points)
    assert Counter(r["name"] for r in metric_rows) == Counter(p["name"] for p in points)
    assert all(r["developer_id"] == dev["developer_id"] for r in metric_rows)
    tokens: dict[str, float] = defaultdict(float)
    for r in metric_rows:
        if r["name"] == "claude_code.token.usage":
            tokens[r["type"]] += r["value"]
    assert {t: tokens.get(t, 0.0) for t in TOKEN_TYPES} == {
        t: float(sum(r[col] for r in requests)) for t, col in TOKEN_TYPES.items()
    }
    cost = sum(r["value"] for r in metric_rows if r["name"] == "claude_code.cost.usage")
    assert abs(cost * 1_000_000 - sum(r["cost_micro_usd"] for r in requests)) <= len(requests)
