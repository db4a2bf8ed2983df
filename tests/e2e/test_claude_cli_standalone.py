"""The real Claude Code CLI, a fake Anthropic API and a throw-away OTLP sink: no Prism server.

Proves the harness in tests/support works for each OTLP protocol the CLI speaks. Skips (with what
to install) when npm / the CLI cannot be had, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import gzip
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import orjson  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402
from opentelemetry.proto.collector.logs.v1 import (  # noqa: E402
    logs_service_pb2,
    logs_service_pb2_grpc,
)
from opentelemetry.proto.collector.metrics.v1 import (  # noqa: E402
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)

from tests.support.claude_cli import (  # noqa: E402
    ClaudeCliUnavailable,
    claude_binary,
    run_claude,
)
from tests.support.fake_anthropic import (  # noqa: E402
    FakeAnthropic,
    Script,
    ToolCall,
    bash_call,
    write_call,
)

pytestmark = [pytest.mark.cli, pytest.mark.slow]

PRISM_KEY = "prism_test_key_123"
REQUIRED_EVENTS = ("claude_code.user_prompt", "claude_code.api_request", "claude_code.tool_result")
WAIT_S = 15.0


# --------------------------------------------------------------------------------------------
# A minimal OTLP sink (HTTP and gRPC), recording decoded exports as OTLP/JSON-shaped dicts.


@dataclass
class Export:
    signal: str  # logs | metrics
    headers: dict[str, str]  # lower-cased names (HTTP headers or gRPC metadata)
    body: dict[str, Any]  # OTLP/JSON shape: resourceLogs / resourceMetrics


def _attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    out = {}
    for a in items or []:
        value = a.get("value") or {}
        out[a["key"]] = next(iter(value.values()), None) if value else None
    return out


@dataclass
class Sink:
    exports: list[Export] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, export: Export) -> None:
        with self.cond:
            self.exports.append(export)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout=timeout)

    def log_records(self) -> list[dict[str, Any]]:
        """Each record as {"body": str, **attributes}."""
        out = []
        for e in list(self.exports):
            if e.signal != "logs":
                continue
            for rl in e.body.get("resourceLogs", []):
                for sl in rl.get("scopeLogs", []):
                    for rec in sl.get("logRecords", []):
                        body = (rec.get("body") or {}).get("stringValue")
                        out.append({"body": body, **_attrs(rec.get("attributes"))})
        return out

    def metric_points(self) -> list[dict[str, Any]]:
        """Each data point as {"metric": name, **attributes}."""
        out = []
        for e in list(self.exports):
            if e.signal != "metrics":
                continue
            for rm in e.body.get("resourceMetrics", []):
                for sm in rm.get("scopeMetrics", []):
                    for m in sm.get("metrics", []):
                        data = m.get("sum") or m.get("gauge") or m.get("histogram") or {}
                        for dp in data.get("dataPoints", []):
                            out.append({"metric": m["name"], **_attrs(dp.get("attributes"))})
        return out


_MESSAGES = {
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}


def _decode(signal: str, raw: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return orjson.loads(raw)
    return MessageToDict(_MESSAGES[signal].FromString(raw))


class _OtlpHttpHandler(BaseHTTPRequestHandler):
    sink: Sink
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Content-Length"):
            return self.rfile.read(int(self.headers["Content-Length"]))
        parts = []  # Transfer-Encoding: chunked (what CLI 2.1.197 sends)
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        return b"".join(parts)

    def do_POST(self) -> None:
        raw = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        signal = {"/v1/logs": "logs", "/v1/metrics": "metrics"}.get(self.path)
        content_type = headers.get("content-type", "")
        if signal is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.sink.add(Export(signal, headers, _decode(signal, raw, content_type)))
        reply = b"{}" if "json" in content_type else b""
        self.send_response(200)
        self.send_header("Content-Type", content_type or "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, sink: Sink):
        self.sink = sink

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        headers = {k.lower(): v for k, v in context.invocation_metadata()}
        self.sink.add(Export("logs", headers, MessageToDict(request)))
        return logs_service_pb2.ExportLogsServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, sink: Sink):
        self.sink = sink

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        headers = {k.lower(): v for k, v in context.invocation_metadata()}
        self.sink.add(Export("metrics", headers, MessageToDict(request)))
        return metrics_service_pb2.ExportMetricsServiceResponse()


@contextmanager
def _http_sink() -> Iterator[tuple[str, Sink]]:
    sink = Sink()
    handler = type("_H", (_OtlpHttpHandler,), {"sink": sink})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def _grpc_sink() -> Iterator[tuple[str, Sink]]:
    sink = Sink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(sink), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsServicer(sink), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", sink
    finally:
        server.stop(grace=None).wait(5)


# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def claude() -> Path:
    try:
        return claude_binary()
    except ClaudeCliUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the Claude Code CLI is unavailable: {exc}")
        pytest.skip(str(exc))


@dataclass(frozen=True)
class Case:
    protocol: str
    compression: str | None
    tool: Callable[[Path], ToolCall]
    expect_file: str
    expect_content: str


CASES = [
    Case(
        "http/protobuf",
        None,
        lambda cwd: bash_call("echo hello > out.txt && cat out.txt", "write file"),
        "out.txt",
        "hello\n",
    ),
    Case(
        "http/json",
        "gzip",
        lambda cwd: write_call(str(cwd / "notes.md"), "# written by the Write tool\n"),
        "notes.md",
        "# written by the Write tool\n",
    ),
    Case(
        "grpc",
        None,
        lambda cwd: bash_call("printf 'via grpc' > grpc.txt && cat grpc.txt", "write file"),
        "grpc.txt",
        "via grpc",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.protocol}-{c.compression}" for c in CASES])
def test_cli_round_trip_exports_telemetry(claude: Path, tmp_path: Path, case: Case) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    tool = case.tool(cwd)
    final = f"Done: wrote {case.expect_file}."
    script = Script.tool_round_trip(tool, final, title="Write a test file")
    sink_factory = _grpc_sink if case.protocol == "grpc" else _http_sink
    with FakeAnthropic(script) as api, sink_factory() as (endpoint, sink):
        run = run_claude(
            f"Create {case.expect_file} and verify it",
            cwd=cwd,
            otlp_endpoint=endpoint,
            protocol=case.protocol,
            api_key=PRISM_KEY,
            fake_url=api.url,
            compression=case.compression,
            home=tmp_path / "home",
            timeout=60,
        )
        run.check()
        session_id = run.session_id
        assert session_id, run.stdout

        def have_everything() -> bool:
            bodies = {r["body"] for r in sink.log_records() if r.get("session.id") == session_id}
            metrics = {
                p["metric"] for p in sink.metric_points() if p.get("session.id") == session_id
            }
            return set(REQUIRED_EVENTS) <= bodies and "claude_code.token.usage" in metrics

        got = sink.wait_for(have_everything)
        exports = list(sink.exports)

    # The CLI did its job.
    assert run.output is not None and run.output.get("result") == final, run.stdout
    assert (cwd / case.expect_file).read_text() == case.expect_content
    assert run.transcript_path() is not None

    # The fake API saw the tool round trip: a tool_use answer, then its tool_result coming back.
    main = api.main_requests()
    assert len(main) >= 2, api.paths()
    results = [r for req in main for r in req.tool_results()]
    assert results and results[0]["tool_use_id"].startswith("toolu_"), results
    assert any(r.kind == "title" for r in api.requests), api.paths()
    assert not [r for r in api.requests if r.kind == "unknown"], api.paths()

    # The sink got the telemetry, attributed to this session and carrying our key.
    records = sink.log_records()
    assert got, (
        f"missing telemetry; events={sorted({r['body'] for r in records})}, "
        f"metrics={sorted({p['metric'] for p in sink.metric_points()})}"
    )
    assert exports and {e.signal for e in exports} == {"logs", "metrics"}
    for e in exports:
        assert e.headers.get("authorization") == f"Bearer {PRISM_KEY}", e.headers
    ours = [r for r in records if r.get("session.id") == session_id]
    prompt = next(r for r in ours if r["body"] == "claude_code.user_prompt")
    assert prompt["prompt"] == f"Create {case.expect_file} and verify it"
    tool_result = next(r for r in ours if r["body"] == "claude_code.tool_result")
    assert tool_result["tool_name"] == tool.name
    assert str(tool_result["success"]) == "true"
    tokens = [
        p
        for p in sink.metric_points()
        if p["metric"] == "claude_code.token.usage" and p.get("session.id") == session_id
    ]
    assert {p["type"] for p in tokens} >= {"input", "output", "cacheRead", "cacheCreation"}

    if case.protocol.startswith("http"):
        content_type = "application/json" if case.protocol == "http/json" else "protobuf"
        assert all(content_type in e.headers.get("content-type", "") for e in exports)
    if case.compression == "gzip":
        assert all(e.headers.get("content-encoding") == "gzip" for e in exports)

    # A run is meant to be short.
    assert run.duration_s < 30, run.duration_s
