"""The provider interface: a request for one JSON answer, the reply, and the ways it fails.

LLMError                 reason       retried
├── NotConfigured        not_configured
├── Timeout              timeout
├── RateLimited          rate_limited  yes (honours Retry-After)
├── ServerError          server_error  yes (5xx, honours Retry-After)
├── ConnectionFailed     connection    yes
├── HttpError            http_error    (other 4xx: a bad key, a bad model name)
├── Refusal              refusal
├── Truncated            truncated     (max tokens reached, or the stream was cut)
├── InvalidJSON          invalid_json
└── InvalidAnswer        invalid_answer (JSON that does not fit the answer's model)
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Request:
    """One structured question: the answer must be a JSON object matching `schema`."""

    system: str
    prompt: str
    schema: dict[str, Any]
    tool_name: str = "answer"
    max_tokens: int = 2048
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    data: dict[str, Any]
    input_tokens: int
    output_tokens: int
    model: str
    stop_reason: str | None = None


class LLMError(Exception):
    reason = "error"
    retryable = False

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens

    @property
    def note(self) -> str:
        """`reason: detail`, short enough for a verdict note."""
        return f"{self.reason}: {self.detail}"[:300]


class NotConfigured(LLMError):
    reason = "not_configured"


class Timeout(LLMError):
    reason = "timeout"


class RateLimited(LLMError):
    reason = "rate_limited"
    retryable = True


class ServerError(LLMError):
    reason = "server_error"
    retryable = True


class ConnectionFailed(LLMError):
    reason = "connection"
    retryable = True


class HttpError(LLMError):
    reason = "http_error"


class Refusal(LLMError):
    reason = "refusal"


class Truncated(LLMError):
    reason = "truncated"


class InvalidJSON(LLMError):
    reason = "invalid_json"


class InvalidAnswer(LLMError):
    reason = "invalid_answer"


class Provider(Protocol):
    """Anything that can answer a `Request` with one JSON object."""

    name: str
    model: str

    def send(self, request: Request) -> Reply: ...


class Unavailable:
    """A provider that cannot be built (no model, unknown name): every call says why."""

    def __init__(self, name: str, model: str, why: str) -> None:
        self.name, self.model, self.why = name, model, why

    def send(self, request: Request) -> Reply:
        raise NotConfigured(self.why)


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_object(text: str, *, input_tokens: int = 0, output_tokens: int = 0) -> dict[str, Any]:
    """The JSON object in a model's text (a ```json fence is tolerated); InvalidJSON if none."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        value = json.loads(body)
    except ValueError:
        raise InvalidJSON(
            f"the answer is not JSON: {text[:80]!r}",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        ) from None
    if not isinstance(value, dict):
        raise InvalidJSON(
            "the answer is JSON but not an object",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
    return value
