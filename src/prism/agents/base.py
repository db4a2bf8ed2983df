"""What an agent adapter does: recognise its agent's telemetry and map it onto lake columns.

Agents differ in event names, attribute names, value types and token semantics; adapters absorb
all of that at the edge so the lake, arcs and judges stay agent-neutral.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson


class AgentAdapter(Protocol):
    name: str
    #: attribute keys whose values are user content (dropped when PRISM_STORE_CONTENT=false)
    content_keys: frozenset[str]

    def matches(self, resource: dict[str, Any], scope: str) -> bool: ...

    def event_name(self, body: Any, attrs: dict[str, Any]) -> str | None:
        """The bare event name, or None when the log record is not one of the agent's events."""

    def map_event(self, attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split attributes into typed lake columns and the rest (kept in the map column)."""


# --- coercion: agents send numbers as strings, ints, doubles; booleans as bools or strings ---


def as_int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return int(v) if isinstance(v, bool) else None
    if isinstance(v, int):
        # OTLP/JSON intValue can be any size; the lake's integer columns are int64.
        return v if -(2**63) <= v < 2**63 else None
    if isinstance(v, float):
        return int(v) if v == v and abs(v) < 9.2e18 else None
    if isinstance(v, str):
        s = v.strip()
        try:
            n = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                return None
            return int(f) if f == f and abs(f) < 9.2e18 else None
        return n if -(2**63) <= n < 2**63 else None
    return None


def as_float(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        f = float(v)
        return f if f == f else None
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
        return f if f == f else None
    return None


def as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        return None
    if isinstance(v, int | float):
        return bool(v)
    return None


def as_str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return orjson.dumps(v).decode("utf-8")


def usd_to_micros(v: Any) -> int | None:
    """Exact USD -> integer micro-USD (through Decimal: 0.02005 must not become 20049)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        d = Decimal(str(v).strip()) if not isinstance(v, Decimal) else v
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    micros = int((d * 1_000_000).to_integral_value())
    return micros if -(2**63) <= micros < 2**63 else None
