"""PRISM_STORE_CONTENT=false: prompts, responses and tool inputs never reach disk.

A server started with the switch off receives Claude-Code-shaped telemetry full of unmistakable
secrets over protobuf, gzip'd OTLP/JSON and gRPC. Afterwards no file under its data directory
(durable queue, SQLite WAL, lake, logs) contains any secret, the reads show lengths instead of
text, and everything that is not content (tokens, tool names, `tool_parameters`) is intact.
"""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e]

SECRET = f"SECRET-{uuid.uuid4().hex}"


def secret(what: str) -> str:
    return f"{SECRET}-{what}: the quick brown fox ünïcødé ✓"


PROMPT = secret("prompt")
RESPONSE = secret("response")
TOOL_INPUT = '{"command":"cat ' + secret("tool-input") + '"}'
PROMPT_TEXT = secret("prompt-text")
RAW_BODY = secret("raw-api-body")
TOOL_PARAMETERS = '{"bash_command":"cat","full_command":"cat notes.txt"}'
SPAN_PROMPT = secret("span-prompt")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    s = PrismServer(tmp_path_factory.mktemp("prism-private"), env={"PRISM_STORE_CONTENT": "false"})
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def dev(server: PrismServer) -> dict[str, str]:
    assert server.admin_key
    r = server.api("POST", "/v1/keys", server.admin_key, json={"developer": "private@example.com"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": v}
    return {"stringValue": v}


def events(session: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("user_prompt", {"prompt": PROMPT, "prompt_text": PROMPT_TEXT}),  # no prompt_length sent
        ("user_prompt", {"prompt": "<REDACTED>", "prompt_length": "30"}),
        ("api_request", {"input_tokens": 1510, "output_tokens": 120, "cost_usd_micros": 20050}),
        ("assistant_response", {"response": RESPONSE, "response_length": 999}),
        (
            "tool_result",
            {
                "tool_name": "Bash",
                "tool_use_id": "toolu_1",
                "success": "true",
                "tool_input": TOOL_INPUT,
                "tool_parameters": TOOL_PARAMETERS,
            },
        ),
        ("api_request_body", {"body": RAW_BODY, "body_length": 4242, "model": "m"}),
    ]


def otlp_json_logs(session: str) -> dict[str, Any]:
    records = []
    now = time.time_ns()
    for i, (name, attrs) in enumerate(events(session)):
        all_attrs = {"session.id": session, "event.name": name, "event.sequence": i, **attrs}
        records.append(
            {
                "timeUnixNano": str(now + i),
                "observedTimeUnixNano": str(now + i),
                "body": {"stringValue": f"claude_code.{name}"},
                "attributes": [{"key": k, "value": _value(v)} for k, v in all_attrs.items()],
            }
        )
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeLogs": [
                    {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}
                ],
            }
        ]
    }


def otlp_pb_logs(session: str) -> bytes:
    """The same events as protobuf (built from the JSON through the proto3 JSON mapping)."""
    from google.protobuf.json_format import ParseDict

    doc = otlp_json_logs(session)
    for rl in doc["resourceLogs"]:
        for sl in rl["scopeLogs"]:
            for r in sl["logRecords"]:
                for a in r["attributes"]:
                    if "intValue" in a["value"]:
                        a["value"]["intValue"] = str(a["value"]["intValue"])
    return ParseDict(doc, ExportLogsServiceRequest()).SerializeToString()


def post(server: PrismServer, key: str, signal: str, body: bytes, **headers: str) -> None:
    h = {"Authorization": f"Bearer {key}", **headers}
    r = httpx.post(f"{server.ingest_url}/v1/{signal}", content=body, headers=h, timeout=30)
    assert r.status_code == 200, r.text


def read_session(server: PrismServer, key: str, session: str, n: int) -> list[dict[str, Any]]:
    rows = wait_for(
        lambda: (r := server.telemetry(key, "logs", session_id=session)) and len(r) >= n and r,
        what=f"{n} rows of {session}",
    )
    assert len(rows) == n
    return rows


def check_rows(rows: list[dict[str, Any]]) -> None:
    assert SECRET not in orjson.dumps(rows).decode()
    by_seq = {r["event_sequence"]: r for r in rows}
    first, redacted, request, response, tool, raw = (by_seq[i] for i in range(6))
    assert first["prompt"] is None and first["prompt_length"] == len(PROMPT)
    assert "prompt_text" not in first["attributes"]
    assert first["attributes"]["prompt_text_length"] == str(len(PROMPT_TEXT))
    assert redacted["prompt"] is None and redacted["prompt_length"] == 30
    assert request["input_tokens"] == 1510 and request["cost_micro_usd"] == 20050
    assert response["response"] is None and response["response_length"] == 999  # as sent
    assert tool["tool_input"] is None and tool["tool_input_length"] == len(TOOL_INPUT)
    assert tool["tool_parameters"] == TOOL_PARAMETERS  # kept: not content
    assert tool["tool_name"] == "Bash" and tool["success"] is True
    assert "body" not in raw["attributes"] and raw["body"] is None
    assert raw["attributes"]["body_length"] == "4242"  # the sender's own length wins


