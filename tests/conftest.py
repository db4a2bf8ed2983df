"""Shared fixtures. Tests import helpers from `tests.support`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.prism_server import PrismServer  # noqa: E402

PG_URL = os.environ.get("PRISM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def prism_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    """A real `prism serve` (embedded parts) shared by the tests of one module."""
    server = PrismServer(tmp_path_factory.mktemp("prism"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


def require_postgres() -> str:
    """PostgreSQL URL for tests; skip (fail under CI=true) when the server is absent."""
    if postgres_available():
        return PG_URL
    message = "PostgreSQL is not reachable at 127.0.0.1:5432 (apt-get install postgresql)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
