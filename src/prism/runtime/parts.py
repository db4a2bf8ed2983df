"""Build the parts a process needs from the settings (the one place that wires them)."""

from __future__ import annotations

import logging
import sys

from sqlalchemy import Engine

from prism.lake.normalize import NormalizeOptions
from prism.settings import Settings
from prism.store.db import make_engine, migrate, session_factory
from prism.store.keys import KeyStore


def setup_logging(settings: Settings, process: str) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s {process} %(name)s: %(message)s",
        force=True,
    )


def open_store(settings: Settings, *, run_migrations: bool = True) -> tuple[Engine, KeyStore]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    if run_migrations:
        migrate(engine)
    return engine, KeyStore(session_factory(engine))


def normalize_options(settings: Settings) -> NormalizeOptions:
    return NormalizeOptions(
        max_attribute_length=settings.max_attribute_length, store_content=settings.store_content
    )
