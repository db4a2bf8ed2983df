"""Events stored twice, live (OTLP) and imported from a transcript: join keys, and live first.

Claude Code names the same things in both channels (../shared/spec/claude-code-telemetry.md
§2.7): transcript `promptId` = OTel `prompt.id`, `requestId` = `request_id`, `tool_use.id` =
`tool_use_id`, the line `uuid` = `message.uuid`. `event_keys` reads those keys off a row
whichever path stored it.

The importer never writes an event whose key the lake already has for its session
(`importer/sink.py`), so the usual order (telemetry first, history imported later) stores each
event once. The other order (a transcript imported while its session was still sending
telemetry) can leave an imported row and a live row with the same key; readers then keep the
live one: OTLP `api_request` rows are the cost ledger, and live events carry what transcripts
lack (durations, decision sources, sequence numbers). `prefer_live` does that for rows read
into memory (`Lake.events_of_sessions`, which the sessionizer reads); `usage/query.py` does it
in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

# Batches of imported rows carry ids `imp-` + 60 hex digits (64 characters like an ingest
# batch id): that is how readers tell imported rows from live ones.
IMPORT_BATCH_PREFIX = "imp-"

R = TypeVar("R", bound=Mapping[str, Any])


def key_of(event_name: str, kind: str, value: str) -> str:
    return f"{event_name}|{kind}|{value}"


def event_keys(
    event_name: str | None,
    prompt_id: str | None,
    request_id: str | None,
    tool_use_id: str | None,
    message_uuid: str | None,
) -> list[str]:
    """The join keys of one event, whichever path (OTLP or import) stored it."""
    if not event_name:
        return []
    keys: list[str] = []
    if event_name == "user_prompt":
        if prompt_id:
            keys.append(key_of(event_name, "p", prompt_id))
    elif event_name in ("api_request", "assistant_response"):
        if request_id:
            keys.append(key_of(event_name, "r", request_id))
    elif event_name in ("tool_result", "tool_decision") and tool_use_id:
        keys.append(key_of(event_name, "t", tool_use_id))
    if message_uuid:
        keys.append(key_of(event_name, "u", message_uuid))
    return keys


def is_imported(row: Mapping[str, Any]) -> bool:
    batch = row.get("batch_id")
    return isinstance(batch, str) and batch.startswith(IMPORT_BATCH_PREFIX)


def _keys(row: Mapping[str, Any]) -> list[str]:
    return event_keys(
        row.get("event_name"),
        row.get("prompt_id"),
        row.get("request_id"),
        row.get("tool_use_id"),
        row.get("message_uuid"),
    )


def prefer_live(rows: Sequence[R]) -> list[R]:
    """`rows` without the imported ones a live row of the same session shadows (order kept)."""
    if not any(is_imported(r) for r in rows):
        return list(rows)
    live: set[tuple[Any, str]] = set()
    for r in rows:
        if not is_imported(r):
            sess = r.get("session_id")
            live.update((sess, k) for k in _keys(r))
    if not live:
        return list(rows)
    return [
        r
        for r in rows
        if not is_imported(r) or not any((r.get("session_id"), k) in live for k in _keys(r))
    ]
