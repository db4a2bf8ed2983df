"""Fallback adapter for agents Prism does not know yet: keep everything, map the obvious.

Gemini CLI and Codex CLI get adapters of their own next to `claude_code`; until then their events
land here with the event name taken from `event.name` or the body and every attribute kept.
"""

from __future__ import annotations

from typing import Any

from prism.agents.base import as_int, as_str

_COLUMNS = {
    "session.id": "session_id",
    "prompt.id": "prompt_id",
    "gen_ai.request.model": "model",
    "model": "model",
}


class GenericAdapter:
    name = "unknown"
    content_keys: frozenset[str] = frozenset({"prompt", "response"})

    def matches(self, resource: dict[str, Any], scope: str) -> bool:
        return True

    def event_name(self, body: Any, attrs: dict[str, Any]) -> str | None:
        name = attrs.get("event.name")
        if isinstance(name, str) and name:
            return name
        if isinstance(body, str) and body and len(body) <= 200 and " " not in body:
            return body
        return None

    def map_event(self, attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        cols: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for key, value in attrs.items():
            col = _COLUMNS.get(key)
            if col is not None:
                cols[col] = as_str(value)
            elif key == "event.sequence":
                cols["event_sequence"] = as_int(value)
            elif key != "event.name":
                rest[key] = value
        return cols, rest
