"""Hostile and broken input against a real `prism serve`: refused cleanly, nothing else harmed.

The first test stores a canary and the last one checks it is intact and the server still answers,
so everything in between ran against a server holding data. Every HTTP error must be
`{"code": <status>, "message": "<sentence>"}`; gRPC errors map to their status codes.
"""

from __future__ import annotations

import gzip
import struct
import time
import uuid
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MARKER = "…[truncated]"
MAX_ATTRIBUTE = 65536  # PRISM_MAX_ATTRIBUTE_LENGTH default
MAX_BODY = 8 * 1024 * 1024  # PRISM_MAX_BODY_BYTES default
LOGS_SERVICE = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


# --------------------------------------------------------------------------------------------
# Helpers


def new_developer(server: PrismServer, email: str) -> dict[str, str]:
    assert server.admin_key
    r = server.api("POST", "/v1/keys", server.admin_key, json={"developer": email})
    assert r.status_code == 201, r.text
    created = r.json()
    keys = server.api("GET", "/v1/keys", server.admin_key).json()["keys"]
    item = next(k for k in keys if k["id"] == created["id"])
    return {**created, "developer_id": item["developer_id"]}


@pytest.fixture(scope="module")
def dev(prism_server: PrismServer) -> dict[str, str]:
    return new_developer(prism_server, "hostile@example.com")


