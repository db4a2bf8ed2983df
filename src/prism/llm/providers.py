"""The two providers: Anthropic's Messages API and any OpenAI-compatible chat endpoint.

Both use the official SDKs with their own retries switched off (`max_retries=0`): retries,
backoff and Retry-After are `LLMClient`'s, so they behave the same for both and can be tested.
Each provider maps its SDK's errors onto `prism.llm.provider`'s tree and reads answers in both
modes, one response or a stream (SSE); a stream that ends before its final event is `Truncated`.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from prism.llm.provider import (
    ConnectionFailed,
    HttpError,
    InvalidJSON,
    LLMError,
    RateLimited,
    Refusal,
    Reply,
    Request,
    ServerError,
    Timeout,
    Truncated,
    parse_object,
    retry_after,
)


def _status_error(status: int, message: str, headers: Any) -> LLMError:
    wait = retry_after(headers)
    if status == 429:
        return RateLimited(f"HTTP 429: {message}", retry_after=wait)
    if status >= 500:
        return ServerError(f"HTTP {status}: {message}", retry_after=wait)
    return HttpError(f"HTTP {status}: {message}")


def _map_sdk_error(exc: Exception, sdk: ModuleType) -> LLMError:
    """One SDK exception -> Prism's error tree (both SDKs share the same shapes)."""
    if isinstance(exc, sdk.APITimeoutError):
        return Timeout("no answer within the time limit")
    if isinstance(exc, sdk.APIStatusError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        return _status_error(exc.status_code, str(exc)[:200], headers)
    if isinstance(exc, sdk.APIResponseValidationError):
        return InvalidJSON(f"the provider's response did not parse: {str(exc)[:120]}")
    if isinstance(exc, sdk.APIConnectionError):
        return ConnectionFailed(f"could not reach the provider: {str(exc)[:120]}")
    if isinstance(exc, json.JSONDecodeError | ValueError):
        return InvalidJSON(f"the provider's response is not JSON: {str(exc)[:120]}")
    return ConnectionFailed(f"{type(exc).__name__}: {str(exc)[:120]}")


class AnthropicProvider:
    """Messages API; the answer is the input of a forced tool call (`tool_choice`)."""

    name = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        import anthropic  # the SDKs are large: import only the one in use

        self.sdk: ModuleType = anthropic
        self.model = model
        self.client = anthropic.Anthropic(
            api_key=api_key or "unset",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    def _params(self, request: Request) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": request.prompt}],
            "tools": [
                {
                    "name": request.tool_name,
                    "description": "Record the answer. Call this tool exactly once.",
                    "input_schema": request.schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": request.tool_name},
        }

    def send(self, request: Request) -> Reply:
        try:
            if request.stream:
                return self._stream(request)
            msg = self.client.messages.create(**self._params(request))
        except LLMError:
            raise
        except Exception as exc:
            raise _map_sdk_error(exc, self.sdk) from None
        usage = msg.usage
        tin, tout = int(usage.input_tokens or 0), int(usage.output_tokens or 0)
        tool_input: dict[str, Any] | None = None
        texts: list[str] = []
        for block in msg.content:
            if block.type == "tool_use" and block.name == request.tool_name:
                tool_input = dict(block.input) if isinstance(block.input, dict) else None
            elif block.type == "text":
                texts.append(block.text)
        return self._finish(msg.stop_reason, tool_input, "".join(texts), None, tin, tout)

    def _stream(self, request: Request) -> Reply:
        tin = tout = 0
        stop_reason: str | None = None
        finished = False
        tool_json: list[str] = []
        texts: list[str] = []
        tool_block: int | None = None
        try:
            events = self.client.messages.create(**self._params(request), stream=True)
            for event in events:
                kind = event.type
                if kind == "message_start":
                    tin = int(event.message.usage.input_tokens or 0)
                    tout = int(event.message.usage.output_tokens or 0)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use" and block.name == request.tool_name:
                        tool_block = event.index
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "input_json_delta" and event.index == tool_block:
                        tool_json.append(delta.partial_json)
                    elif delta.type == "text_delta":
                        texts.append(delta.text)
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason
                    tout = int(getattr(event.usage, "output_tokens", tout) or tout)
                elif kind == "message_stop":
                    finished = True
        except Exception as exc:
            mapped = _map_sdk_error(exc, self.sdk)
            if isinstance(mapped, ConnectionFailed) and (tin or tool_json or texts):
                raise Truncated(
                    f"the stream broke off: {exc!s}"[:200], input_tokens=tin, output_tokens=tout
                ) from None
            raise mapped from None
        if not finished:
            raise Truncated(
                "the stream ended before message_stop", input_tokens=tin, output_tokens=tout
            )
        raw = "".join(tool_json) if tool_block is not None else None
        return self._finish(stop_reason, None, "".join(texts), raw, tin, tout)

    def _finish(
        self,
        stop_reason: str | None,
        tool_input: dict[str, Any] | None,
        text: str,
        tool_json: str | None,
        tin: int,
        tout: int,
    ) -> Reply:
        if stop_reason == "refusal":
            raise Refusal(
                f"the model declined: {text[:120]!r}", input_tokens=tin, output_tokens=tout
            )
        if stop_reason == "max_tokens":
            raise Truncated("the answer reached max_tokens", input_tokens=tin, output_tokens=tout)
        if tool_input is None and tool_json is not None:
            tool_input = parse_object(tool_json or "{}", input_tokens=tin, output_tokens=tout)
        if tool_input is None:  # no tool call: accept a bare JSON object in the text
            tool_input = parse_object(text, input_tokens=tin, output_tokens=tout)
        return Reply(tool_input, tin, tout, self.model, stop_reason)


class OpenAICompatProvider:
    """Chat Completions with `response_format` json_schema (Ollama, vLLM, LM Studio, LiteLLM
    and OpenAI accept it); the schema is in the prompt too, for servers that ignore it."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        import openai

        self.sdk: ModuleType = openai
        self.model = model
        self.client = openai.OpenAI(
            api_key=api_key or "unset",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    def _params(self, request: Request) -> dict[str, Any]:
        system = (
            f"{request.system}\n\nAnswer with one JSON object only, matching this JSON schema:\n"
            f"{json.dumps(request.schema)}"
        )
        return {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": request.prompt},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": request.tool_name, "schema": request.schema},
            },
        }

    def send(self, request: Request) -> Reply:
        try:
            if request.stream:
                return self._stream(request)
            resp = self.client.chat.completions.create(**self._params(request))
        except LLMError:
            raise
        except Exception as exc:
            raise _map_sdk_error(exc, self.sdk) from None
        usage = resp.usage
        tin = int(usage.prompt_tokens or 0) if usage else 0
        tout = int(usage.completion_tokens or 0) if usage else 0
        if not resp.choices:
            raise InvalidJSON("the response has no choices", input_tokens=tin, output_tokens=tout)
        choice = resp.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        return self._finish(
            choice.finish_reason, choice.message.content or "", refusal, tin, tout, done=True
        )

    def _stream(self, request: Request) -> Reply:
        tin = tout = 0
        finish: str | None = None
        parts: list[str] = []
        refusal: list[str] = []
        try:
            chunks = self.client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True}
            )
            for chunk in chunks:
                if chunk.usage is not None:
                    tin = int(chunk.usage.prompt_tokens or 0)
                    tout = int(chunk.usage.completion_tokens or 0)
                for choice in chunk.choices or ():
                    if choice.delta is not None:
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                        if getattr(choice.delta, "refusal", None):
                            refusal.append(choice.delta.refusal)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except Exception as exc:
            mapped = _map_sdk_error(exc, self.sdk)
            if isinstance(mapped, ConnectionFailed) and parts:
                raise Truncated(
                    f"the stream broke off: {exc!s}"[:200], input_tokens=tin, output_tokens=tout
                ) from None
            raise mapped from None
        return self._finish(
            finish, "".join(parts), "".join(refusal) or None, tin, tout, done=finish is not None
        )

    def _finish(
        self,
        finish: str | None,
        content: str,
        refusal: str | None,
        tin: int,
        tout: int,
        *,
        done: bool,
    ) -> Reply:
        if refusal or finish == "content_filter":
            raise Refusal(
                f"the model declined: {(refusal or content)[:120]!r}",
                input_tokens=tin,
                output_tokens=tout,
            )
        if not done:
            raise Truncated(
                "the stream ended without a finish_reason", input_tokens=tin, output_tokens=tout
            )
        if finish == "length":
            raise Truncated("the answer reached max_tokens", input_tokens=tin, output_tokens=tout)
        data = parse_object(content, input_tokens=tin, output_tokens=tout)
        return Reply(data, tin, tout, self.model, finish)
