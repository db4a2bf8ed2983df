"""Realistic Claude Code OTLP batches, fast enough to feed a load test.

Log batches are built from a real export of Claude Code 2.1.197 (`samples/`, nine records:
api_request, assistant_response, user_prompt, tool_decision, tool_result): each record is the
real one, re-timed, given its exporter's session id and sequence number, and tagged with a
unique id attribute so a test can count what reached the lake. Records are assembled from
pre-serialised protobuf fragments (a repeated field may be split, a later scalar overrides an
earlier one), so a batch costs a few microseconds per record, not a message build.

Span batches (for `/v1/traces`) follow the shape of Claude Code's beta tracing: one
`claude_code.interaction` root per prompt with `llm_request` and `tool` children.
"""

from __future__ import annotations

import random
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SAMPLE_LOGS = Path(__file__).parent / "samples" / "claude-code-2.1.197-logs.pb"
ID_ATTRIBUTE = "loadgen.record_id"
_PER_RECORD = ("session.id", "event.sequence", "event.timestamp", "request_id")
_TIMES = (1, 11)  # LogRecord.time_unix_nano, observed_time_unix_nano (fixed64)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fixed64(number: int, value: int) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<Q", value)


_TIME_TAG = _varint(_TIMES[0] << 3 | 1)
_OBSERVED_TAG = _varint(_TIMES[1] << 3 | 1)


def _str_attr(key: str, value: str) -> bytes:
    """A `LogRecord.attributes` entry (field 6) holding a string AnyValue."""
    any_value = _field(1, value.encode())
    return _field(6, _field(1, key.encode()) + _field(2, any_value))


def _int_attr(key: str, value: int) -> bytes:
    any_value = _varint(3 << 3) + _varint(value)
    return _field(6, _field(1, key.encode()) + _field(2, any_value))


@dataclass(frozen=True)
class LogBatch:
    payload: bytes  # ExportLogsServiceRequest, serialised
    ids: tuple[str, ...]  # the unique id of every record, in order
    time_at: int  # offset in `payload` of the first record's 8-byte time_unix_nano

    def retimed(self, time_ns: int) -> bytes:
        """The payload with its first record re-timed: a distinct body (and batch id) for the
        price of one copy, for benches that replay a pool of batches."""
        at = self.time_at
        return b"".join((self.payload[:at], struct.pack("<Q", time_ns), self.payload[at + 8 :]))


class ClaudeLogBatches:
    """Batches as one Claude Code process (one session) would export them.

    `next_batch(n)` returns `n` records continuing this exporter's stream. Timestamps advance by
    one millisecond per record from `start_ns`, so every record of every exporter sorts
    distinctly if exporters use different `start_ns`.
    """

    def __init__(self, *, exporter: int, start_ns: int | None = None, seed: int = 0) -> None:
        request = ExportLogsServiceRequest.FromString(SAMPLE_LOGS.read_bytes())
        rl = request.resource_logs[0]
        sl = rl.scope_logs[0]
        self._templates: list[bytes] = []
        self._has_request: list[bool] = []
        for record in sl.log_records:
            r = type(record)()
            r.CopyFrom(record)
            r.ClearField("time_unix_nano")
            r.ClearField("observed_time_unix_nano")
            kept = [kv for kv in r.attributes if kv.key not in _PER_RECORD]
            self._has_request.append(len(kept) < len(r.attributes) - 3)
            del r.attributes[:]
            r.attributes.extend(kept)
            self._templates.append(r.SerializeToString())
        resource = rl.resource.SerializeToString()
        scope = sl.scope.SerializeToString()
        self._resource_head = _field(1, resource)
        self._scope_head = _field(1, scope)
        self.exporter = exporter
        self.session_id = str(uuid.UUID(int=random.Random(seed * 7919 + exporter).getrandbits(128)))
        self._session = _str_attr("session.id", self.session_id)
        self._next_ns = start_ns if start_ns is not None else time.time_ns() - 3600 * 10**9
        self._seq = 0
        self._rng = random.Random(seed * 104729 + exporter)

    def next_batch(self, n: int) -> LogBatch:
        parts: list[bytes] = []
        ids: list[str] = []
        templates = self._templates
        prefix = f"e{self.exporter}-"
        getrandbits = self._rng.getrandbits
        for _ in range(n):
            seq = self._seq
            k = seq % len(templates)
            rid = prefix + str(seq)
            ns = self._next_ns
            stamp = struct.pack("<Q", ns)
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9))
            record = b"".join(
                (
                    templates[k],
                    _TIME_TAG,
                    stamp,
                    _OBSERVED_TAG,
                    stamp,
                    self._session,
                    _int_attr("event.sequence", seq),
                    _str_attr("event.timestamp", f"{when}.{ns // 10**6 % 1000:03d}Z"),
                    _str_attr("request_id", f"req_{getrandbits(96):024x}")
                    if self._has_request[k]
                    else b"",
                    _str_attr(ID_ATTRIBUTE, rid),
                )
            )
            parts.append(_field(2, record))
            ids.append(rid)
            self._seq += 1
            self._next_ns += 1_000_000
        scope_logs = self._scope_head + b"".join(parts)
        resource_logs = self._resource_head + _field(2, scope_logs)
        payload = _field(1, resource_logs)
        # The first record's time is the first fixed64 after its template: find it once.
        first = templates[(self._seq - n) % len(templates)]
        time_at = payload.index(first) + len(first) + 1 if n else 0
        return LogBatch(payload, tuple(ids), time_at)


