"""The privacy switch at ingest: with PRISM_STORE_CONTENT=false, user content is never queued.

Prompts, responses and tool inputs (each agent adapter's `content_keys`) are removed from log
records, spans and span events before the payload reaches the durable queue, so the text never
touches disk. Each removed value is replaced by an integer attribute `<key>_length` (its length
in characters) unless the record already carries one; a value that is already the redaction
marker `<REDACTED>` gets no length (its length says nothing). `tool_parameters` is kept: it is the
tool's shape (command name, file path), which the analytics need.

Works on the payload as the exporter framed it (protobuf or OTLP/JSON) and returns the same
framing; a payload with nothing to remove is returned unchanged (same bytes, same batch id).
Metrics carry no content and pass through. The payload has already been validated by
`otlp.check`, so decoding cannot fail here; odd JSON shapes are left as they are, as the walker
would skip them.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from prism.agents import adapter_for
from prism.receive import otlp

REDACTED = "<REDACTED>"
#: never treated as content, whatever an adapter lists
KEEP = frozenset({"tool_parameters"})
#: span attributes that carry content beyond the adapter's log keys (Claude Code's interaction
#: span has the prompt as `user_prompt`)
SPAN_EXTRA = frozenset({"user_prompt"})

_RESOURCE_KEY = {"logs": "resourceLogs", "traces": "resourceSpans"}
_SCOPE_KEY = {"logs": "scopeLogs", "traces": "scopeSpans"}
_ITEM_KEY = {"logs": "logRecords", "traces": "spans"}


def redact(signal: str, encoding: str, payload: bytes) -> bytes:
    """`payload` without user content (see the module docstring)."""
    if signal not in _RESOURCE_KEY or not payload:
        return payload
    if encoding == "protobuf":
        return _redact_pb(signal, payload)
    return _redact_json(signal, payload)


def _content_keys(signal: str, resource: dict[str, Any], scope: str) -> frozenset[str]:
    keys = adapter_for(resource, scope).content_keys
    if signal == "traces":
        keys = keys | SPAN_EXTRA
    return keys - KEEP


def _length(value: Any) -> int | None:
    if isinstance(value, str):
        return None if value == REDACTED else len(value)
    if isinstance(value, bytes):
        return len(value)
    return None


# --- protobuf ---------------------------------------------------------------------------------


def _pb_plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bytes_value":
        return value.bytes_value
    return None


def _pb_strip(kvs: Any, keys: frozenset[str]) -> bool:
    """Drop content attributes from a repeated KeyValue field, adding their lengths."""
    hits = [i for i, kv in enumerate(kvs) if kv.key in keys]
    if not hits:
        return False
    present = {kv.key for kv in kvs}
    lengths: list[tuple[str, int]] = []
    for i in hits:
        name = f"{kvs[i].key}_length"
        n = _length(_pb_plain(kvs[i].value))
        if n is not None and name not in present:
            lengths.append((name, n))
            present.add(name)
    for i in reversed(hits):
        del kvs[i]
    for name, n in lengths:
        kv = kvs.add()
        kv.key = name
        kv.value.int_value = n
    return True


def _redact_pb(signal: str, payload: bytes) -> bytes:
    message_type: Any = otlp.REQUEST_TYPES[signal]
    request = message_type.FromString(payload)
    changed = False
    if signal == "logs":
        for rl in request.resource_logs:
            resource = otlp._pb_attrs(rl.resource.attributes)
            for sl in rl.scope_logs:
                keys = _content_keys(signal, resource, sl.scope.name)
                for record in sl.log_records:
                    changed |= _pb_strip(record.attributes, keys)
    else:
        for rs in request.resource_spans:
            resource = otlp._pb_attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                keys = _content_keys(signal, resource, ss.scope.name)
                for span in ss.spans:
                    changed |= _pb_strip(span.attributes, keys)
                    for event in span.events:
                        changed |= _pb_strip(event.attributes, keys)
    return request.SerializeToString() if changed else payload


# --- OTLP/JSON ----------------------------------------------------------------------------------


def _json_key(kv: Any) -> str | None:
    key = kv.get("key") if isinstance(kv, dict) else None
    return key if isinstance(key, str) else None


def _json_strip(obj: Any, keys: frozenset[str]) -> bool:
    if not isinstance(obj, dict):
        return False
    attrs = obj.get("attributes")
    if not isinstance(attrs, list) or not any(_json_key(kv) in keys for kv in attrs):
        return False
    present = {_json_key(kv) for kv in attrs}
    kept: list[Any] = []
    for kv in attrs:
        key = _json_key(kv)
        if key is None or key not in keys:
            kept.append(kv)
            continue
        value = kv.get("value")
        text = value.get("stringValue") if isinstance(value, dict) else None
        n = _length(text)
        name = f"{key}_length"
        if n is not None and name not in present:
            kept.append({"key": name, "value": {"intValue": str(n)}})
            present.add(name)
    obj["attributes"] = kept
    return True


def _redact_json(signal: str, payload: bytes) -> bytes:
    doc = orjson.loads(payload)
    if not isinstance(doc, dict):
        return payload
    changed = False
    for r in doc.get(_RESOURCE_KEY[signal]) or []:
        if not isinstance(r, dict):
            continue
        res = r.get("resource")
        resource = otlp._json_attrs(res.get("attributes")) if isinstance(res, dict) else {}
        for s in r.get(_SCOPE_KEY[signal]) or []:
            if not isinstance(s, dict):
                continue
            sc = s.get("scope")
            scope = sc.get("name", "") if isinstance(sc, dict) else ""
            keys = _content_keys(signal, resource, scope if isinstance(scope, str) else "")
            items = s.get(_ITEM_KEY[signal])
            for item in items if isinstance(items, list) else []:
                changed |= _json_strip(item, keys)
                events = item.get("events") if isinstance(item, dict) else None
                for event in events if isinstance(events, list) else []:
                    changed |= _json_strip(event, keys)
    return orjson.dumps(doc) if changed else payload
