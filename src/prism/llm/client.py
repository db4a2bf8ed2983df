"""`LLMClient`: what every LLM task goes through (judge, titles, reports).

One call = acquire the process-wide concurrency slot, send, retry 429/5xx/connection failures
with exponential backoff (a `Retry-After` from the provider wins; one longer than
`llm_max_retry_wait_seconds` gives up at once rather than stall a worker), validate the JSON
against the task's pydantic model, and record the call (tokens, exact cost in micro-USD,
outcome) in `llm_usage` and the `prism_llm_calls_total` counter. Any failure is an `LLMError`;
callers keep their heuristic result.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from prism import metrics
from prism.llm.provider import (
    InvalidAnswer,
    LLMError,
    NotConfigured,
    Provider,
    Request,
)
from prism.pricing.table import TokenUsage, default_table
from prism.settings import Settings
from prism.store.models import LlmUsage

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
TASKS = ("outcome", "rubric", "titles", "reports")
BACKOFF_BASE_S = 0.5

_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slots(n: int) -> threading.BoundedSemaphore:
    with _SLOTS_LOCK:
        if n not in _SLOTS:
            _SLOTS[n] = threading.BoundedSemaphore(n)
        return _SLOTS[n]


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    value: T
    input_tokens: int
    output_tokens: int
    cost_micro_usd: int
    attempts: int
    model: str
    provider: str


@dataclass(frozen=True, slots=True)
class Spent:
    """Tokens and cost of one call, successful or not."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0


def _usd_micros_per_mtok(value: str | None) -> int | None:
    if not value:
        return None
    return int(Decimal(value) * 10**6)


class LLMClient:
    """A provider plus the policies around it (one per task configuration)."""

    def __init__(
        self,
        provider: Provider,
        *,
        task: str,
        settings: Settings,
        sessions: sessionmaker[Session] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.task = task
        self.settings = settings
        self.sessions = sessions
        self.sleep = sleep
        self.slots = _slots(settings.llm_concurrency)
        self.spent = Spent()
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"llm:{self.provider.name}"

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Exact micro-USD: the price table, else the configured prices, else 0 (local)."""
        known = default_table().cost_micros(
            self.provider.model, TokenUsage(input=input_tokens, output=output_tokens)
        )
        if known is not None:
            return known
        pin = _usd_micros_per_mtok(self.settings.llm_input_usd_per_mtok) or 0
        pout = _usd_micros_per_mtok(self.settings.llm_output_usd_per_mtok) or 0
        return (input_tokens * pin + output_tokens * pout) // 10**6

    def ask(
        self,
        system: str,
        prompt: str,
        model: type[T],
        *,
        ref: str | None = None,
        tool_name: str = "answer",
    ) -> Answer[T]:
        """One validated answer, or LLMError after the retries the settings allow."""
        request = Request(
            system=system,
            prompt=prompt,
            schema=model.model_json_schema(),
            tool_name=tool_name,
            max_tokens=self.settings.llm_max_tokens,
            stream=self.settings.llm_stream,
        )
        started = time.monotonic()
        attempts = 0
        tin = tout = 0
        try:
            while True:
                attempts += 1
                try:
                    with self.slots:
                        reply = self.provider.send(request)
                    break
                except LLMError as exc:
                    tin += exc.input_tokens
                    tout += exc.output_tokens
                    if not exc.retryable or attempts > self.settings.llm_max_retries:
                        raise
                    limit = self.settings.llm_max_retry_wait_seconds
                    wait = exc.retry_after
                    if wait is None:  # our own backoff is capped; the provider's is not
                        backoff = BACKOFF_BASE_S * 2 ** (attempts - 1) * (0.5 + random.random())
                        wait = min(backoff, limit)
                    if wait > limit:
                        exc.detail += (
                            f" (Retry-After {wait:.0f}s is over "
                            f"PRISM_LLM_MAX_RETRY_WAIT_SECONDS={limit:g})"
                        )
                        raise
                    log.info("LLM %s: %s; retry %d in %.2fs", self.task, exc.reason, attempts, wait)
                    self.sleep(wait)
            tin += reply.input_tokens
            tout += reply.output_tokens
            try:
                value = model.model_validate(reply.data)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
                raise InvalidAnswer(
                    f"{where}: {first.get('msg', 'invalid')}",
                    input_tokens=0,
                    output_tokens=0,
                ) from None
        except LLMError as exc:
            self._record(exc.reason, ref, attempts, tin, tout, started)
            raise
        cost = self._record("ok", ref, attempts, tin, tout, started)
        return Answer(
            value, tin, tout, cost, attempts, reply.model or self.provider.model, self.provider.name
        )

    def _record(
        self, outcome: str, ref: str | None, attempts: int, tin: int, tout: int, started: float
    ) -> int:
        cost = self.cost(tin, tout)
        with self._lock:
            self.spent = Spent(
                self.spent.input_tokens + tin,
                self.spent.output_tokens + tout,
                self.spent.cost_micro_usd + cost,
            )
        metrics.llm_call(self.provider.name, self.provider.model, self.task, outcome)
        if self.sessions is not None:
            try:
                with self.sessions.begin() as s:
                    s.add(
                        LlmUsage(
                            id=str(uuid.uuid4()),
                            at=datetime.now(UTC),
                            provider=self.provider.name,
                            model=self.provider.model[:200],
                            task=self.task,
                            outcome=outcome,
                            ref=ref[:80] if ref else None,
                            attempts=attempts,
                            input_tokens=tin,
                            output_tokens=tout,
                            cost_micro_usd=cost,
                            duration_ms=int((time.monotonic() - started) * 1000),
                        )
                    )
            except Exception:  # accounting must never turn an answer into a failure
                log.exception("could not record LLM usage")
        return cost


def task_enabled(settings: Settings, task: str) -> bool:
    """The LLM does `task` (and a provider is configured for it)."""
    if task not in settings.llm_tasks:
        return False
    provider, model = _choice(settings, task)
    return provider is not None and bool(model)


def _choice(settings: Settings, task: str) -> tuple[str | None, str | None]:
    override = settings.llm_task_models.get(task)
    if override:
        provider, _, model = override.partition(":")
        if model:
            return provider, model
        return settings.llm_provider, provider
    return settings.llm_provider, settings.llm_model


def make_provider(
    settings: Settings, provider: str | None = None, model: str | None = None
) -> Provider:
    """A provider from the settings (or the named one, same endpoint and key)."""
    from prism.llm.providers import AnthropicProvider, OpenAICompatProvider

    name = provider or settings.llm_provider
    model = model or settings.llm_model
    if name is None or not model:
        raise NotConfigured("set PRISM_LLM_PROVIDER and PRISM_LLM_MODEL")
    kwargs = {
        "api_key": settings.llm_api_key,
        "base_url": settings.llm_base_url,
        "timeout": settings.llm_timeout_seconds,
    }
    if name == "anthropic":
        return AnthropicProvider(model, **kwargs)  # type: ignore[arg-type]
    if name == "openai":
        return OpenAICompatProvider(model, **kwargs)  # type: ignore[arg-type]
    raise NotConfigured(f"unknown LLM provider {name!r}; use anthropic or openai")


def client_for(
    settings: Settings,
    task: str,
    *,
    sessions: sessionmaker[Session] | None = None,
    provider: str | None = None,
) -> LLMClient:
    """The client of one task; `provider` forces one (the `llm:<provider>` judges)."""
    chosen, model = _choice(settings, task)
    return LLMClient(
        make_provider(settings, provider or chosen, model),
        task=task,
        settings=settings,
        sessions=sessions,
    )
