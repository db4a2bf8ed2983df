"""Metadata-store fixtures on SQLite and PostgreSQL.

`store_url`/`engine`: a fresh, never-migrated database per test (for the migration tests; on
PostgreSQL a throwaway `prism_test_<random>` database). `db`: a migrated database with empty
tables; on PostgreSQL one database per run, truncated between tests, because creating and
migrating a database per test would take most of the suite's time budget.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from prism.store.db import PG_SCHEMA, make_engine, migrate
from prism.store.models import Base
from tests.conftest import require_postgres


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _throwaway_pg_database() -> tuple[str, str]:
    import psycopg

    base = require_postgres()
    name = f"prism_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_dsn(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + f"/{name}", name


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_dsn(require_postgres()), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, never-migrated database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'prism.db'}"
        return
    url, name = _throwaway_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(store_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def _pg_migrated() -> Iterator[Engine]:
    url, name = _throwaway_pg_database()
    eng = make_engine(url)
    try:
        migrate(eng)
        yield eng
    finally:
        eng.dispose()
        _drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database whose tables are empty."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'prism.db'}")
        migrate(eng)
        try:
            yield eng
        finally:
            eng.dispose()
        return
    eng = request.getfixturevalue("_pg_migrated")
    tables = ", ".join(f"{PG_SCHEMA}.{t.name}" for t in Base.metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    yield eng
