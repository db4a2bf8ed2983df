"""Local stand-ins for the two LLM wire formats, with misbehaviour on demand.

`StandIn` is one HTTP server that answers both:

- Anthropic Messages: ``POST /v1/messages`` (a JSON message, or SSE events when ``"stream":
  true``: message_start, content_block_start/delta/stop, message_delta, message_stop);
- OpenAI chat completions: ``POST /v1/chat/completions`` (a completion, or ``data:`` chunks
  ending with ``data: [DONE]``).

`mode` decides the next answers: ``ok``, ``invalid_json`` (prose instead of JSON), ``timeout``
(holds the request until the test ends), ``rate_limit`` (429 + Retry-After), ``refusal``,
``truncated`` (the stream breaks off before its final event), ``server_error`` (503). A list of
modes is consumed one request at a time (the last one repeats). Answers are chosen by the
structured-output name the client asks for (``judge_arc``, ``name_arc``, ``write_report``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JUDGE_ANSWER: dict[str, Any] = {
    "outcome": "partial",
    "outcome_confidence": 0.66,
    "reasons": ["tests pass but the developer asked for more"],
    "intent_class": "feature",
    "intent_confidence": 0.9,
    "goal_explicit": True,
    "scope_bounded": True,
    "references_concrete": True,
    "context_sufficient": True,
    "verification_requested": True,
    "root_cause_oriented": False,
    "plan_first": True,
}
TITLE_ANSWER = {
    "title": "Add a health endpoint with a test",
    "summary": "Asked for /health; the agent edited src/app.py, wrote a test, pytest passed.",
}
REPORT_ANSWER = {
    "headline": "Semaine solide : objectifs atteints (rédigé par le modèle).",
    "summary": "Le modèle résume la période à partir des chiffres fournis.",
    "advice": ["Demandez un plan avant de coder."],
}
ANSWERS = {"judge_arc": JUDGE_ANSWER, "name_arc": TITLE_ANSWER, "write_report": REPORT_ANSWER}
USAGE = {"input_tokens": 1200, "output_tokens": 150}


class StandIn:
    """One server, both wire formats; `url` is the base URL for either SDK."""

    def __init__(
        self, mode: str | list[str] = "ok", *, retry_after: str = "1", count_tokens: bool = False
    ) -> None:
        self.count_tokens = count_tokens
        """Report ~4 characters per token of the real request and answer instead of USAGE."""
        self.modes = [mode] if isinstance(mode, str) else list(mode)
        self.retry_after = retry_after
        self.answers = dict(ANSWERS)
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def next_mode(self) -> str:
        with self._lock:
            return self.modes.pop(0) if len(self.modes) > 1 else self.modes[0]


def _sse(events: Iterator[tuple[str | None, dict[str, Any] | str]]) -> Iterator[bytes]:
    for name, data in events:
        body = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        yield f"{head}data: {body}\n\n".encode()


def _anthropic_events(
    tool: str, answer: dict[str, Any], model: str, usage: dict[str, int] = USAGE
) -> list[tuple[str, Any]]:
    raw = json.dumps(answer)
    cut = len(raw) // 2
    return [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_standin",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": raw[:cut]},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": raw[cut:]},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def _openai_chunks(content: str, model: str) -> list[tuple[None, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    cut = len(content) // 2
    return [
        (None, chunk({"role": "assistant", "content": ""}, None)),
        (None, chunk({"content": content[:cut]}, None)),
        (None, chunk({"content": content[cut:]}, None)),
        (None, chunk({}, "stop")),
        (
            None,
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": USAGE["input_tokens"],
                    "completion_tokens": USAGE["output_tokens"],
                    "total_tokens": USAGE["input_tokens"] + USAGE["output_tokens"],
                },
            },
        ),
        (None, "[DONE]"),
    ]


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; a stream ends at close

        def log_message(self, *args: Any) -> None:
            return

        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, parts: Iterator[bytes]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.end_headers()
            for p in parts:
                self.wfile.write(p)
                self.wfile.flush()

        def _error(self, anthropic: bool, status: int, kind: str, message: str) -> None:
            headers = {"retry-after": standin.retry_after} if status == 429 else {}
            if anthropic:
                body = {"type": "error", "error": {"type": kind, "message": message}}
            else:
                body = {"error": {"message": message, "type": kind, "code": None}}
            self._json(status, body, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            anthropic = self.path.rstrip("/").endswith("/v1/messages")
            mode = standin.next_mode()
            with standin._lock:
                standin.requests.append(
                    {"path": self.path, "body": body, "headers": dict(self.headers), "mode": mode}
                )
                standin.in_flight += 1
                standin.max_in_flight = max(standin.max_in_flight, standin.in_flight)
            try:
                self._answer(body, anthropic, mode)
            finally:
                with standin._lock:
                    standin.in_flight -= 1

        def _answer(self, body: dict[str, Any], anthropic: bool, mode: str) -> None:
            model = body.get("model", "model")
            stream = bool(body.get("stream"))
            if anthropic:
                tool = (body.get("tools") or [{}])[0].get("name", "answer")
            else:
                tool = body.get("response_format", {}).get("json_schema", {}).get("name", "answer")
            answer = standin.answers.get(tool, {})
            self.usage = dict(USAGE)
            if standin.count_tokens:
                self.usage = {
                    "input_tokens": len(json.dumps(body, ensure_ascii=False)) // 4,
                    "output_tokens": len(json.dumps(answer, ensure_ascii=False)) // 4,
                }
            if mode == "timeout":
                standin.release.wait(timeout=60)
                return
            if mode == "rate_limit":
                return self._error(anthropic, 429, "rate_limit_error", "slow down")
            if mode == "server_error":
                return self._error(anthropic, 503, "overloaded_error", "overloaded")
            if anthropic:
                return self._anthropic(body, tool, answer, model, stream, mode)
            return self._openai(answer, model, stream, mode)

        def _anthropic(
            self,
            body: dict[str, Any],
            tool: str,
            answer: dict[str, Any],
            model: str,
            stream: bool,
            mode: str,
        ) -> None:
            if mode == "truncated" or (stream and mode == "ok"):
                events = _anthropic_events(tool, answer, model, self.usage)
                if mode == "truncated":
                    events = events[:4]  # stops inside the tool input, no message_stop
                return self._stream(_sse(iter(events)))
            content: list[dict[str, Any]]
            stop = "tool_use"
            if mode == "invalid_json":
                content = [{"type": "text", "text": "Sure! Here is the verdict: {outcome: partial"}]
                stop = "end_turn"
            elif mode == "refusal":
                content = [{"type": "text", "text": "I can't help with that."}]
                stop = "refusal"
            else:
                content = [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": answer}]
            self._json(
                200,
                {
                    "id": "msg_standin",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": dict(self.usage),
                },
            )

        def _openai(self, answer: dict[str, Any], model: str, stream: bool, mode: str) -> None:
            content = json.dumps(answer)
            if mode == "truncated" or (stream and mode == "ok"):
                chunks = _openai_chunks(content, model)
                if mode == "truncated":
                    chunks = chunks[:2]  # half the JSON, no finish_reason, no [DONE]
                return self._stream(_sse(iter(chunks)))
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
            if mode == "invalid_json":
                message["content"] = "Sure! Here is the verdict: {outcome: partial"
            elif mode == "refusal":
                message = {"role": "assistant", "content": None, "refusal": "I can't help."}
            self._json(
                200,
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {
                        "prompt_tokens": USAGE["input_tokens"],
                        "completion_tokens": USAGE["output_tokens"],
                        "total_tokens": USAGE["input_tokens"] + USAGE["output_tokens"],
                    },
                },
            )

    return Handler
