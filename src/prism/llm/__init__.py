"""Prism's own LLM calls: one small provider interface, two implementations, one client.

    Provider (protocol)         send(Request) -> Reply, raising LLMError subclasses
    ├── AnthropicProvider       Messages API, structured output through a forced tool call
    └── OpenAICompatProvider    any OpenAI-compatible chat endpoint (base_url), JSON schema output
    LLMClient                   concurrency limit, retries on 429/5xx honouring Retry-After,
                                pydantic validation of the answer, usage recorded per call

Callers (the LLM judge, the title writer, the report writer) catch `LLMError` and keep the
heuristic result; `LLMError.reason` is the short code that `judge_status`/notes carry.
"""

from __future__ import annotations

from prism.llm.client import LLMClient, client_for, task_enabled
from prism.llm.provider import LLMError, Provider, Reply, Request

__all__ = [
    "LLMClient",
    "LLMError",
    "Provider",
    "Reply",
    "Request",
    "client_for",
    "task_enabled",
]
