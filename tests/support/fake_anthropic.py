"""A scripted local stand-in for the Anthropic Messages API.

It speaks enough of the real wire format for the real Claude Code CLI to run a whole
non-interactive session against it: ``POST /v1/messages`` (SSE when ``"stream": true``, a JSON
message otherwise), ``POST /v1/messages/count_tokens``, and a sensible answer for the probes the
CLI makes at start-up (anything unknown gets a 404 JSON error, and is recorded).

A :class:`Script` decides what the *main loop* gets: turn ``i`` answers a request whose
conversation already holds ``i`` assistant messages, so the choice depends on the request body and
not on call order (retries and auxiliary calls cannot shift it). Auxiliary requests (the session
title, and any other small side query without tools) are recognised from the body too.

Usage::

    script = Script.tool_round_trip(bash_call("echo hello > out.txt && cat out.txt"), "Done.")
    with FakeAnthropic(script) as api:
        ...  # ANTHROPIC_BASE_URL=api.url
        assert api.main_requests()
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TITLE_MARKER = 'Return JSON with a single "title" field'


# --------------------------------------------------------------------------------------------
# Script


@dataclass(frozen=True)
class ToolCall:
    """One ``tool_use`` block the fake model emits."""

    name: str
    input: dict[str, Any]


def bash_call(command: str, description: str = "run the command") -> ToolCall:
    return ToolCall("Bash", {"command": command, "description": description})


def write_call(file_path: str, content: str) -> ToolCall:
    """``file_path`` should be absolute (the Write tool rejects relative paths)."""
    return ToolCall("Write", {"file_path": file_path, "content": content})


@dataclass(frozen=True)
class Turn:
    """One main-loop answer: optional text, then optional tool calls (``stop_reason`` follows)."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Usage:
    """Token numbers reported for every answer (input grows a little with the conversation)."""

    input_tokens: int = 1500
    output_tokens: int = 120
    cache_read_input_tokens: int = 9000
    cache_creation_input_tokens: int = 800


@dataclass
class Script:
    turns: list[Turn]
    title: str = "Scripted test session"
    usage: Usage = field(default_factory=Usage)
    # Answer for a main-loop request past the end of ``turns``.
    fallback_text: str = "Nothing more to do."
    # Answer for an auxiliary request (no tools) that is not the title request.
    aux_text: str = "OK"

    @classmethod
    def tool_round_trip(
        cls,
        tool: ToolCall,
        final_text: str = "All done: the file was written and verified.",
        *,
        preamble: str | None = "Let me do that.",
        title: str = "Scripted test session",
    ) -> Script:
        """First a tool call, then (after the tool_result) a final text answer."""
        return cls(
            turns=[Turn(text=preamble, tool_calls=(tool,)), Turn(text=final_text)],
            title=title,
        )


# --------------------------------------------------------------------------------------------
# Recorded traffic


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, the raw text, or None
    kind: str  # main | title | aux | count_tokens | probe | unknown

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict):
            return list(self.body.get("messages") or [])
        return []

    def tool_results(self) -> list[dict[str, Any]]:
        """Every ``tool_result`` content block in the request's conversation."""
        out = []
        for msg in self.messages:
            content = msg.get("content")
            if isinstance(content, list):
                out.extend(
                    b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"
                )
        return out


