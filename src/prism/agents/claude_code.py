"""Claude Code's OpenTelemetry events, mapped onto the lake's columns.

Facts (../shared/spec/claude-code-telemetry.md §1.6): each event is a log record whose body is
`claude_code.<name>` and whose `event.name` attribute is the bare `<name>`; before 2.1.122 numbers
arrived as strings and some (`prompt_length`, tool `duration_ms`, `success`) still do; redacted
prompts arrive as the literal `<REDACTED>`.
"""

from __future__ import annotations

from typing import Any

from prism.agents.base import as_bool, as_float, as_int, as_str, usd_to_micros

NAME = "claude_code"
BODY_PREFIX = "claude_code."
REDACTED = "<REDACTED>"
SERVICE_NAMES = frozenset({"claude-code", "claude-code-desktop"})
SCOPE_PREFIX = "com.anthropic.claude_code"

# attribute key -> (column, coercion)
_STR, _INT, _FLOAT, _BOOL = as_str, as_int, as_float, as_bool
COLUMNS: dict[str, tuple[str, Any]] = {
    "session.id": ("session_id", _STR),
    "prompt.id": ("prompt_id", _STR),
    "event.sequence": ("event_sequence", _INT),
    "model": ("model", _STR),
    "input_tokens": ("input_tokens", _INT),
    "output_tokens": ("output_tokens", _INT),
    "cache_read_tokens": ("cache_read_tokens", _INT),
    "cache_creation_tokens": ("cache_creation_tokens", _INT),
    "duration_ms": ("duration_ms", _FLOAT),
    "ttft_ms": ("ttft_ms", _FLOAT),
    "tool_name": ("tool_name", _STR),
    "tool_use_id": ("tool_use_id", _STR),
    "success": ("success", _BOOL),
    "decision": ("decision", _STR),
    "decision_type": ("decision", _STR),
    "source": ("decision_source", _STR),
    "decision_source": ("decision_source", _STR),
    "error": ("error", _STR),
    "error_type": ("error_type", _STR),
    "status_code": ("status_code", _INT),
    "attempt": ("attempt", _INT),
    "prompt": ("prompt", _STR),
    "prompt_length": ("prompt_length", _INT),
    "response": ("response", _STR),
    "response_length": ("response_length", _INT),
    "tool_parameters": ("tool_parameters", _STR),
    "tool_input": ("tool_input", _STR),
    "tool_input_length": ("tool_input_length", _INT),  # left by PRISM_STORE_CONTENT=false
    "request_id": ("request_id", _STR),
    "query_source": ("query_source", _STR),
    "message.uuid": ("message_uuid", _STR),
    "user.id": ("agent_user_id", _STR),
    "user.email": ("agent_user_email", _STR),
    "user.account_uuid": ("agent_account_uuid", _STR),
    "organization.id": ("agent_org_id", _STR),
}
# consumed without a column of their own
_DROPPED = frozenset({"event.name", "cost_usd", "cost_usd_micros"})
CONTENT_KEYS = frozenset(
    {"prompt", "prompt_text", "response", "tool_input", "body", "api_request_body"}
)


class ClaudeCodeAdapter:
    name = NAME
    content_keys = CONTENT_KEYS

    def matches(self, resource: dict[str, Any], scope: str) -> bool:
        return resource.get("service.name") in SERVICE_NAMES or scope.startswith(SCOPE_PREFIX)

    def event_name(self, body: Any, attrs: dict[str, Any]) -> str | None:
        if isinstance(body, str) and body.startswith(BODY_PREFIX):
            return body[len(BODY_PREFIX) :]
        name = attrs.get("event.name")
        if isinstance(name, str) and name:
            return name.removeprefix(BODY_PREFIX)
        return None

    def map_event(self, attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        cols: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        columns = COLUMNS
        for key, value in attrs.items():
            spec = columns.get(key)
            if spec is not None:
                cols[spec[0]] = spec[1](value)
            elif key not in _DROPPED:
                rest[key] = value
        # Money is exact: prefer the integer micros, else convert the double through Decimal.
        micros = as_int(attrs.get("cost_usd_micros"))
        if micros is None:
            micros = usd_to_micros(attrs.get("cost_usd"))
        if micros is not None:
            cols["cost_micro_usd"] = micros
        if cols.get("prompt") == REDACTED:
            cols["prompt"] = None
            rest["prompt_redacted"] = "true"
        if cols.get("response") == REDACTED:
            cols["response"] = None
        if "prompt_text" in rest and rest["prompt_text"] == REDACTED:
            del rest["prompt_text"]
        tool_input = cols.get("tool_input")
        if tool_input is not None:
            cols["tool_input_length"] = len(tool_input)
        elif cols.get("tool_input_length") is None and "tool_input_size_bytes" in attrs:
            cols["tool_input_length"] = as_int(attrs["tool_input_size_bytes"])
        if cols.get("prompt") is not None and cols.get("prompt_length") is None:
            cols["prompt_length"] = len(cols["prompt"])
        if cols.get("response") is not None and cols.get("response_length") is None:
            cols["response_length"] = len(cols["response"])
        return cols, rest
