"""Fixtures: a temporary store and a live engine (uvicorn in a thread) over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live_app import LiveEngine, Store, free_port, make_store


@pytest.fixture
def store(tmp_path) -> Store:  # type: ignore[no-untyped-def]
    s = make_store(
        tmp_path,
        events_poll_seconds=0.02,
        events_heartbeat_seconds=0.2,
        rate_limit_enabled=False,
    )
    s.key("alice")
    s.key("bob")
    s.key("root", admin=True)
    s.key("eve", org="globex")
    return s


@pytest.fixture
def live(store: Store) -> Iterator[LiveEngine]:
    engine = LiveEngine(store.engine_app(), free_port()).start()
    try:
        yield engine
    finally:
        engine.stop()
