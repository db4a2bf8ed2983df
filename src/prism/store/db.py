"""Metadata store connection: one SQLAlchemy engine per process, SQLite or PostgreSQL.

SQLite runs in WAL mode so the ingest, engine and worker processes can share it; PostgreSQL keeps
Prism's tables in schema `prism` through SQLAlchemy's schema translation, so the models and
migrations stay schema-free.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import ConfigError

PG_SCHEMA = "prism"
_MIGRATIONS = Path(__file__).parent / "migrations"
# Any stable 64-bit number: every process takes this advisory lock before migrating.
_PG_MIGRATION_LOCK = 0x5052_4953_4D00


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create the engine for `url` with the options each backend needs."""
    if is_postgres(url):
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            execution_options={"schema_translate_map": {None: PG_SCHEMA}},
        )
    else:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def check_reachable(engine: Engine) -> None:
    """Fail start-up with a message naming the fix when the store cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise ConfigError(
            f"cannot reach the metadata store at {engine.url.render_as_string(hide_password=True)}"
            f": {exc.orig}. Check PRISM_DATABASE_URL and that the database server is running."
        ) from None


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialize migrations when several processes start together."""
    if is_postgres(str(engine.url)):
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
    else:
        db_path = engine.url.database
        if not db_path or db_path == ":memory:":
            yield
            return
        with open(f"{db_path}.migrate.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call from many processes at once."""
    check_reachable(engine)
    with _migration_lock(engine):
        if is_postgres(str(engine.url)):
            with engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
        command.upgrade(_alembic_config(engine), "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
