"""A demo-like world for reports and session insights: scenario stories written to a real
Parquet lake, judged by the real sessionizer with a fixed clock, served by the engine app.

Alice's current week (W47, from Monday 16 November 2026) holds a crushed feature, a failed
bug fix, a trivia question, two goals in one session and a fix that reworks last week's; the
previous week holds a retry storm, a tiny-prompt burst, a crushed feature and the first fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from prism.api.app import create_engine_app
from prism.insights.jobs import ReportService
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.runtime.parts import open_store
from prism.score.reader import ScoreReader
from prism.score.thresholds import ScoringConfig
from prism.sessions.model import EventRow
from prism.sessions.worker import Sessionizer, mark_dirty
from prism.settings import Settings
from prism.store.db import session_factory
from tests.api.test_score_v3_api import NOW, write_lake
from tests.unit import scenarios as sc

MONDAY = sc.MONDAY


@dataclass
class World:
    client: TestClient
    sessions: sessionmaker[Session]
    storage: LocalStorage
    settings: Settings
    org_id: str
    alice: str
    bob: str
    keys: dict[str, str]
    stories: dict[str, str]

    def call(self, method: str, path: str, who: str = "alice", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[who]}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, who: str = "alice", **params: Any) -> Any:
        return self.call("GET", path, who, params=params)

    @property
    def reader(self) -> ScoreReader:
        scores = self.client.app.state.prism.scores  # type: ignore[attr-defined]
        assert isinstance(scores, ScoreReader)
        return scores

    @property
    def reports(self) -> ReportService:
        from prism.api.routes.reports_common import reports

        class _Req:
            app = self.client.app

        return reports(_Req())  # type: ignore[arg-type]

    def sessionize(self) -> int:
        since = MONDAY - timedelta(days=40)
        with self.sessions.begin() as s:
            mark_dirty(s, {(self.org_id, self.alice): since, (self.org_id, self.bob): since})
        return Sessionizer(
            sessions=self.sessions,
            lake=Lake(self.storage),
            config=ScoringConfig(),
            clock=lambda: NOW,
        ).run_once()


PLAN: dict[str, tuple[Callable[..., Any], datetime, str]] = {
    "feature": (sc.feature_crushed, MONDAY, "alice"),
    "bug": (sc.bug_failed, MONDAY + timedelta(hours=2), "alice"),
    "trivia": (sc.question_trivia, MONDAY + timedelta(hours=5), "alice"),
    "two_goals": (sc.two_goals, MONDAY + timedelta(hours=6), "alice"),
    "rework": (sc.fix_then_rework, MONDAY - timedelta(days=1, hours=-1), "alice"),
    "storm": (sc.retry_storm, MONDAY - timedelta(days=7), "alice"),
    "tiny": (sc.tiny_burst, MONDAY - timedelta(days=6), "alice"),
    "feature_prev": (sc.feature_crushed, MONDAY - timedelta(days=5), "alice"),
    "self_grading": (sc.self_grading, MONDAY - timedelta(days=14), "alice"),
    "open": (sc.abandoned, NOW - timedelta(minutes=10), "alice"),
    "bob_feature": (sc.feature_crushed, MONDAY, "bob"),
}


def build_world(root: Path, **overrides: Any) -> Iterator[World]:
    settings = Settings(data_dir=root, **overrides)
    engine, keys = open_store(settings)
    sessions = session_factory(engine)
    storage = LocalStorage(settings.lake_root)
    secrets = {
        "alice": keys.create_key(developer="alice@example.com", org="acme").key,
        "bob": keys.create_key(developer="bob@example.com", org="acme").key,
        "admin": keys.create_key(developer="admin@example.com", org="acme", scope="admin").key,
    }
    alice, bob = (keys.authenticate(secrets[n]) for n in ("alice", "bob"))
    devs = {"alice": alice.developer_id, "bob": bob.developer_id}
    stories: dict[str, str] = {}
    for name, (story, start, who) in PLAN.items():
        made = story(start, developer_id=devs[who])
        parts: list[list[EventRow]] = list(made) if isinstance(made, tuple) else [made]
        for i, events in enumerate(parts):
            stories[name if i == len(parts) - 1 else f"{name}_first"] = events[0].session_id
            write_lake(storage, alice.org_id, events)
    app = create_engine_app(settings, keys_store=keys, lake=Lake(storage))
    app.state.prism.scores.clock = lambda: NOW
    with TestClient(app) as client:
        world = World(
            client,
            sessions,
            storage,
            settings,
            alice.org_id,
            alice.developer_id,
            bob.developer_id,
            secrets,
            stories,
        )
        world.sessionize()
        yield world
    engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(tmp_path_factory.mktemp("insights"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[World]:
    yield from build_world(tmp_path)