def span_batch(rng: random.Random, n: int, *, start_ns: int) -> bytes:
    """`n` spans of Claude Code-like interactions (a root plus llm_request/tool children)."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in (
        ("service.name", "claude-code"),
        ("service.version", "2.1.197"),
        ("os.type", "linux"),
        ("host.arch", "amd64"),
    ):
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = key, value
    ss = rs.scope_spans.add()
    ss.scope.name = "com.anthropic.claude_code.tracing"
    ss.scope.version = "2.1.197"
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    t = start_ns
    made = 0
    while made < n:
        trace_id = rng.randbytes(16)
        root_id = rng.randbytes(8)
        children = min(n - made - 1, rng.randint(2, 9))
        root = ss.spans.add()
        root.trace_id, root.span_id = trace_id, root_id
        root.name, root.kind = "claude_code.interaction", 1
        root.start_time_unix_nano = t
        prompt_id = str(uuid.UUID(int=rng.getrandbits(128)))
        for key, value in (("session.id", session), ("prompt.id", prompt_id)):
            kv = root.attributes.add()
            kv.key, kv.value.string_value = key, value
        made += 1
        ct = t + 1_000_000
        for i in range(children):
            s = ss.spans.add()
            s.trace_id, s.span_id, s.parent_span_id = trace_id, rng.randbytes(8), root_id
            llm = i % 2 == 0
            s.name = "claude_code.llm_request" if llm else "claude_code.tool"
            s.kind = 3 if llm else 1
            s.start_time_unix_nano = ct
            ct += rng.randint(5, 900) * 1_000_000
            s.end_time_unix_nano = ct
            s.status.code = 1
            attrs: list[tuple[str, str | int]] = [("session.id", session), ("prompt.id", prompt_id)]
            if llm:
                attrs += [
                    ("model", "claude-opus-4-8"),
                    ("input_tokens", rng.randint(100, 20000)),
                    ("output_tokens", rng.randint(10, 3000)),
                    ("cache_read_tokens", rng.randint(0, 90000)),
                    ("request_id", f"req_{rng.getrandbits(64):016x}"),
                ]
            else:
                attrs += [("tool_name", rng.choice(["Bash", "Read", "Edit", "Grep", "Write"]))]
            for key, value in attrs:
                kv = s.attributes.add()
                kv.key = key
                if isinstance(value, int):
                    kv.value.int_value = value
                else:
                    kv.value.string_value = value
            made += 1
        root.end_time_unix_nano = ct
        t = ct + 1_000_000
    return request.SerializeToString()
