"""LLMClient over both providers and both wire modes: answers, usage, retries, limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from prism.judge.llm import JudgeAnswer
from prism.llm.client import client_for, task_enabled
from prism.llm.provider import LLMError
from prism.store.models import LlmUsage
from tests.llm.conftest import PROVIDERS, llm_settings
from tests.llm.standins import USAGE, StandIn


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_is_validated_and_its_cost_recorded(
    tmp_path: Path,
    standin: Callable[..., StandIn],
    store: sessionmaker[Session],
    provider: str,
    stream: bool,
) -> None:
    s = standin("ok")
    settings = llm_settings(tmp_path, provider, s, llm_stream=stream)
    client = client_for(settings, "outcome", sessions=store)
    answer = client.ask("system", "user", JudgeAnswer, ref="arc-1", tool_name="judge_arc")
    assert answer.value.outcome == "partial" and answer.value.plan_first is True
    assert (answer.input_tokens, answer.output_tokens) == (
        USAGE["input_tokens"],
        USAGE["output_tokens"],
    )
    # claude-sonnet-4-6 list price: $3 / $15 per million tokens
    assert answer.cost_micro_usd == 1200 * 3 + 150 * 15
    body = s.requests[0]["body"]
    assert body["model"] == "claude-sonnet-4-6" and bool(body.get("stream")) is stream
    if provider == "anthropic":
        assert s.requests[0]["path"] == "/v1/messages"
        assert body["tool_choice"] == {"type": "tool", "name": "judge_arc"}
        assert body["tools"][0]["input_schema"]["required"]
    else:
        assert s.requests[0]["path"] == "/v1/chat/completions"
        assert body["response_format"]["json_schema"]["name"] == "judge_arc"
    with store() as sess:
        row = sess.scalars(select(LlmUsage)).one()
    assert (row.provider, row.task, row.outcome, row.ref) == (provider, "outcome", "ok", "arc-1")
    assert (row.input_tokens, row.output_tokens, row.cost_micro_usd) == (1200, 150, 5850)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_after_is_honoured(
    tmp_path: Path, standin: Callable[..., StandIn], provider: str
) -> None:
    s = standin(["rate_limit", "ok"], retry_after="0.25")
    waits: list[float] = []
    client = client_for(llm_settings(tmp_path, provider, s), "outcome")
    client.sleep = waits.append
    answer = client.ask("system", "user", JudgeAnswer, tool_name="judge_arc")
    assert waits == [0.25] and answer.attempts == 2
    assert [r["mode"] for r in s.requests] == ["rate_limit", "ok"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_5xx_is_retried_with_backoff_then_gives_up(
    tmp_path: Path, standin: Callable[..., StandIn], store: sessionmaker[Session], provider: str
) -> None:
    s = standin("server_error")
    waits: list[float] = []
    client = client_for(llm_settings(tmp_path, provider, s), "outcome", sessions=store)
    client.sleep = waits.append
    with pytest.raises(LLMError) as err:
        client.ask("system", "user", JudgeAnswer, tool_name="judge_arc")
    assert err.value.reason == "server_error"
    assert len(s.requests) == 3 and len(waits) == 2  # 1 + llm_max_retries
    assert 0.25 <= waits[0] <= 0.75 and 0.5 <= waits[1] <= 1.0  # exponential, jittered, capped
    with store() as sess:
        row = sess.scalars(select(LlmUsage)).one()
    assert (row.outcome, row.attempts) == ("server_error", 3)


def test_a_retry_after_over_the_limit_gives_up_at_once(
    tmp_path: Path, standin: Callable[..., StandIn]
) -> None:
    s = standin("rate_limit", retry_after="120")
    client = client_for(llm_settings(tmp_path, "anthropic", s), "outcome")
    client.sleep = lambda _: pytest.fail("must not wait")
    with pytest.raises(LLMError) as err:
        client.ask("system", "user", JudgeAnswer, tool_name="judge_arc")
    assert err.value.reason == "rate_limited" and "Retry-After 120s" in err.value.detail
    assert len(s.requests) == 1


def test_answers_that_do_not_fit_the_model_are_rejected(
    tmp_path: Path, standin: Callable[..., StandIn]
) -> None:
    s = standin("ok")
    s.answers["judge_arc"] = {"outcome": "crushed-it", "outcome_confidence": 3}
    client = client_for(llm_settings(tmp_path, "openai", s), "outcome")
    with pytest.raises(LLMError) as err:
        client.ask("system", "user", JudgeAnswer, tool_name="judge_arc")
    assert err.value.reason == "invalid_answer" and "outcome" in err.value.detail


def test_concurrency_is_limited(tmp_path: Path, standin: Callable[..., StandIn]) -> None:
    s = standin("ok")
    client = client_for(llm_settings(tmp_path, "openai", s, llm_concurrency=2), "outcome")
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.ask("system", "user", JudgeAnswer, tool_name="judge_arc")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(s.requests) == 8
    assert s.max_in_flight <= 2


def test_tasks_and_per_task_overrides(tmp_path: Path, standin: Callable[..., StandIn]) -> None:
    s = standin("ok")
    settings = llm_settings(
        tmp_path,
        "anthropic",
        s,
        llm_tasks=["outcome", "reports"],
        llm_task_models={"reports": "openai:llama3.1"},
    )
    assert task_enabled(settings, "outcome") and not task_enabled(settings, "titles")
    report_client = client_for(settings, "reports")
    assert (report_client.provider.name, report_client.provider.model) == ("openai", "llama3.1")
    # a model the price table does not know costs the configured price (default: nothing)
    assert report_client.cost(1_000_000, 1_000_000) == 0
    priced = llm_settings(tmp_path, "openai", s, llm_input_usd_per_mtok="0.5", llm_model="llama3.1")
    assert client_for(priced, "outcome").cost(2_000_000, 0) == 1_000_000