def files_containing(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            try:
                if needle in path.read_bytes():
                    hits.append(str(path.relative_to(root)))
            except OSError:
                pass
    return hits


def test_content_is_dropped_before_it_is_queued(server: PrismServer, dev: dict[str, str]) -> None:
    s_pb, s_json, s_grpc = (f"private-{k}-{uuid.uuid4()}" for k in ("pb", "json", "grpc"))
    post(
        server, dev["key"], "logs", otlp_pb_logs(s_pb), **{"Content-Type": "application/x-protobuf"}
    )
    post(
        server,
        dev["key"],
        "logs",
        gzip.compress(orjson.dumps(otlp_json_logs(s_json))),
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    with grpc.insecure_channel(server.grpc_target) as channel:
        channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")(
            otlp_pb_logs(s_grpc), metadata=(("authorization", f"Bearer {dev['key']}"),), timeout=10
        )
    trace_id, root_id, child_id = uuid.uuid4().hex, "1" * 16, "2" * 16
    span_doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": root_id,
                                "name": "claude_code.interaction",
                                "startTimeUnixNano": str(time.time_ns()),
                                "endTimeUnixNano": str(time.time_ns() + 10**6),
                                "attributes": [
                                    {"key": "user_prompt", "value": {"stringValue": SPAN_PROMPT}},
                                    {"key": "session.id", "value": {"stringValue": s_json}},
                                ],
                            },
                            {
                                "traceId": trace_id,
                                "spanId": child_id,
                                "parentSpanId": root_id,
                                "name": "claude_code.tool",
                                "startTimeUnixNano": str(time.time_ns()),
                                "endTimeUnixNano": str(time.time_ns() + 10**6),
                                "attributes": [
                                    {"key": "tool_name", "value": {"stringValue": "Bash"}},
                                    {
                                        "key": "tool_parameters",
                                        "value": {"stringValue": TOOL_PARAMETERS},
                                    },
                                ],
                                "events": [
                                    {
                                        "name": "tool.input",
                                        "timeUnixNano": str(time.time_ns()),
                                        "attributes": [
                                            {
                                                "key": "tool_input",
                                                "value": {"stringValue": TOOL_INPUT},
                                            }
                                        ],
                                    }
                                ],
                            },
                        ]
                    }
                ],
            }
        ]
    }
    post(
        server, dev["key"], "traces", orjson.dumps(span_doc), **{"Content-Type": "application/json"}
    )

    stored = [read_session(server, dev["key"], session, 6) for session in (s_pb, s_json, s_grpc)]
    spans = wait_for(
        lambda: (
            (r := server.telemetry(dev["key"], "traces", trace_id=trace_id)) and len(r) == 2 and r
        ),
        what="2 spans",
    )
    # Nothing on disk holds any of it: not the durable queue (nor its WAL), not the lake.
    on_disk = files_containing(server.data_dir, SECRET.encode())
    assert on_disk == [], (
        f"content reached disk in {on_disk}: ingest did not strip it before queueing "
        "(runtime/ingest.py must build IngestService(..., store_content=settings.store_content))"
    )
    for rows in stored:
        check_rows(rows)
    assert SECRET not in orjson.dumps(spans).decode()
    by_name = {s["name"]: s for s in spans}
    root = by_name["claude_code.interaction"]
    assert "user_prompt" not in root["attributes"]
    assert root["attributes"]["user_prompt_length"] == str(len(SPAN_PROMPT))
    tool = by_name["claude_code.tool"]
    assert tool["parent_span_id"] == root_id
    assert tool["attributes"]["tool_parameters"] == TOOL_PARAMETERS
    assert orjson.loads(tool["events"])[0]["attributes"] == {"tool_input_length": len(TOOL_INPUT)}


def test_a_retried_export_is_still_recognised(server: PrismServer, dev: dict[str, str]) -> None:
    """Redaction is deterministic: the same export sent twice (an exporter retry) has the same
    batch id after redaction and is stored once."""
    session, sentinel = f"retry-{uuid.uuid4()}", f"sentinel-{uuid.uuid4()}"
    body = orjson.dumps(otlp_json_logs(session))
    for _ in range(2):
        post(server, dev["key"], "logs", body, **{"Content-Type": "application/json"})
    post(
        server,
        dev["key"],
        "logs",
        orjson.dumps(otlp_json_logs(sentinel)),
        **{"Content-Type": "application/json"},
    )
    read_session(server, dev["key"], sentinel, 6)  # queued after both copies: they are done
    check_rows(server.telemetry(dev["key"], "logs", session_id=session))
