"""Compatibility with real Claude Code output: public OTLP captures and the 2.1.197 capture.

The files are POSTed exactly as they were captured (public ones are OTLP/JSON bodies; the 2.1.197
ones are the raw protobuf bodies, plus their OTLP/JSON decoding). Expectations are derived from
the files themselves by an independent reading here, not from Prism's code. Each test uses a
fresh developer, so its rows are exactly what it sent.

The sample folder is `../shared/samples` relative to the repository root; without it the module
skips.
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "samples"
PUBLIC = SAMPLES / "public" / "otlp"
CC197 = SAMPLES / "claude-code-2.1.197"

if not PUBLIC.is_dir():
    pytest.skip(f"public samples not found at {PUBLIC}", allow_module_level=True)

A11_LOGS = sorted(PUBLIC.glob("a11ign-*-logs-*.json"))
CALYX_METRICS = sorted(PUBLIC.glob("calyx-*-metrics-*.json"))

# attribute -> (column, coercion): how the spec says Claude Code's attributes land (§1.6).
INT_COLUMNS = {
    "event.sequence": "event_sequence",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_creation_tokens": "cache_creation_tokens",
    "prompt_length": "prompt_length",
    "response_length": "response_length",
    "status_code": "status_code",
    "attempt": "attempt",
}
FLOAT_COLUMNS = {"duration_ms": "duration_ms", "ttft_ms": "ttft_ms"}
BOOL_COLUMNS = {"success": "success"}
STR_COLUMNS = {
    "session.id": "session_id",
    "prompt.id": "prompt_id",
    "model": "model",
    "request_id": "request_id",
    "query_source": "query_source",
    "message.uuid": "message_uuid",
    "tool_name": "tool_name",
    "tool_use_id": "tool_use_id",
    "tool_parameters": "tool_parameters",
    "error_type": "error_type",
}
# consumed into columns of their own (or dropped as redaction markers): not in the map
CONSUMED = {
    "event.name",
    "cost_usd",
    "cost_usd_micros",
    "prompt",
    "prompt_text",
    "response",
    "tool_input",
    "decision",
    "source",
    "decision_type",
    "decision_source",
    "error",
    "user.id",
    "user.email",
    "user.account_uuid",
    "organization.id",
    *INT_COLUMNS,
    *FLOAT_COLUMNS,
    *BOOL_COLUMNS,
    *STR_COLUMNS,
}


# --------------------------------------------------------------------------------------------
# Reading OTLP/JSON independently


def json_value(v: dict[str, Any]) -> Any:
    (kind, x), *_ = v.items()
    if kind == "intValue":
        return int(x)
    if kind == "doubleValue":
        return float(x) if isinstance(x, int | float | str) else None
    if kind == "boolValue":
        return bool(x)
    return x


def json_attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {a["key"]: json_value(a["value"]) for a in items or []}


def json_log_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rl in doc["resourceLogs"]:
        resource = json_attrs(rl.get("resource", {}).get("attributes"))
        for sl in rl["scopeLogs"]:
            for r in sl["logRecords"]:
                out.append(
                    {
                        "body": r["body"]["stringValue"],
                        "time_ns": int(r["timeUnixNano"]),
                        "attrs": json_attrs(r.get("attributes")),
                        "resource": resource,
                    }
                )
    return out


def json_points(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rm in doc["resourceMetrics"]:
        resource = json_attrs(rm.get("resource", {}).get("attributes"))
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                data = m["sum"]
                for p in data["dataPoints"]:
                    value = p["asDouble"] if "asDouble" in p else p["asInt"]
                    out.append(
                        {
                            "name": m["name"],
                            "unit": m.get("unit", ""),
                            "temporality": data["aggregationTemporality"],
                            "start_ns": int(p["startTimeUnixNano"]),
                            "time_ns": int(p["timeUnixNano"]),
                            "value": float(value),
                            "attrs": json_attrs(p.get("attributes")),
                            "resource": resource,
                        }
                    )
    return out


def as_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def iso(ns: int) -> str:
    """The API's rendering of a nanosecond timestamp (microsecond precision, UTC, `Z`)."""
    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    return dt.isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Server helpers


def new_developer(server: PrismServer, email: str) -> dict[str, str]:
    assert server.admin_key
    r = server.api("POST", "/v1/keys", server.admin_key, json={"developer": email})
    assert r.status_code == 201, r.text
    created = r.json()
    keys = server.api("GET", "/v1/keys", server.admin_key).json()["keys"]
    item = next(k for k in keys if k["id"] == created["id"])
    return {**created, "developer_id": item["developer_id"]}


