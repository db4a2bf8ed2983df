"""The records sessionizing reads: one agent event (a lake `events` row) and one metric signal.

Rows come from Parquet (`table.to_pylist()`), from tests, or from ingest; `from_mapping` accepts
all of them, ignores columns it does not know and coerces the loosely typed values Claude Code
sends (numbers and booleans as strings before 2.1.122).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

REDACTED = "<REDACTED>"

# query_source values of the agent's own main loop; anything else (titles, compaction,
# subagents, auxiliary calls) is side work that still belongs to the prompt it serves.
MAIN_LOOP_SOURCES = frozenset({"sdk", "main", "repl_main_thread"})


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        # Nanoseconds (OTLP) when huge, else seconds.
        seconds = value / 1e9 if abs(value) > 1e14 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise TypeError(f"not a time: {value!r}")


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


def _as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        return None
    return bool(value)


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _as_attrs(value: Any) -> dict[str, str]:
    # Arrow map columns read back as a list of (key, value) pairs.
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {str(k): str(v) for k, v in value}


@dataclass(frozen=True, slots=True)
class EventRow:
    """One agent event, as stored in the lake's `events` table."""

    time: datetime
    developer_id: str
    session_id: str
    event_name: str
    prompt_id: str | None = None
    event_sequence: int | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    cost_micro_usd: int | None = None
    duration_ms: float | None = None
    tool_name: str | None = None
    tool_use_id: str | None = None
    success: bool | None = None
    decision: str | None = None
    decision_source: str | None = None
    error: str | None = None
    error_type: str | None = None
    status_code: int | None = None
    attempt: int | None = None
    prompt: str | None = None
    prompt_length: int | None = None
    response: str | None = None
    response_length: int | None = None
    tool_parameters: str | None = None
    tool_input: str | None = None
    request_id: str | None = None
    query_source: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> EventRow:
        """Build from a lake row or any dict; unknown keys are ignored, loose types coerced."""
        kwargs: dict[str, Any] = {}
        for name, conv in _CONVERTERS.items():
            if name in d:
                kwargs[name] = conv(d[name])
        for required in ("developer_id", "session_id", "event_name"):
            if kwargs.get(required) is None:
                kwargs[required] = ""
        return cls(**kwargs)

    @property
    def text(self) -> str | None:
        """The prompt text, or None when absent or redacted (prompt logging off)."""
        p = self.prompt
        if p is None or p == REDACTED or not p.strip():
            return None
        return p

    @property
    def is_main_loop(self) -> bool:
        """True unless the event is tagged as side work (title, compaction, subagent...)."""
        qs = self.query_source
        return qs is None or qs in MAIN_LOOP_SOURCES or qs.startswith("repl_main_thread")

    @property
    def sort_key(self) -> tuple[datetime, int]:
        seq = self.event_sequence
        return (self.time, seq if seq is not None else -1)


_CONVERTERS: dict[str, Any] = {
    "time": _as_utc,
    "developer_id": _as_str,
    "session_id": _as_str,
    "event_name": _as_str,
    "prompt_id": _as_str,
    "event_sequence": _as_int,
    "model": _as_str,
    "input_tokens": _as_int,
    "output_tokens": _as_int,
    "cache_read_tokens": _as_int,
    "cache_creation_tokens": _as_int,
    "cost_micro_usd": _as_int,
    "duration_ms": _as_float,
    "tool_name": _as_str,
    "tool_use_id": _as_str,
    "success": _as_bool,
    "decision": _as_str,
    "decision_source": _as_str,
    "error": _as_str,
    "error_type": _as_str,
    "status_code": _as_int,
    "attempt": _as_int,
    "prompt": _as_str,
    "prompt_length": _as_int,
    "response": _as_str,
    "response_length": _as_int,
    "tool_parameters": _as_str,
    "tool_input": _as_str,
    "request_id": _as_str,
    "query_source": _as_str,
    "attributes": _as_attrs,
}
assert set(_CONVERTERS) == {f.name for f in fields(EventRow)}


COMMIT_METRIC = "claude_code.commit.count"
PULL_REQUEST_METRIC = "claude_code.pull_request.count"


@dataclass(frozen=True, slots=True)
class MetricSignal:
    """A metric data point that says something about an arc (commits, pull requests)."""

    time: datetime
    session_id: str
    name: str
    value: float
    developer_id: str | None = None

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> MetricSignal:
        """Build from a lake `metrics` row (its `value` is already a per-interval delta)."""
        return cls(
            time=_as_utc(d["time"]),
            session_id=_as_str(d.get("session_id")) or "",
            name=_as_str(d.get("name")) or "",
            value=_as_float(d.get("value")) or 0.0,
            developer_id=_as_str(d.get("developer_id")),
        )


def as_events(rows: Iterable[EventRow | Mapping[str, Any]]) -> list[EventRow]:
    """Accept EventRow values or raw mappings alike."""
    return [r if isinstance(r, EventRow) else EventRow.from_mapping(r) for r in rows]
