"""Importer fixtures: a real SQLite store and Parquet lake under tmp_path, the sample folders.

The samples are `../shared/samples` beside the repository; tests that need them skip without
them. `Env.import_files` runs the real offline import (`runner.import_local`) into the lake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from prism.importer.runner import Manifest, Summary, import_local
from prism.importer.sink import LakeSink
from prism.importer.transcripts import discover
from prism.lake.normalize import NormalizeOptions
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.settings import Settings, load_settings
from prism.store.db import make_engine, migrate, session_factory
from prism.store.keys import KeyStore

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "samples"
PUBLIC = SAMPLES / "public" / "transcripts"
CC197 = SAMPLES / "claude-code-2.1.197"


def require_samples() -> None:
    if not PUBLIC.is_dir() or not CC197.is_dir():
        pytest.skip(f"samples not found at {SAMPLES}")


@dataclass
class Env:
    root: Path
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: KeyStore
    storage: LocalStorage
    lake: Lake
    org_id: str
    developer_id: str

    def sink(self, developer_id: str | None = None) -> LakeSink:
        return LakeSink(
            storage=self.storage,
            sessions=self.sessions,
            lake=self.lake,
            options=NormalizeOptions(),
            org_id=self.org_id,
            developer_id=developer_id or self.developer_id,
        )

    def import_files(
        self, *paths: Path, manifest: bool = False, developer_id: str | None = None, **kw: Any
    ) -> Summary:
        files = discover(list(paths))
        m = (
            Manifest(self.root / "import-state.db", "local", self.developer_id)
            if manifest
            else None
        )
        try:
            return import_local(files, self.sink(developer_id), m, **kw)
        finally:
            if m is not None:
                m.close()

    def events(self, developer_id: str | None = None) -> list[dict[str, Any]]:
        return self.lake.sql(
            "SELECT * FROM events WHERE developer_id = $dev ORDER BY time, event_sequence",
            {"dev": developer_id or self.developer_id},
        ).to_pylist()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    settings = load_settings(data_dir=tmp_path)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = session_factory(engine)
    keys = KeyStore(sessions)
    with sessions.begin() as s:
        org = keys.ensure_org(s, "acme")
        dev = keys.ensure_developer(s, org, "dev@acme.test")
        org_id, dev_id = org.id, dev.id
    storage = LocalStorage(settings.lake_root)
    try:
        yield Env(
            tmp_path, settings, engine, sessions, keys, storage, Lake(storage), org_id, dev_id
        )
    finally:
        engine.dispose()