def logs_request(session: str, records: list[dict[str, Any]]) -> ExportLogsServiceRequest:
    """A Claude-Code-shaped logs request; each record: attrs dict (+ optional time/observed)."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    for k, v in (("service.name", "claude-code"), ("service.version", "2.1.197")):
        kv = rl.resource.attributes.add()
        kv.key, kv.value.string_value = k, v
    sl = rl.scope_logs.add()
    sl.scope.name = "com.anthropic.claude_code.events"
    for i, rec in enumerate(records):
        r = sl.log_records.add()
        r.time_unix_nano = rec.get("time", time.time_ns())
        r.observed_time_unix_nano = rec.get("observed", r.time_unix_nano)
        name = rec.get("event", "api_request")
        r.body.string_value = f"claude_code.{name}"
        attrs = {"session.id": session, "event.name": name, "event.sequence": i, **rec["attrs"]}
        for k, v in attrs.items():
            kv = r.attributes.add()
            kv.key = k
            if isinstance(v, bool):
                kv.value.bool_value = v
            elif isinstance(v, int):
                kv.value.int_value = v
            elif isinstance(v, float):
                kv.value.double_value = v
            else:
                kv.value.string_value = v
    return req


def export(
    server: PrismServer,
    key: str | None,
    body: bytes,
    *,
    content_type: str | None = PROTOBUF,
    signal: str = "logs",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    h: dict[str, str] = {}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    if content_type is not None:
        h["Content-Type"] = content_type
    h.update(headers or {})
    return httpx.post(f"{server.ingest_url}/v1/{signal}", content=body, headers=h, timeout=60)


def assert_error(r: httpx.Response, status: int, *, contains: str | None = None) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"].strip(), body
    if contains is not None:
        assert contains.lower() in body["message"].lower(), body


def session_rows(server: PrismServer, key: str, session: str, count: int) -> list[dict[str, Any]]:
    rows = wait_for(
        lambda: (r := server.telemetry(key, "logs", session_id=session)) and len(r) >= count and r,
        what=f"{count} rows of {session}",
    )
    assert len(rows) == count, rows
    return rows


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def ingest_pid(server: PrismServer) -> int:
    """The `prism ingest` child of the supervisor."""
    assert server.proc is not None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid"))
        if ppid == server.proc.pid and b"ingest" in cmdline:
            return int(entry.name)
    raise AssertionError("no ingest process under the supervisor")


def memory_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":")
            out[name] = int(value.split()[0])
    return out


def gzip_bomb(inflated: int) -> bytes:
    """A valid gzip stream of `inflated` zero bytes (about 1 KiB per MiB), built block by block
    without compressing the whole thing (which would take seconds)."""
    mib = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = comp.compress(mib) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(mib) + comp.flush(zlib.Z_FULL_FLUSH)  # position-independent
    end = comp.flush(zlib.Z_FINISH)[:-8]  # final empty block, without the trailer
    crc = 0
    for _ in range(inflated >> 20):
        crc = zlib.crc32(mib, crc)
    trailer = struct.pack("<II", crc, inflated & 0xFFFFFFFF)
    return head + block * ((inflated >> 20) - 1) + end + trailer


# --------------------------------------------------------------------------------------------
# The canary (first) ...

CANARY: dict[str, Any] = {}


def test_canary_is_stored(prism_server: PrismServer, dev: dict[str, str]) -> None:
    session = f"canary-{uuid.uuid4()}"
    records = [
        {"attrs": {"input_tokens": 100 + i, "output_tokens": 7, "cost_usd_micros": 20050 + i}}
        for i in range(5)
    ]
    r = export(prism_server, dev["key"], logs_request(session, records).SerializeToString())
    assert r.status_code == 200 and r.content == b"", r.text
    CANARY["session"] = session
    CANARY["ingest_pid"] = ingest_pid(prism_server)
    CANARY["rows"] = session_rows(prism_server, dev["key"], session, 5)
    assert sorted(r["input_tokens"] for r in CANARY["rows"]) == [100, 101, 102, 103, 104]


# --------------------------------------------------------------------------------------------
# Undecodable bodies


def test_truncated_protobuf_is_400(prism_server: PrismServer, dev: dict[str, str]) -> None:
    body = logs_request("trunc", [{"attrs": {"input_tokens": 1}}]).SerializeToString()
    assert ExportLogsServiceRequest.FromString(body)  # whole, it is fine
    r = export(prism_server, dev["key"], body[:-7])
    assert_error(r, 400, contains="protobuf")


def test_garbage_protobuf_is_400(prism_server: PrismServer, dev: dict[str, str]) -> None:
    assert_error(export(prism_server, dev["key"], b"\xff" * 64), 400)
    assert_error(export(prism_server, dev["key"], b"\xff" * 64, signal="metrics"), 400)
    assert_error(export(prism_server, dev["key"], b"\xff" * 64, signal="traces"), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None, "multipart/x"])
def test_wrong_content_type_is_415(
    prism_server: PrismServer, dev: dict[str, str], content_type: str | None
) -> None:
    body = logs_request("ct", [{"attrs": {}}]).SerializeToString()
    assert_error(export(prism_server, dev["key"], body, content_type=content_type), 415)


def test_json_media_type_with_parameters_is_accepted(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    r = export(prism_server, dev["key"], b"{}", content_type="application/json; charset=utf-8")
    assert r.status_code == 200 and r.json() == {}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"resourceLogs": [', b"[1, 2, 3]", b'"a string"', b"\x00\x01\x02"],
    ids=["broken", "unterminated", "array", "string", "binary"],
)
def test_invalid_json_is_400(prism_server: PrismServer, dev: dict[str, str], body: bytes) -> None:
    assert_error(export(prism_server, dev["key"], body, content_type=JSON), 400)


def test_wrong_shapes_in_json_are_400(prism_server: PrismServer, dev: dict[str, str]) -> None:
    for doc in (
        {"resourceLogs": {"a": 1}},
        {"resourceLogs": [1]},
        {"resourceLogs": [{"scopeLogs": [2]}]},
    ):
        assert_error(export(prism_server, dev["key"], orjson.dumps(doc), content_type=JSON), 400)


def test_invalid_utf8_in_protobuf_string_is_400(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    body = logs_request("utf8", [{"attrs": {"model": "XXXX"}}]).SerializeToString()
    assert body.count(b"XXXX") == 1
    bad = body.replace(b"XXXX", b"\xff\xfe\x80X")  # same length: only the bytes are wrong
    assert_error(export(prism_server, dev["key"], bad), 400, contains="utf-8")


def test_invalid_utf8_in_json_is_400(prism_server: PrismServer, dev: dict[str, str]) -> None:
    body = (
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"\xff\xfe"}}]}]}]}'
    )
    assert_error(export(prism_server, dev["key"], body, content_type=JSON), 400)
    gz = gzip.compress(body)
    r = export(
        prism_server, dev["key"], gz, content_type=JSON, headers={"Content-Encoding": "gzip"}
    )
    assert_error(r, 400)


def test_bad_content_encoding(prism_server: PrismServer, dev: dict[str, str]) -> None:
    body = logs_request("enc", [{"attrs": {}}]).SerializeToString()
    r = export(prism_server, dev["key"], body, headers={"Content-Encoding": "br"})
    assert_error(r, 415, contains="gzip")
    r = export(prism_server, dev["key"], b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"})
    assert_error(r, 400)
    truncated = gzip.compress(body)[:-12]
    r = export(prism_server, dev["key"], truncated, headers={"Content-Encoding": "gzip"})
    assert_error(r, 400)


# --------------------------------------------------------------------------------------------
# Size limits


def test_gzip_bomb_is_413_without_inflating_it(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    bomb = gzip_bomb(1 << 30)  # 1 GiB of zeros
    assert len(bomb) < 2 * 1024 * 1024  # small enough to pass the compressed-size limit
    pid = ingest_pid(prism_server)
    before = memory_kib(pid)
    started = time.monotonic()
    r = export(prism_server, dev["key"], bomb, headers={"Content-Encoding": "gzip"})
    elapsed = time.monotonic() - started
    after = memory_kib(pid)
    assert_error(r, 413, contains="decompressed")
    assert elapsed < 5, f"refusing the bomb took {elapsed:.1f}s"
    # The peak resident size (high-water mark) grew by far less than the inflated size.
    grew_mib = (after["VmHWM"] - before["VmHWM"]) / 1024
    assert grew_mib < 256, f"ingest peak RSS grew by {grew_mib:.0f} MiB: {before} -> {after}"
    assert after["VmRSS"] < before["VmRSS"] + 256 * 1024, (before, after)


def test_oversized_body_with_content_length_is_413(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    body = bytes(MAX_BODY + 1024)
    r = export(prism_server, dev["key"], body)
    assert r.request.headers["content-length"] == str(len(body))
    assert_error(r, 413)


def test_oversized_chunked_body_is_413(prism_server: PrismServer, dev: dict[str, str]) -> None:
    def chunks() -> Any:
        for _ in range(MAX_BODY // 65536 + 16):
            yield bytes(65536)

    r = export(prism_server, dev["key"], chunks())  # type: ignore[arg-type]
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert_error(r, 413)


def test_chunked_body_under_the_limit_is_accepted(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    session = f"chunked-{uuid.uuid4()}"
    body = logs_request(session, [{"attrs": {"input_tokens": 3}}] * 3).SerializeToString()

    def chunks() -> Any:  # as Claude Code 2.1.191-2.1.211 sends: chunked, no Content-Length
        for i in range(0, len(body), 50):
            yield body[i : i + 50]

    r = export(prism_server, dev["key"], chunks())  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    assert len(session_rows(prism_server, dev["key"], session, 3)) == 3


def test_ten_megabyte_attributes_are_stored_truncated(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    session = f"huge-{uuid.uuid4()}"
    huge = ("0123456789abcdef" * (10 * 1024 * 1024 // 16))[:-1] + "Z"
    body = logs_request(
        session,
        [{"event": "user_prompt", "attrs": {"prompt": huge, "custom.blob": huge, "keep": "me"}}],
    ).SerializeToString()
    assert len(body) > MAX_BODY  # would be refused uncompressed: it has to come gzip'd
    r = export(prism_server, dev["key"], gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    (row,) = session_rows(prism_server, dev["key"], session, 1)
    for value in (row["prompt"], row["attributes"]["custom.blob"]):
        assert value.endswith(MARKER)
        assert len(value) == MAX_ATTRIBUTE + len(MARKER)
        assert huge.startswith(value[: -len(MARKER)])
    assert row["truncated"] >= 2
    assert row["prompt_length"] == len(huge)  # the length of what was sent, not of what is kept
    assert row["attributes"]["keep"] == "me"


def test_out_of_range_numbers_do_not_poison_the_lake(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    """Numbers no int64 column can hold are accepted, stored as unknown (or saturated counts),
    and above all do not stop the lake writer: data sent after them still lands."""
    session = f"huge-ints-{uuid.uuid4()}"
    attrs = [
        {"key": "session.id", "value": {"stringValue": session}},
        {"key": "event.sequence", "value": {"intValue": 0}},
        {"key": "input_tokens", "value": {"intValue": "99999999999999999999"}},
        {"key": "output_tokens", "value": {"intValue": 18446744073709551615}},
        {"key": "cache_read_tokens", "value": {"stringValue": "-99999999999999999999"}},
        {"key": "cost_usd", "value": {"doubleValue": 1e300}},
        {"key": "status_code", "value": {"intValue": 1e30}},
    ]
    record = {"body": {"stringValue": "claude_code.api_request"}, "attributes": attrs}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]}
    logs = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
    r = export(prism_server, dev["key"], orjson.dumps(logs), content_type=JSON)
    assert r.status_code == 200, r.text
    metrics = ExportMetricsServiceRequest()
    hist = metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="huge.histogram")
    hist.histogram.aggregation_temporality = 1
    point = hist.histogram.data_points.add(time_unix_nano=time.time_ns(), count=2**64 - 1)
    point.bucket_counts.extend([2**64 - 1, 1])
    point.explicit_bounds.append(1.0)
    attr = point.attributes.add()
    attr.key, attr.value.string_value = "session.id", session
    r = export(prism_server, dev["key"], metrics.SerializeToString(), signal="metrics")
    assert r.status_code == 200, r.text
    # Sent afterwards: must not be held up by the records above.
    after = f"after-huge-{uuid.uuid4()}"
    body = logs_request(after, [{"attrs": {"input_tokens": 11}}]).SerializeToString()
    assert export(prism_server, dev["key"], body).status_code == 200
    assert session_rows(prism_server, dev["key"], after, 1)[0]["input_tokens"] == 11

    (row,) = session_rows(prism_server, dev["key"], session, 1)
    assert row["agent"] == "claude_code" and row["event_sequence"] == 0
    for col in ("input_tokens", "output_tokens", "cache_read_tokens", "status_code"):
        assert row[col] is None, (col, row[col])
    assert row["cost_micro_usd"] is None
    (m,) = wait_for(
        lambda: prism_server.telemetry(dev["key"], "metrics", session_id=session),
        what="the histogram point",
    )
    assert m["count"] == 2**63 - 1 and m["bucket_counts"] == [2**63 - 1, 1]


@pytest.mark.xfail(
    strict=True,
    reason="lake/normalize.py _spans cuts the serialized `events` JSON text at the attribute "
    "limit, so a long span-event attribute leaves the events column as invalid JSON",
)
def test_long_span_event_attributes_are_truncated_inside_valid_json(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    trace_id = uuid.uuid4().hex
    long = "y" * (MAX_ATTRIBUTE * 2)
    now = str(time.time_ns())
    attrs = [{"key": "blob", "value": {"stringValue": long}}]
    span = {
        "traceId": trace_id,
        "spanId": "ab" * 8,
        "name": "claude_code.tool",
        "startTimeUnixNano": now,
        "endTimeUnixNano": now,
        "attributes": attrs,
        "events": [{"name": "tool.output", "timeUnixNano": now, "attributes": attrs}],
    }
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    r = export(prism_server, dev["key"], orjson.dumps(doc), content_type=JSON, signal="traces")
    assert r.status_code == 200, r.text
    (row,) = wait_for(
        lambda: prism_server.telemetry(dev["key"], "traces", trace_id=trace_id), what="the span"
    )
    assert row["attributes"]["blob"] == long[:MAX_ATTRIBUTE] + MARKER
    events = orjson.loads(row["events"])  # still JSON
    assert events[0]["attributes"]["blob"] == long[:MAX_ATTRIBUTE] + MARKER


# --------------------------------------------------------------------------------------------
# Keys


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer gck_", "Basic dXNlcjpwYXNz", "Bearer gck_" + "A" * 43, "gck_x"],
    ids=["missing", "empty", "no-token", "bare-prefix", "basic", "unknown", "no-scheme"],
)
def test_bad_keys_are_401(prism_server: PrismServer, authorization: str | None) -> None:
    headers = {"Content-Type": PROTOBUF}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = logs_request("nokey", [{"attrs": {}}]).SerializeToString()
    r = httpx.post(f"{prism_server.ingest_url}/v1/logs", content=body, headers=headers)
    assert_error(r, 401)
    assert r.json()["message"] == "Invalid API key"


def test_revoked_key_is_401_on_the_next_request(prism_server: PrismServer) -> None:
    assert prism_server.admin_key
    victim = new_developer(prism_server, f"revoked-{uuid.uuid4().hex[:8]}@example.com")
    session = f"revoked-{uuid.uuid4()}"
    body = logs_request(session, [{"attrs": {"input_tokens": 1}}]).SerializeToString()
    assert export(prism_server, victim["key"], body).status_code == 200
    r = prism_server.api("DELETE", f"/v1/keys/{victim['id']}", prism_server.admin_key)
    assert r.status_code == 200 and r.json()["revoked_at"], r.text
    assert_error(export(prism_server, victim["key"], body), 401)
    assert_error(prism_server.api("GET", "/v1/telemetry/logs", victim["key"]), 401)
    with (
        grpc.insecure_channel(prism_server.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as err,
    ):
        channel.unary_unary(LOGS_SERVICE)(
            body, metadata=(("authorization", f"Bearer {victim['key']}"),), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # What it sent before the revocation is kept (readable by an admin).
    rows = wait_for(
        lambda: prism_server.telemetry(
            prism_server.admin_key or "", "logs", session_id=session, user_id=victim["developer_id"]
        ),
        what="rows sent before revocation",
    )
    assert len(rows) == 1


# --------------------------------------------------------------------------------------------
# Timestamps


def test_broken_timestamps_are_accepted_with_a_sane_time(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    session = f"time-{uuid.uuid4()}"
    now = time.time_ns()
    year_2554 = 2**64 - 1  # the largest fixed64: as far as protobuf can go
    pb = logs_request(
        session,
        [
            {"attrs": {"case": "zero"}, "time": 0, "observed": 0},
            {"attrs": {"case": "epoch"}, "time": 10**9, "observed": 0},
            {"attrs": {"case": "far-future"}, "time": year_2554, "observed": now},
        ],
    )
    json_doc = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "32503680000000000000",  # 3000-01-01 (> fixed64)
                                "observedTimeUnixNano": "0",
                                "body": {"stringValue": "claude_code.api_request"},
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": session}},
                                    {"key": "event.sequence", "value": {"intValue": 3}},
                                    {"key": "case", "value": {"stringValue": "year-3000"}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    before = time.time()
    assert export(prism_server, dev["key"], pb.SerializeToString()).status_code == 200
    r = export(prism_server, dev["key"], orjson.dumps(json_doc), content_type=JSON)
    assert r.status_code == 200 and r.json() == {}, r.text
    after = time.time()
    rows = {r["attributes"]["case"]: r for r in session_rows(prism_server, dev["key"], session, 4)}
    for case, row in rows.items():
        t = parse_time(row["time"]).timestamp()
        assert before - 5 <= t <= after + 5, (case, row["time"])
    # A clock that was plainly wrong is replaced, and what it said is kept.
    assert rows["epoch"]["attributes"]["prism.original_time_unix_nano"] == str(10**9)
    assert rows["far-future"]["attributes"]["prism.original_time_unix_nano"] == str(year_2554)
    assert rows["far-future"]["time"] == rows["far-future"]["observed_time"]  # fell back to it
    assert rows["year-3000"]["attributes"]["prism.original_time_unix_nano"] == (
        "32503680000000000000"
    )
    # 0 is OTLP's "unset", not a broken clock: the time is filled in, nothing to keep.
    assert "prism.original_time_unix_nano" not in rows["zero"]["attributes"]


# --------------------------------------------------------------------------------------------
# Empty exports


def test_empty_bodies_are_empty_successes(prism_server: PrismServer, dev: dict[str, str]) -> None:
    for signal in ("logs", "metrics", "traces"):
        r = export(prism_server, dev["key"], b"", signal=signal)
        assert r.status_code == 200 and r.content == b"", (signal, r.content)
        assert r.headers["content-type"] == PROTOBUF
        r = export(prism_server, dev["key"], b"", signal=signal, content_type=JSON)
        assert r.status_code == 200 and r.json() == {}, (signal, r.text)
        r = export(prism_server, dev["key"], b"{}", signal=signal, content_type=JSON)
        assert r.status_code == 200 and r.json() == {}, (signal, r.text)
    empty_pb = ExportMetricsServiceRequest()
    empty_pb.resource_metrics.add().scope_metrics.add()
    r = export(prism_server, dev["key"], empty_pb.SerializeToString(), signal="metrics")
    assert r.status_code == 200 and r.content == b""
    r = export(prism_server, dev["key"], gzip.compress(b""), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.content == b""


def test_non_object_json_records_are_reported_as_partial_success(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    session = f"partial-{uuid.uuid4()}"
    doc = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "body": {"stringValue": "claude_code.api_request"},
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": session}}
                                ],
                            },
                            "not a record",
                            17,
                        ]
                    }
                ]
            }
        ]
    }
    r = export(prism_server, dev["key"], orjson.dumps(doc), content_type=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["partialSuccess"]["rejectedLogRecords"] == 2
    assert len(session_rows(prism_server, dev["key"], session, 1)) == 1


def test_framework_errors_have_the_same_shape(prism_server: PrismServer) -> None:
    assert_error(httpx.get(f"{prism_server.ingest_url}/v1/logs"), 405)
    assert_error(httpx.post(f"{prism_server.ingest_url}/v1/nothing-here"), 404)
    assert_error(httpx.get(f"{prism_server.api_url}/v1/telemetry/logs"), 401)


# --------------------------------------------------------------------------------------------
# gRPC


def test_grpc_bad_input(prism_server: PrismServer, dev: dict[str, str]) -> None:
    good = logs_request(f"grpc-{uuid.uuid4()}", [{"attrs": {"input_tokens": 9}}])
    with grpc.insecure_channel(prism_server.grpc_target) as channel:
        call = channel.unary_unary(LOGS_SERVICE)
        cases = [
            (good.SerializeToString(), (), grpc.StatusCode.UNAUTHENTICATED),
            (
                good.SerializeToString(),
                (("authorization", "Bearer gck_nope"),),
                grpc.StatusCode.UNAUTHENTICATED,
            ),
            (
                good.SerializeToString(),
                (("authorization", "Basic gck_nope"),),
                grpc.StatusCode.UNAUTHENTICATED,
            ),
            (
                b"\xff" * 32,
                (("authorization", f"Bearer {dev['key']}"),),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            (
                good.SerializeToString()[:-5],
                (("authorization", f"Bearer {dev['key']}"),),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
        ]
        for body, metadata, code in cases:
            with pytest.raises(grpc.RpcError) as err:
                call(body, metadata=metadata, timeout=10)
            assert err.value.code() == code, (metadata, err.value.details())
            assert err.value.details()
        # And a good one still works on the same channel.
        reply = call(
            good.SerializeToString(),
            metadata=(("authorization", f"Bearer {dev['key']}"),),
            timeout=10,
        )
        assert ExportLogsServiceResponse.FromString(reply) == ExportLogsServiceResponse()
        unknown = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Nope")
        with pytest.raises(grpc.RpcError) as err:
            unknown(b"", metadata=(("authorization", f"Bearer {dev['key']}"),), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    session = good.resource_logs[0].scope_logs[0].log_records[0].attributes[0].value.string_value
    (row,) = session_rows(prism_server, dev["key"], session, 1)
    assert row["input_tokens"] == 9 and row["developer_id"] == dev["developer_id"]


# --------------------------------------------------------------------------------------------
# ... and after all of it (last)


def test_earlier_data_is_intact_and_the_server_still_answers(
    prism_server: PrismServer, dev: dict[str, str]
) -> None:
    assert CANARY, "test_canary_is_stored must run first"
    again = prism_server.telemetry(dev["key"], "logs", session_id=CANARY["session"])
    assert sorted(again, key=lambda r: r["event_sequence"]) == sorted(
        CANARY["rows"], key=lambda r: r["event_sequence"]
    )
    assert prism_server.proc is not None and prism_server.proc.poll() is None
    for url in (f"{prism_server.ingest_url}/healthz", f"{prism_server.api_url}/healthz"):
        assert httpx.get(url, timeout=10).status_code == 200
    # The ingest process is the one that started (no crash and restart on the way).
    assert ingest_pid(prism_server) == CANARY["ingest_pid"]
    session = f"after-{uuid.uuid4()}"
    body = logs_request(session, [{"attrs": {"input_tokens": 1}}]).SerializeToString()
    assert export(prism_server, dev["key"], body).status_code == 200
    assert len(session_rows(prism_server, dev["key"], session, 1)) == 1
    assert "Traceback" not in prism_server.log(), prism_server.log()[-3000:]
