"""LLM tests: settings pointing the SDKs at a local stand-in, and a migrated store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from prism.runtime.parts import open_store
from prism.settings import Settings
from prism.store.db import session_factory
from tests.llm.standins import StandIn

PROVIDERS = ("anthropic", "openai")
MODEL = "claude-sonnet-4-6"  # in the price table, so Prism's own cost is not zero


def llm_settings(root: Path, provider: str, standin: StandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": root,
        "llm_provider": provider,
        "llm_model": MODEL,
        "llm_base_url": standin.url if provider == "anthropic" else standin.openai_url,
        "llm_api_key": "sk-test",
        "llm_tasks": ["outcome", "rubric", "titles", "reports"],
        "llm_timeout_seconds": 2.0,
        "llm_max_retries": 2,
        "llm_max_retry_wait_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def standin() -> Iterator[Callable[..., StandIn]]:
    made: list[StandIn] = []

    def make(mode: str | list[str] = "ok", **kw: Any) -> StandIn:
        s = StandIn(mode, **kw).__enter__()
        made.append(s)
        return s

    yield make
    for s in made:
        s.__exit__(None, None, None)


@pytest.fixture
def store(tmp_path: Path) -> sessionmaker[Session]:
    engine, _ = open_store(Settings(data_dir=tmp_path))
    return session_factory(engine)
