"""The fast protobuf log walker yields exactly what the reference walker yields, or declines.

`otlp._pb_logs_flat` reads log batches through wire-compatible views of the OTLP messages; these
tests pin it to `otlp._pb_logs` on random records with every kind of AnyValue, and check that
encodings outside the canonical form (which no SDK writes, but a client may) make it decline so
the reference walker answers instead.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from prism.receive import otlp


def _reference(payload: bytes) -> list[otlp.LogItem]:
    return list(otlp._pb_logs(ExportLogsServiceRequest.FromString(payload)))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def _fill(v: AnyValue, rng: random.Random, depth: int = 0) -> None:
    kind = rng.choice(
        ["s", "s", "s", "i", "d", "b", "empty", "bytes", *(["arr", "kv"] if depth < 2 else [])]
    )
    if kind == "s":
        v.string_value = rng.choice(["", "x", "ünïcødé ✓", "a" * rng.randint(0, 300)])
    elif kind == "i":
        v.int_value = rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-(10**6), 10**6)])
    elif kind == "d":
        v.double_value = rng.choice([0.0, -0.0, 1.5, float("inf"), float("nan"), rng.random()])
    elif kind == "b":
        v.bool_value = rng.random() < 0.5
    elif kind == "bytes":
        v.bytes_value = rng.randbytes(rng.randint(0, 5))
    elif kind == "arr":
        v.array_value.SetInParent()  # an empty array is still a value
        for _ in range(rng.randint(0, 3)):
            _fill(v.array_value.values.add(), rng, depth + 1)
    elif kind == "kv":
        v.kvlist_value.SetInParent()
        for i in range(rng.randint(0, 3)):
            kv = v.kvlist_value.values.add(key=f"k{i}")
            _fill(kv.value, rng, depth + 1)
    else:  # "empty": present, but with no field set (`{}` in OTLP/JSON)
        v.SetInParent()


def _random_request(rng: random.Random) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    for _ in range(rng.randint(0, 3)):
        rl = req.resource_logs.add()
        for i in range(rng.randint(0, 3)):
            kv = rl.resource.attributes.add(key=f"res.{i}")
            _fill(kv.value, rng)
        for _ in range(rng.randint(0, 2)):
            sl = rl.scope_logs.add()
            sl.scope.name = rng.choice(["", "com.anthropic.claude_code.events", "other"])
            for _ in range(rng.randint(0, 6)):
                r = sl.log_records.add()
                r.time_unix_nano = rng.choice([0, rng.randint(0, 2**64 - 1)])
                r.observed_time_unix_nano = rng.choice([0, 1_700_000_000_000_000_000])
                r.severity_text = rng.choice(["", "INFO"])
                if rng.random() < 0.8:
                    _fill(r.body, rng)
                if rng.random() < 0.3:
                    r.trace_id, r.span_id = rng.randbytes(16), rng.randbytes(8)
                for k in range(rng.randint(0, 8)):
                    key = rng.choice(["event.name", "session.id", f"a{k}", "dup"])
                    _fill(r.attributes.add(key=key).value, rng)
    return req


@pytest.mark.parametrize("seed", range(300))
def test_flat_walk_matches_the_reference_walker(seed: int) -> None:
    payload = _random_request(random.Random(seed)).SerializeToString()
    fast = otlp._pb_logs_flat(payload)
    assert fast is not None, "canonical encodings must take the fast path"
    assert _same(fast, _reference(payload))


def _record_with_attribute_bytes(raw_key_value: bytes) -> bytes:
    """A request with one record whose attributes field holds `raw_key_value` verbatim."""
    record = b"\x32" + bytes([len(raw_key_value)]) + raw_key_value
    scope_logs = b"\x12" + bytes([len(record)]) + record
    resource_logs = b"\x12" + bytes([len(scope_logs)]) + scope_logs
    return b"\x0a" + bytes([len(resource_logs)]) + resource_logs


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a\x01k\x12\x05\x0a\x01a\x18\x05",  # AnyValue with two oneof fields: last one wins
        b"\x0a\x01k\x12\x06\x0a\x01a\x0a\x01b",  # a oneof field twice
        b"\x0a\x01k\x12\x02\x1a\x00",  # int_value with the wrong wire type
        b"\x0a\x01k",  # KeyValue without a value
        b"\x12\x03\x0a\x01a",  # KeyValue without a key (proto3 leaves out "")
        b"\x0a\x01k\x0a\x01j\x12\x03\x0a\x01a",  # a key twice
        b"\x0a\x01k\x12\x05\x42\x00\x0a\x01a",  # an unknown field before the value
    ],
)
def test_non_canonical_encodings_fall_back_or_agree(raw: bytes) -> None:
    payload = _record_with_attribute_bytes(raw)
    reference = _reference(payload)
    fast = otlp._pb_logs_flat(payload)
    assert fast is None or _same(fast, reference)
    assert _same(list(otlp.walk("logs", "protobuf", payload)), reference)


def test_two_odd_key_values_in_one_record_are_not_paired_wrongly() -> None:
    """A KeyValue without a value next to one without a key must not pair up as one."""
    a = b"\x0a\x01k"  # key only
    b = b"\x12\x03\x0a\x01v"  # value only
    record = b"\x32" + bytes([len(a)]) + a + b"\x32" + bytes([len(b)]) + b
    scope_logs = b"\x12" + bytes([len(record)]) + record
    resource_logs = b"\x12" + bytes([len(scope_logs)]) + scope_logs
    payload = b"\x0a" + bytes([len(resource_logs)]) + resource_logs
    reference = _reference(payload)
    assert reference[0].attrs == {"k": None, "": "v"}
    assert _same(list(otlp.walk("logs", "protobuf", payload)), reference)
