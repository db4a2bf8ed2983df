"""The Claude Code OTLP builder and the adapter are inverses: build -> ingest -> same columns."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prism.agents.claude_code_otlp import logs_request, metrics_request
from prism.lake.normalize import Normalized, NormalizeOptions, normalize
from prism.queue.base import Batch

T0 = datetime(2026, 11, 2, 9, 30, 0, 123000, tzinfo=UTC)

EVENTS = [
    {
        "time": T0,
        "session_id": "s-1",
        "prompt_id": "p-1",
        "event_name": "user_prompt",
        "prompt": "Add a /health endpoint and a test",
        "prompt_length": 33,
    },
    {
        "time": T0,
        "session_id": "s-1",
        "prompt_id": "p-1",
        "event_name": "api_request",
        "model": "claude-opus-4-8",
        "input_tokens": 1510,
        "output_tokens": 640,
        "cache_read_tokens": 9000,
        "cache_creation_tokens": 800,
        "cost_micro_usd": 20050,
        "duration_ms": 1600.0,
        "request_id": "req_1",
        "query_source": "sdk",
    },
    {
        "time": T0,
        "session_id": "s-1",
        "prompt_id": "p-1",
        "event_name": "tool_result",
        "tool_name": "Bash",
        "tool_use_id": "toolu_1",
        "success": False,
        "duration_ms": 70.0,
        "tool_parameters": '{"bash_command":"pytest","full_command":"pytest -q"}',
    },
]


def _normalize(signal: str, payload: bytes) -> Normalized:
    out = Normalized()
    batch = Batch("b", signal, "protobuf", "org", "dev", time.time_ns(), 0, payload)
    normalize(batch, NormalizeOptions(), out)
    return out


def test_logs_round_trip_through_the_adapter() -> None:
    payload = logs_request(EVENTS).SerializeToString()
    rows = _normalize("logs", payload).events
    assert [r["event_name"] for r in rows] == ["user_prompt", "api_request", "tool_result"]
    assert [r["event_sequence"] for r in rows] == [0, 1, 2]
    for sent, row in zip(EVENTS, rows, strict=True):
        for column, value in sent.items():
            assert row[column] == value, column
        assert row["agent"] == "claude_code"
        assert row["developer_id"] == "dev"


def test_metrics_round_trip() -> None:
    points = [
        {"name": "claude_code.commit.count", "time": T0, "value": 1, "session_id": "s-1"},
        {
            "name": "claude_code.token.usage",
            "time": T0,
            "value": 640,
            "session_id": "s-1",
            "attributes": {"type": "output", "model": "claude-opus-4-8"},
        },
    ]
    rows = _normalize("metrics", metrics_request(points).SerializeToString()).metrics
    assert [(r["name"], r["value"], r["temporality"]) for r in rows] == [
        ("claude_code.commit.count", 1.0, "delta"),
        ("claude_code.token.usage", 640.0, "delta"),
    ]
    assert rows[1]["type"] == "output" and rows[1]["session_id"] == "s-1"