def fresh_developer(server: PrismServer) -> dict[str, str]:
    return new_developer(server, f"samples-{uuid.uuid4().hex[:10]}@example.com")


def post(server: PrismServer, key: str, signal: str, body: bytes, content_type: str) -> None:
    r = httpx.post(
        f"{server.ingest_url}/v1/{signal}",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    if content_type == "application/json":
        assert r.json() == {}, r.text  # no partial success: nothing rejected
    else:
        assert r.content == b"", r.content  # an empty ExportServiceResponse


def rows(server: PrismServer, key: str, kind: str, count: int) -> list[dict[str, Any]]:
    got = wait_for(
        lambda: (r := server.telemetry(key, kind)) and len(r) >= count and r,
        what=f"{count} {kind} rows",
    )
    assert len(got) == count, f"expected {count} {kind} rows, got {len(got)}"
    return got


def check_event_row(row: dict[str, Any], rec: dict[str, Any], developer_id: str) -> None:
    """One stored event against the record it came from."""
    attrs = rec["attrs"]
    assert row["developer_id"] == developer_id
    assert row["agent"] == "claude_code"
    assert row["event_name"] == rec["body"].removeprefix("claude_code.")
    assert row["event_name"] == attrs["event.name"]
    assert row["time"] == iso(rec["time_ns"])
    assert row["service_version"] == rec["resource"]["service.version"]
    for key, col in INT_COLUMNS.items():
        if key in attrs:
            assert row[col] == int(attrs[key]) and isinstance(row[col], int), (key, row[col])
    for key, col in FLOAT_COLUMNS.items():
        if key in attrs:
            assert row[col] == float(attrs[key]), (key, row[col])
    for key, col in BOOL_COLUMNS.items():
        if key in attrs:
            assert row[col] is (as_text(attrs[key]) == "true"), (key, row[col])
    for key, col in STR_COLUMNS.items():
        if key in attrs:
            assert row[col] == attrs[key], (key, row[col])
    for key, col in (("prompt", "prompt"), ("response", "response")):
        if key in attrs:
            expected = None if attrs[key] == "<REDACTED>" else attrs[key]
            assert row[col] == expected, (key, row[col])
    if "cost_usd_micros" in attrs:
        assert row["cost_micro_usd"] == int(attrs["cost_usd_micros"])
    if "tool_input" in attrs:
        assert row["tool_input"] == attrs["tool_input"]
    # Everything else is kept, as text, in the attributes map: nothing silently dropped.
    for key, value in attrs.items():
        if key not in CONSUMED:
            assert row["attributes"].get(key) == as_text(value), (key, row["attributes"])
    for key, value in rec["resource"].items():
        assert row["resource"].get(key) == as_text(value), key


# --------------------------------------------------------------------------------------------
# Public OTLP/JSON logs (CC 2.1.294)


@pytest.mark.parametrize("path", A11_LOGS, ids=[p.name for p in A11_LOGS])
def test_public_log_sample_lands_typed(prism_server: PrismServer, path: Path) -> None:
    dev = fresh_developer(prism_server)
    raw = path.read_bytes()
    records = json_log_records(orjson.loads(raw))
    post(prism_server, dev["key"], "logs", raw, "application/json")
    stored = rows(prism_server, dev["key"], "logs", len(records))
    by_seq = {r["event_sequence"]: r for r in stored}
    assert len(by_seq) == len(records)
    for rec in records:
        check_event_row(by_seq[rec["attrs"]["event.sequence"]], rec, dev["developer_id"])


def test_public_log_samples_specific_facts(prism_server: PrismServer) -> None:
    """The facts SOURCES.md names, spelled out (guards the generic check above)."""
    dev = fresh_developer(prism_server)
    total = 0
    for path in A11_LOGS:
        raw = path.read_bytes()
        total += len(json_log_records(orjson.loads(raw)))
        post(prism_server, dev["key"], "logs", raw, "application/json")
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(prism_server, dev["key"], "logs", total):
        by_name[r["event_name"]].append(r)
    assert {k: len(v) for k, v in by_name.items()} == {
        "api_request": 1,
        "assistant_response": 1,
        "mcp_server_connection": 2,
        "hook_registered": 1,
        "user_prompt": 1,
    }
    (req,) = by_name["api_request"]
    assert (req["input_tokens"], req["output_tokens"]) == (2, 4)
    assert (req["cache_read_tokens"], req["cache_creation_tokens"]) == (9179, 13356)
    assert req["cost_micro_usd"] == 2765 and req["ttft_ms"] == 729.0
    assert req["attributes"]["client_request_id"] == "6c711657-a9c5-4866-a954-d89949d811b5"
    assert req["attributes"]["org.role"] == "worker-probe"  # custom resource keys on records
    (prompt,) = by_name["user_prompt"]
    assert prompt["prompt"] is None and prompt["prompt_length"] == 30  # "30" coerced
    assert "<REDACTED>" not in orjson.dumps(prompt).decode()
    (response,) = by_name["assistant_response"]
    assert response["response"] is None and response["response_length"] == 2
    for mcp in by_name["mcp_server_connection"]:  # an event Prism has no columns for
        assert mcp["duration_ms"] in (1493.0, 1113.0)  # stringValue coerced
        assert mcp["attributes"]["status"] == "disconnected"
        assert mcp["attributes"]["is_plugin"] == "false"
        assert mcp["prompt_id"] == "a50257c3-696f-46fc-9f50-5483556d2fac"
    (hook,) = by_name["hook_registered"]
    assert hook["prompt_id"] is None and hook["event_sequence"] == 2
    assert hook["attributes"]["safe_mode"] == "false"
    assert hook["attributes"]["hook_event"] == "SessionStart"


# --------------------------------------------------------------------------------------------
# Public cumulative metrics (CC 2.1.289)


def series_of(name: str, attrs: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted((k, as_text(v)) for k, v in attrs.items()))


def later_export(doc: dict[str, Any], step: int, *, restart: bool = False) -> dict[str, Any]:
    """The next export of the same process (`step` s later, every value grown), or, with
    `restart`, the first export of a resumed process (new start time, values from zero)."""
    out = copy.deepcopy(doc)
    for rm in out["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                for i, p in enumerate(m["sum"]["dataPoints"]):
                    t = int(p["timeUnixNano"]) + step * 10**9
                    p["timeUnixNano"] = str(t)
                    if restart:
                        p["startTimeUnixNano"] = str(t - 10**9)
                        p["asDouble"] = 1 + i
                    else:
                        p["asDouble"] = p["asDouble"] + 10 * (i + 1)
    return out


@pytest.mark.parametrize("path", CALYX_METRICS, ids=[p.name for p in CALYX_METRICS])
def test_public_cumulative_metrics_become_intervals(prism_server: PrismServer, path: Path) -> None:
    dev = fresh_developer(prism_server)
    first = orjson.loads(path.read_bytes())
    second = later_export(first, 5)
    resumed = later_export(second, 5, restart=True)
    exports = [first, second, resumed]
    post(prism_server, dev["key"], "metrics", path.read_bytes(), "application/json")  # as-is
    post(prism_server, dev["key"], "metrics", orjson.dumps(second), "application/json")
    post(prism_server, dev["key"], "metrics", orjson.dumps(resumed), "application/json")

    sent = [json_points(doc) for doc in exports]
    stored = rows(prism_server, dev["key"], "metrics", sum(len(s) for s in sent))
    by_series: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in stored:
        assert r["developer_id"] == dev["developer_id"]
        assert r["kind"] == "sum" and r["temporality"] == "cumulative"
        assert r["is_monotonic"] is True and r["service_version"] == "2.1.289"
        by_series[series_of(r["name"], r["attributes"])].append(r)
    expected_series = {series_of(p["name"], p["attrs"]) for p in sent[0]}
    assert set(by_series) == expected_series

    for p0, p1, p2 in zip(*sent, strict=True):
        key = series_of(p0["name"], p0["attrs"])
        series = sorted(by_series[key], key=lambda r: r["time"])
        assert [r["raw_value"] for r in series] == [p0["value"], p1["value"], p2["value"]]
        # Prism has no earlier export of these processes: the first value counts whole.
        assert series[0]["value"] == p0["value"]
        assert series[1]["value"] == pytest.approx(p1["value"] - p0["value"])
        # The same series restarting from zero (resumed session) is a new start, not negative.
        assert series[2]["value"] == p2["value"]
        # Per process, the per-interval values add up to its last cumulative value.
        assert series[0]["value"] + series[1]["value"] == pytest.approx(p1["value"])
        assert sum(r["value"] for r in series) == pytest.approx(p1["value"] + p2["value"])
        row = series[0]
        assert row["unit"] == p0["unit"]
        assert row["session_id"] == p0["attrs"]["session.id"]
        assert row["type"] == p0["attrs"].get("type")
        assert row["model"] == p0["attrs"].get("model")
        assert row["time"] == iso(p0["time_ns"])
        assert row["start_time"] == iso(p0["start_ns"])

    models = {r["model"] for r in stored if r["model"]}
    if "run4" in path.name:
        assert models == {"claude-opus-5-5[1m]"}  # the context suffix is kept as sent
    else:
        explore = [r for r in stored if r["attributes"].get("agent.name") == "Explore"]
        assert {r["name"] for r in explore} == {
            "claude_code.cost.usage",
            "claude_code.token.usage",
        }


# --------------------------------------------------------------------------------------------
# The 2.1.197 capture: raw protobuf bodies and their OTLP/JSON decoding


def _cc197() -> Path:
    if not (CC197 / "logs.pb").is_file():
        pytest.skip(f"2.1.197 samples not found at {CC197}")
    return CC197


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in row.items()
        if k not in ("developer_id", "batch_id")  # the owner and the batch differ
    }


def test_cc197_protobuf_and_json_bodies_land_identically(prism_server: PrismServer) -> None:
    base = _cc197()
    records = json_log_records(orjson.loads((base / "logs.decoded.json").read_bytes()))
    points = json_points(orjson.loads((base / "metrics.decoded.json").read_bytes()))
    pb_dev, json_dev = fresh_developer(prism_server), fresh_developer(prism_server)
    post(
        prism_server,
        pb_dev["key"],
        "logs",
        (base / "logs.pb").read_bytes(),
        "application/x-protobuf",
    )
    post(
        prism_server,
        pb_dev["key"],
        "metrics",
        (base / "metrics.pb").read_bytes(),
        "application/x-protobuf",
    )
    post(
        prism_server,
        json_dev["key"],
        "logs",
        (base / "logs.decoded.json").read_bytes(),
        "application/json",
    )
    post(
        prism_server,
        json_dev["key"],
        "metrics",
        (base / "metrics.decoded.json").read_bytes(),
        "application/json",
    )

    pb_events = rows(prism_server, pb_dev["key"], "logs", len(records))
    json_events = rows(prism_server, json_dev["key"], "logs", len(records))
    by_seq = {r["event_sequence"]: r for r in pb_events}
    assert sorted(by_seq) == list(range(len(records)))  # 0..N-1, none lost
    for rec in records:
        check_event_row(by_seq[rec["attrs"]["event.sequence"]], rec, pb_dev["developer_id"])
    json_by_seq = {r["event_sequence"]: r for r in json_events}
    for seq, row in by_seq.items():
        assert _comparable(json_by_seq[seq]) == _comparable(row), seq

    prompt = next(r for r in pb_events if r["event_name"] == "user_prompt")
    assert prompt["prompt"] == "Create out.txt containing hello and verify it"
    assert prompt["prompt_length"] == 45  # arrived as the string "45"
    tool = next(r for r in pb_events if r["event_name"] == "tool_result")
    assert tool["success"] is True and tool["duration_ms"] == 70.0  # "true", "70"
    assert tool["tool_input_length"] == len(tool["tool_input"])
    requests = [r for r in pb_events if r["event_name"] == "api_request"]
    assert [r["cost_micro_usd"] for r in sorted(requests, key=lambda r: r["event_sequence"])] == [
        20050,
        20100,
        20200,
    ]

    pb_points = rows(prism_server, pb_dev["key"], "metrics", len(points))
    json_points_rows = rows(prism_server, json_dev["key"], "metrics", len(points))
    for stored in (pb_points, json_points_rows):
        assert all(r["temporality"] == "delta" for r in stored)
        assert sorted(r["value"] for r in stored) == sorted(p["value"] for p in points)
        # The counters agree with the events: token.usage per type == api_request sums.
        tokens: dict[str, float] = defaultdict(float)
        for r in stored:
            if r["name"] == "claude_code.token.usage":
                tokens[r["type"]] += r["value"]
        assert tokens == {
            "input": sum(r["input_tokens"] for r in requests),
            "output": sum(r["output_tokens"] for r in requests),
            "cacheRead": sum(r["cache_read_tokens"] for r in requests),
            "cacheCreation": sum(r["cache_creation_tokens"] for r in requests),
        }