def _system_text(body: dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    return ""


def classify(body: Any) -> str:
    """Which kind of ``/v1/messages`` request this is, judged from its body alone."""
    if not isinstance(body, dict):
        return "unknown"
    if TITLE_MARKER in _system_text(body):
        return "title"
    if body.get("tools"):
        return "main"
    return "aux"


# --------------------------------------------------------------------------------------------
# Server


class FakeAnthropic:
    """Threaded HTTP server; ``start()``/``stop()`` or use as a context manager."""

    def __init__(self, script: Script | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.script = script or Script.tool_round_trip(bash_call("echo hello"))
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        handler = type("_Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-anthropic", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # recorded traffic -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def main_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "main"]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    # answers --------------------------------------------------------------------------------

    def plan(self, body: dict[str, Any], kind: str) -> tuple[list[dict[str, Any]], str]:
        """Content blocks and stop_reason for a /v1/messages request."""
        if kind == "title":
            text = json.dumps({"title": self.script.title})
            return [{"type": "text", "text": text}], "end_turn"
        if kind != "main":
            return [{"type": "text", "text": self.script.aux_text}], "end_turn"
        done = sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant")
        if done >= len(self.script.turns):
            return [{"type": "text", "text": self.script.fallback_text}], "end_turn"
        turn = self.script.turns[done]
        blocks: list[dict[str, Any]] = []
        if turn.text:
            blocks.append({"type": "text", "text": turn.text})
        for call in turn.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{self._next_id():06d}",
                    "name": call.name,
                    "input": call.input,
                }
            )
        if not blocks:
            blocks.append({"type": "text", "text": self.script.fallback_text})
        return blocks, ("tool_use" if turn.tool_calls else "end_turn")

    def usage_for(self, body: dict[str, Any], output_tokens: int) -> dict[str, int]:
        u = self.script.usage
        return {
            "input_tokens": u.input_tokens + 10 * len(body.get("messages") or []),
            "output_tokens": output_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
        }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _chunks(text: str, n: int = 2) -> list[str]:
    if len(text) < n:
        return [text]
    step = -(-len(text) // n)
    return [text[i : i + step] for i in range(0, len(text), step)]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"
    server_version = "fake-anthropic/1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # plumbing -------------------------------------------------------------------------------

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            raw = self.rfile.read(length)
        elif "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(parts)
        else:
            raw = b""
        if not raw:
            return None
        text = raw.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _send(self, status: int, payload: bytes, content_type: str, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", extra or {})

    def _not_found(self) -> None:
        self._json(
            HTTPStatus.NOT_FOUND,
            {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}},
        )

    def _record(self, body: Any, kind: str) -> None:
        self.fake._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                kind=kind,
            )
        )

    # verbs ----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        if path == "/v1/messages":
            kind = classify(body)
            self._record(body, kind)
            if not isinstance(body, dict):
                self._json(
                    HTTPStatus.BAD_REQUEST,
                    {"type": "error", "error": {"type": "invalid_request_error", "message": "?"}},
                )
                return
            self._messages(body, kind)
        elif path == "/v1/messages/count_tokens":
            self._record(body, "count_tokens")
            n = len(json.dumps(body)) // 4 if body else 1
            self._json(HTTPStatus.OK, {"input_tokens": max(1, n)})
        else:
            self._record(body, "unknown")
            self._not_found()

    def do_GET(self) -> None:
        self._probe()

    def do_HEAD(self) -> None:
        self._probe()

    def _probe(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/v1", "/health"):
            self._record(None, "probe")
            self._json(HTTPStatus.OK, {"ok": True})
        elif path == "/v1/models" or path.startswith("/v1/models/"):
            self._record(None, "probe")
            model = {
                "type": "model",
                "id": "claude-sonnet-4-5",
                "display_name": "Claude Sonnet 4.5",
                "created_at": "2025-09-29T00:00:00Z",
            }
            if path == "/v1/models":
                self._json(
                    HTTPStatus.OK,
                    {"data": [model], "has_more": False, "first_id": None, "last_id": None},
                )
            else:
                self._json(HTTPStatus.OK, {**model, "id": path.rsplit("/", 1)[1]})
        else:
            self._record(None, "unknown")
            self._not_found()

    # /v1/messages -----------------------------------------------------------------------------

    def _messages(self, body: dict[str, Any], kind: str) -> None:
        fake = self.fake
        blocks, stop_reason = fake.plan(body, kind)
        n = fake._next_id()
        msg_id = f"msg_{n:06d}"
        headers = {"request-id": f"req_{msg_id}", "anthropic-organization-id": "org-test"}
        model = str(body.get("model") or "claude-sonnet-4-5")
        output_tokens = fake.script.usage.output_tokens
        usage = fake.usage_for(body, output_tokens)
        if not body.get("stream"):
            message = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage,
            }
            self._json(HTTPStatus.OK, message, headers)
            return

        out = [
            _sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**usage, "output_tokens": 1},
                    },
                },
            ),
            _sse("ping", {"type": "ping"}),
        ]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": t} for t in _chunks(block["text"])]
            else:
                start = {**block, "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": p}
                    for p in _chunks(json.dumps(block["input"]), 3)
                ]
            out.append(
                _sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": start},
                )
            )
            for delta in deltas:
                out.append(
                    _sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        out.append(
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": usage,
                },
            )
        )
        out.append(_sse("message_stop", {"type": "message_stop"}))
        self._send(
            HTTPStatus.OK,
            b"".join(out),
            "text/event-stream; charset=utf-8",
            {**headers, "Cache-Control": "no-cache"},
        )
