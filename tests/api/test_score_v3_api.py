"""/v1/score_v3/*: real lake rows -> real sessionizer -> the engine app, in process.

Stories come from the scenario library; their events are written to the lake as Parquet the way
the lake writer does, the sessionizer judges them with a fixed clock, and the numbers the
endpoints report are checked against spec/scoring.md.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from prism.api.app import create_engine_app
from prism.lake import schema
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.lake.writer import parquet_bytes, rows_to_table
from prism.runtime.parts import open_store
from prism.score import metrics as m
from prism.score.reader import ScoreReader
from prism.score.thresholds import ScoringConfig
from prism.score.windows import window_at
from prism.sessions.model import EventRow
from prism.sessions.worker import Sessionizer, mark_dirty
from prism.settings import Settings
from prism.store.db import make_engine, migrate, session_factory
from prism.store.models import (
    ArcRubric,
    ArcVerdictRow,
    Developer,
    PromptRubricRow,
    ScoreVersion,
    SubSession,
)
from prism.store.scores import scored_arc
from tests.conftest import require_postgres
from tests.unit import scenarios as sc

MONDAY = sc.MONDAY  # 2026-11-16 09:00 UTC
NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)  # Tuesday noon: every story but one closed

SEED = {
    "score": {
        "window",
        "prism_score",
        "letter_grade",
        "personal_tier",
        "crushed_count",
        "total_count",
        "crush_weight",
        "sparkline",
    },
    "speed": {"window", "cspw", "delta_cspw", "ttc_median_seconds", "sparkline"},
    "tokens": {"window", "crush_weight", "tet", "tpt", "cpcs_estimate", "sparkline", "breakdown"},
    "skill": {"window", "apg", "delta_apg", "per_boolean", "worst_pillar"},
}
BOOLEANS = {
    "goal_explicit",
    "scope_bounded",
    "references_concrete",
    "context_sufficient",
    "verification_requested",
    "root_cause_oriented",
    "plan_first",
}
RUBRIC_ITEM = {
    "score_v3_sub_session_id",
    "intent_class",
    "letter_grade",
    "confidence",
    *BOOLEANS,
    "applicability",
    "judge_status",
    "title",
    "summary",
    "title_source",
}
TRIVIA_ITEM = {"score_v3_sub_session_id", "reason", "created_at", "title", "summary"}
SPEED_ROW = {
    "id",
    "claude_session_id",
    "title",
    "started_at",
    "ended_at",
    "duration_seconds",
    "outcome",
    "outcome_confidence",
    "crushed",
    "qualifying",
    "intent_class",
    "letter_grade",
    "prompt_grade",
    "judge_status",
    "is_rework",
    "reworked_later",
    "flags",
    "tokens",
    "cost_usd",
}


# --- the world: a store, a lake, three keys, scenario sessions ---------------------------------


@dataclass
class World:
    client: TestClient
    sessions: sessionmaker[Session]
    storage: LocalStorage
    org_id: str
    alice: str  # developer ids
    bob: str
    keys: dict[str, str]  # name -> secret
    stories: dict[str, str]  # story name -> claude session id (alice's unless noted)

    def get(self, path: str, who: str = "alice", **params: Any) -> Any:
        return self.client.get(
            f"/v1/score_v3{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.keys[who]}"},
        )

    def send(self, method: str, path: str, who: str = "alice", **kwargs: Any) -> Any:
        return self.client.request(
            method,
            f"/v1/score_v3{path}",
            headers={"Authorization": f"Bearer {self.keys[who]}"},
            **kwargs,
        )

    def sessionize(self, since: datetime | None = None) -> int:
        """Mark both developers dirty (from `since`) and run the real sessionizer once."""
        since = since or MONDAY - timedelta(days=30)
        with self.sessions.begin() as s:
            mark_dirty(s, {(self.org_id, self.alice): since, (self.org_id, self.bob): since})
        sessionizer = Sessionizer(
            sessions=self.sessions,
            lake=Lake(self.storage),
            config=ScoringConfig(),
            clock=lambda: NOW,
        )
        return sessionizer.run_once()

    def arc_of(self, story: str, developer_id: str | None = None) -> SubSession:
        with self.sessions() as s:
            rows = s.scalars(
                select(SubSession).where(
                    SubSession.claude_session_id == self.stories[story],
                    SubSession.developer_id == (developer_id or self.alice),
                )
            ).all()
        assert len(rows) == 1, story
        return rows[0]

    @property
    def reader(self) -> ScoreReader:
        scores = self.client.app.state.prism.scores  # type: ignore[attr-defined]
        assert isinstance(scores, ScoreReader)
        return scores


def write_lake(storage: LocalStorage, org_id: str, events: list[EventRow]) -> None:
    """Publish events as Parquet, one file per (table, org, date), as the lake writer does."""
    by_date: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        row = dataclasses.asdict(e)
        row.update(
            attributes=dict(e.attributes),
            observed_time=e.time,
            batch_id="test",
            agent="claude_code",
            service_name="claude-code",
            service_version="2.1.122",
        )
        by_date[e.time.strftime("%Y-%m-%d")].append(row)
    for date, rows in by_date.items():
        table = rows_to_table("events", rows).sort_by(
            [("developer_id", "ascending"), (schema.TIME_COLUMN["events"], "ascending")]
        )
        rel = f"events/org_id={org_id}/date={date}/part-{rows[0]['session_id']}.parquet"
        storage.stage(rel, parquet_bytes(table))
        storage.publish(rel)


def build_world(tmp_path: Path, database_url: str | None = None) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    engine, keys = open_store(settings)
    sessions = session_factory(engine)
    storage = LocalStorage(settings.lake_root)
    secrets = {
        "alice": keys.create_key(developer="alice@example.com", org="acme").key,
        "bob": keys.create_key(developer="bob@example.com", org="acme").key,
        "admin": keys.create_key(developer="admin@example.com", org="acme", scope="admin").key,
    }
    alice, bob = (keys.authenticate(secrets[n]) for n in ("alice", "bob"))
    org_id = alice.org_id
    plan: dict[str, tuple[Callable[..., list[EventRow]], datetime, str]] = {
        "feature": (sc.feature_crushed, MONDAY, alice.developer_id),
        "bug": (sc.bug_failed, MONDAY + timedelta(hours=2), alice.developer_id),
        "trivia": (sc.question_trivia, MONDAY + timedelta(hours=5), alice.developer_id),
        "storm": (sc.retry_storm, MONDAY - timedelta(days=7), alice.developer_id),
        "tiny": (sc.tiny_burst, MONDAY - timedelta(days=6), alice.developer_id),
        "self_grading": (sc.self_grading, MONDAY - timedelta(days=14), alice.developer_id),
        "open": (sc.abandoned, NOW - timedelta(minutes=10), alice.developer_id),
        "bob_feature": (sc.feature_crushed, MONDAY, bob.developer_id),
    }
    stories = {}
    for name, (story, start, dev) in plan.items():
        events = story(start, developer_id=dev)
        stories[name] = events[0].session_id
        write_lake(storage, org_id, events)
    app = create_engine_app(settings, keys_store=keys, lake=Lake(storage))
    app.state.prism.scores.clock = lambda: NOW
    with TestClient(app) as client:
        world = World(
            client,
            sessions,
            storage,
            org_id,
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
    """Read-only tests share one world."""
    yield from build_world(tmp_path_factory.mktemp("score_v3"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[World]:
    """Tests that write get their own world."""
    yield from build_world(tmp_path)


@pytest.fixture(scope="module")
def pg_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The same world on PostgreSQL (JSON extraction and timestamps differ by dialect)."""
    import psycopg

    base = require_postgres()
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"prism_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.rsplit("/", 1)[0] + f"/{name}"
        engine = make_engine(url)
        migrate(engine)
        # Store bug, reported: score_v3_prompt_rubrics.id is VARCHAR(36) but holds
        # "<arc uuid>:<n>", which PostgreSQL rejects. Widen it until a migration does.
        with engine.begin() as conn:
            conn.execute(
                text("ALTER TABLE prism.score_v3_prompt_rubrics ALTER COLUMN id TYPE varchar(80)")
            )
        engine.dispose()
        yield from build_world(tmp_path_factory.mktemp("score_v3_pg"), url)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def alice_arcs(w: World) -> list[m.ScoredArc]:
    """The store's arcs through the ORM path (`scored_arc`), independent of the reader."""
    with w.sessions() as s:
        rows = s.execute(
            select(SubSession, ArcRubric)
            .outerjoin(ArcRubric, ArcRubric.sub_session_id == SubSession.id)
            .where(SubSession.developer_id == w.alice, SubSession.status == "scored")
            .order_by(SubSession.ended_at, SubSession.id)
        ).all()
    return [scored_arc(r, rub) for r, rub in rows]


# --- the stories judged as scoring.md says -----------------------------------------------------


def test_the_sessionizer_judged_the_stories(world: World) -> None:
    assert world.arc_of("feature").crushed is True
    assert world.arc_of("bug").outcome == "failed"
    trivia = world.arc_of("trivia")
    assert (trivia.qualifying, trivia.trivia_reason) == (False, "no_work")
    assert world.arc_of("open").status == "open"


def test_reader_arcs_match_the_orm_path(world: World) -> None:
    lean = world.reader.arcs(world.alice, MONDAY - timedelta(days=60))
    orm = alice_arcs(world)
    norm = [dataclasses.replace(a, flags=tuple(sorted(a.flags))) for a in orm]
    assert lean == norm
    assert len(lean) == 6


# --- headline and pillars ----------------------------------------------------------------------


def test_score_weekly(world: World) -> None:
    r = world.get("/score", window="weekly")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == SEED["score"]
    # one crushed + one failed + one trivia: 1 / 2 qualifying
    assert body["prism_score"] == 50.0
    assert (body["crushed_count"], body["total_count"]) == (1, 2)
    assert body["letter_grade"] == "C"
    assert body["personal_tier"] == "warming_up"  # fewer than 3 qualifying
    # oldest first: W44 empty, W45 self-grading (blocked) 0%, W46 storm + tiny 50%, W47 50%
    assert body["sparkline"] == [None, 0.0, 50.0, 50.0]
    feature, bug = world.arc_of("feature"), world.arc_of("bug")
    billed = {a.id: a.input_tokens + a.output_tokens + a.cache_write_tokens for a in (feature, bug)}
    assert body["crush_weight"] == round(billed[feature.id] / sum(billed.values()), 3)


def test_score_default_window_is_weekly(world: World) -> None:
    assert world.get("/score").json() == world.get("/score", window="weekly").json()


def test_score_monthly_and_daily(world: World) -> None:
    monthly = world.get("/score", window="monthly").json()
    # November: self-grading, storm, tiny (crushed), feature (crushed), bug
    assert (monthly["crushed_count"], monthly["total_count"]) == (2, 5)
    assert monthly["prism_score"] == 40.0
    assert (monthly["letter_grade"], monthly["personal_tier"]) == ("C", "building")
    daily = world.get("/score", window="daily").json()  # Tuesday: nothing closed yet
    assert daily["prism_score"] is None and daily["total_count"] == 0
    assert (daily["letter_grade"], daily["personal_tier"]) == (None, "warming_up")
    assert daily["window"] == "daily" and len(daily["sparkline"]) == 4


def test_speed(world: World) -> None:
    body = world.get("/speed").json()
    assert set(body) == SEED["speed"]
    assert body["cspw"] == 0.5  # 1 crushed / 2 working days (Mon, Tue)
    assert body["delta_cspw"] == 0.3  # previous week: 1 crushed / 5 working days
    feature = world.arc_of("feature")
    wall = (feature.ended_at - feature.started_at).total_seconds()
    assert body["ttc_median_seconds"] == round(wall, 1)
    assert body["sparkline"] == [0.0, 0.0, 0.2, 0.5]


def test_tokens(world: World) -> None:
    body = world.get("/tokens").json()
    assert set(body) == SEED["tokens"]
    assert set(body["breakdown"]) == {"input", "output", "cache_read", "cache_write"}
    arcs = alice_arcs(world)
    week = m.in_window(arcs, window_at("weekly", NOW))
    prev = m.in_window(arcs, window_at("weekly", NOW - timedelta(days=7)))
    assert body["breakdown"] == m.breakdown(week)
    assert body["tpt"] == round(m.tpt(week) or 0, 1)
    assert body["cpcs_estimate"] == round(m.cpcs_estimate(week) or 0, 4)
    assert body["tet"] == round((m.tpt(prev) or 0) / (m.tpt(week) or 1), 3)
    assert body["crush_weight"] == world.get("/score").json()["crush_weight"]


def test_skill(world: World) -> None:
    body = world.get("/skill").json()
    assert set(body) == SEED["skill"]
    assert set(body["per_boolean"]) == BOOLEANS
    week = m.in_window(alice_arcs(world), window_at("weekly", NOW))
    assert body["apg"] == round(m.apg(week) or 0, 3)
    shares = m.per_boolean(week)
    assert body["per_boolean"] == {k: None if v is None else round(v, 3) for k, v in shares.items()}
    assert body["worst_pillar"] == m.worst_pillar(shares)


def test_windows_follow_the_developers_time_zone(fresh: World) -> None:
    before = fresh.get("/score").json()
    with fresh.sessions.begin() as s:
        s.execute(
            update(Developer)
            .where(Developer.id == fresh.alice)
            .values(time_zone="Pacific/Honolulu")
        )
    # 09:00 UTC Monday is 23:00 Sunday in Honolulu: the crushed feature falls in last week.
    body = fresh.get("/score").json()
    assert (body["crushed_count"], body["total_count"], body["prism_score"]) == (0, 1, 0.0)
    assert before["prism_score"] == 50.0
    with fresh.sessions.begin() as s:
        s.execute(update(Developer).where(Developer.id == fresh.alice).values(time_zone="Mars/X"))
    assert fresh.get("/score").json() == before  # an unknown stored zone reads as UTC


@pytest.mark.parametrize(
    "path",
    [
        "/score",
        "/speed",
        "/tokens",
        "/skill",
        "/speed/sessions",
        "/trivia",
        "/integrity",
        "/insight/summary",
        "/tokens/trend",
        "/trivia/trend",
    ],
)
def test_bad_window_is_400(world: World, path: str) -> None:
    r = world.get(path, window="yearly")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400 and "window" in body["message"]


def test_no_key_is_401(world: World) -> None:
    r = world.client.get("/v1/score_v3/score")
    assert r.status_code == 401 and r.json() == {"code": 401, "message": "Invalid API key"}


def test_admin_reads_another_developer_but_a_developer_cannot(world: World) -> None:
    as_admin = world.get("/score", who="admin", user_id="alice@example.com").json()
    assert as_admin == world.get("/score").json()
    assert world.get("/score", who="bob", user_id=world.alice).status_code == 404
    bob = world.get("/score", who="bob").json()
    assert (bob["crushed_count"], bob["total_count"]) == (1, 1)


# --- cache ---------------------------------------------------------------------------------------


def test_reports_are_cached_until_the_score_version_moves(fresh: World) -> None:
    reader = fresh.reader
    fresh.get("/score")
    hits, misses = reader.hits, reader.misses
    fresh.get("/score")
    fresh.get("/speed")
    assert (reader.hits, reader.misses) == (hits + 2, misses)
    with fresh.sessions.begin() as s:
        s.execute(
            update(ScoreVersion)
            .where(ScoreVersion.developer_id == fresh.alice)
            .values(version=ScoreVersion.version + 1)
        )
    fresh.get("/score")
    assert reader.misses == misses + 1


# --- sessions and prompts ----------------------------------------------------------------------


def test_speed_sessions(world: World) -> None:
    rows = world.get("/speed/sessions").json()
    assert [r["claude_session_id"] for r in rows] == [
        world.stories["trivia"],
        world.stories["bug"],
        world.stories["feature"],
    ]
    assert all(set(r) == SPEED_ROW for r in rows)
    trivia, bug, feature = rows
    assert feature["crushed"] and feature["qualifying"] and feature["outcome"] == "goal_complete"
    assert bug["outcome"] == "failed" and not bug["crushed"]
    assert not trivia["qualifying"]
    arc = world.arc_of("feature")
    assert feature["tokens"]["output"] == arc.output_tokens
    assert feature["cost_usd"] == arc.cost_micro_usd / 1_000_000
    monthly = world.get("/speed/sessions", window="monthly").json()
    storm = next(r for r in monthly if r["claude_session_id"] == world.stories["storm"])
    assert storm["flags"] == ["auto_retry_storm"]


def test_prompts_left_join_the_prompt_rubric(fresh: World) -> None:
    arc = fresh.arc_of("feature")
    body = fresh.get(f"/sessions/{arc.id}/prompts").json()
    texts = [p["prompt"] for p in body["prompts"]]
    assert len(texts) == 2 and texts[1] == "thanks, that works!"
    assert texts[0].startswith("Add a /health endpoint")
    assert all(p["has_rubric"] for p in body["prompts"])
    first = body["prompts"][0]
    assert first["letter_grade"] is not None and first["goal_explicit"] is not None
    # drop one prompt's rubric row: the prompt still shows, its rubric fields null
    with fresh.sessions.begin() as s:
        s.execute(delete(PromptRubricRow).where(PromptRubricRow.prompt_id == first["prompt_id"]))
    again = fresh.get(f"/sessions/{arc.id}/prompts").json()["prompts"]
    assert len(again) == 2
    assert not again[0]["has_rubric"] and again[0]["letter_grade"] is None
    assert again[0]["prompt"] == first["prompt"] and again[1]["has_rubric"]


def test_another_developers_sub_session_is_404(world: World) -> None:
    bob_arc = world.arc_of("bob_feature", world.bob)
    r = world.get(f"/sessions/{bob_arc.id}/prompts")
    assert r.status_code == 404 and r.json()["code"] == 404
    r = world.send("PATCH", f"/sub-sessions/{bob_arc.id}", json={"title": "mine now"})
    assert r.status_code == 404
    assert world.arc_of("bob_feature", world.bob).title != "mine now"
    assert world.get("/sessions/no-such-id/prompts").status_code == 404
    ok = world.get(f"/sessions/{bob_arc.id}/prompts", who="admin", user_id="bob@example.com")
    assert ok.status_code == 200 and len(ok.json()["prompts"]) == 2


# --- insight -----------------------------------------------------------------------------------


def test_insight_sessions(world: World) -> None:
    items = world.get("/insight/sessions", limit=50).json()
    assert len(items) == 6 and all(set(i) == RUBRIC_ITEM for i in items)
    assert items[0]["score_v3_sub_session_id"] == world.arc_of("trivia").id  # newest first
    feature = next(i for i in items if i["score_v3_sub_session_id"] == world.arc_of("feature").id)
    assert feature["intent_class"] == "feature" and feature["title"] == "Add health endpoint"
    assert set(feature["applicability"]) == BOOLEANS
    assert len(world.get("/insight/sessions", limit=2).json()) == 2
    for bad in (0, 501, "x"):
        r = world.get("/insight/sessions", limit=bad)
        assert r.status_code == 400 and r.json()["code"] == 400


def test_insight_summary(world: World) -> None:
    body = world.get("/insight/summary").json()
    assert body["total"] == 3
    assert (body["by_intent"]["feature"], body["by_intent"]["bugfix"]) == (1, 1)
    assert sum(body["by_intent"].values()) == 3
    assert sum(body["by_letter"].values()) + body["ungraded"] == 3
    assert body["by_judge_status"]["heuristic"] == 3
    skill = world.get("/skill").json()
    assert (body["apg"], body["per_boolean"]) == (skill["apg"], skill["per_boolean"])
    assert body["from"].startswith("2026-11-16T00:00:00")


def test_insight_sessions_range(world: World) -> None:
    items = world.get(
        "/insight/sessions_range", **{"from": "2026-11-09T00:00:00Z", "to": "2026-11-16T00:00:00Z"}
    ).json()
    ids = {i["score_v3_sub_session_id"] for i in items}
    assert ids == {world.arc_of("storm").id, world.arc_of("tiny").id}
    for params in (
        {"from": "yesterday"},
        {"from": "2026-11-16T00:00:00Z", "to": "nope"},
        {"from": "2026-11-16T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {},
        {"from": ""},
    ):
        r = world.get("/insight/sessions_range", **params)
        assert r.status_code == 400, params


def test_backfill_keeps_history(fresh: World) -> None:
    body = {
        "from": "2026-11-01T00:00:00Z",
        "to": "2026-11-17T00:00:00Z",
        "user_id": "alice@example.com",
    }
    assert fresh.send("POST", "/insight/backfill", json=body).status_code == 403
    before = fresh.get("/score").json()
    with fresh.sessions() as s:
        version = s.get(ScoreVersion, fresh.alice)
        assert version is not None
        v0 = version.version
    r = fresh.send("POST", "/insight/backfill", who="admin", json=body)
    assert r.status_code == 200
    assert r.json() == {"rejudged": 6, "judge": "heuristic", "version": "3.0.0"}
    with fresh.sessions() as s:
        verdicts = s.execute(select(ArcVerdictRow.sub_session_id, ArcVerdictRow.is_current)).all()
        version = s.get(ScoreVersion, fresh.alice)
        assert version is not None and version.version == v0 + 1
    alice_ids = {
        fresh.arc_of(n).id for n in ("feature", "bug", "trivia", "storm", "tiny", "self_grading")
    }
    by_arc: dict[str, tuple[int, int]] = {}
    for arc_id, current in verdicts:
        n, cur = by_arc.get(arc_id, (0, 0))
        by_arc[arc_id] = (n + 1, cur + int(current))
    assert all(by_arc[a] == (2, 1) for a in alice_ids)
    assert by_arc[fresh.arc_of("bob_feature", fresh.bob).id] == (1, 1)
    assert fresh.get("/score").json() == before  # same judge, same verdicts
    bad = dict(body, judge="no-such-judge")
    r = fresh.send("POST", "/insight/backfill", who="admin", json=bad)
    assert r.status_code == 400 and "no-such-judge" in r.json()["message"]
    for broken in (dict(body, to="soon"), dict(body, **{"from": ""}), {"to": body["to"]}):
        r = fresh.send("POST", "/insight/backfill", who="admin", json=broken)
        assert r.status_code == 400, broken


def test_backfill_without_user_covers_the_org(fresh: World) -> None:
    body = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"}
    r = fresh.send("POST", "/insight/backfill", who="admin", json=body)
    assert r.json()["rejudged"] == 4  # alice's feature, bug, trivia and bob's feature


# --- trivia and integrity ----------------------------------------------------------------------


def test_trivia(world: World) -> None:
    items = world.get("/trivia").json()
    assert len(items) == 1 and set(items[0]) == TRIVIA_ITEM
    item = items[0]
    assert item["score_v3_sub_session_id"] == world.arc_of("trivia").id
    assert item["reason"] == "no_work"
    assert item["title"] == "What does the --frozen flag of uv sync do?"
    assert world.get("/trivia", window="daily").json() == []


def test_trivia_trend(world: World) -> None:
    body = world.get("/trivia/trend", periods=4).json()
    assert body["window"] == "weekly"
    assert [p["total"] for p in body["periods"]] == [0, 0, 0, 1]
    assert body["periods"][-1]["by_reason"]["no_work"] == 1
    assert body["periods"][-1]["label"] == "2026-W47"
    assert len(world.get("/trivia/trend").json()["periods"]) == 8
    assert world.get("/trivia/trend", periods=53).status_code == 400


def test_tokens_trend(world: World) -> None:
    body = world.get("/tokens/trend", periods=4).json()
    points = body["periods"]
    assert [p["label"] for p in points] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    tokens = world.get("/tokens").json()
    last = points[-1]
    assert (last["crush_weight"], last["tpt"], last["tet"]) == (
        tokens["crush_weight"],
        tokens["tpt"],
        tokens["tet"],
    )
    assert last["breakdown"] == tokens["breakdown"]
    assert (last["crushed_count"], last["total_count"]) == (1, 2)
    assert world.get("/tokens/trend", periods=0).status_code == 400


def test_integrity(world: World) -> None:
    assert world.get("/integrity").json() == {"by_kind": []}
    body = world.get("/integrity", window="monthly").json()
    assert body == {
        "by_kind": [
            {"kind": "auto_retry_storm", "count": 1},
            {"kind": "tiny_prompt_burst", "count": 1},
            {"kind": "self_grading", "count": 1},
        ]
    }


def test_integrity_trend(world: World) -> None:
    body = world.get(
        "/integrity/trend",
        **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-23T00:00:00Z", "period": "week"},
    ).json()
    assert [b["total"] for b in body["buckets"]] == [0, 1, 2, 0]
    assert body["buckets"][0]["start"].startswith("2026-10-26")
    kinds = {k["kind"]: k["count"] for k in body["buckets"][2]["by_kind"]}
    assert kinds == {
        "auto_retry_storm": 1,
        "tiny_prompt_burst": 1,
        "arc_splitting": 0,
        "self_grading": 0,
    }
    daily = world.get(
        "/integrity/trend",
        **{"from": "2026-11-09T00:00:00Z", "to": "2026-11-11T00:00:00Z", "period": "day"},
    ).json()
    assert [b["total"] for b in daily["buckets"]] == [1, 1]
    for params in (
        {"period": "month"},
        {"from": "x"},
        {"from": "2026-11-09T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
    ):
        assert world.get("/integrity/trend", **params).status_code == 400


def test_integrity_recent(world: World) -> None:
    rows = world.get("/integrity/recent", limit=2).json()
    assert [r["kind"] for r in rows] == ["tiny_prompt_burst", "auto_retry_storm"]
    assert rows[0]["score_v3_sub_session_id"] == world.arc_of("tiny").id
    assert rows[0]["blocking"] is False and rows[1]["blocking"] is True
    recent = world.get("/integrity/recent", **{"from": "2026-11-09T12:00:00Z"}).json()
    assert [r["kind"] for r in recent] == ["tiny_prompt_burst"]
    assert world.get("/integrity/recent", limit=501).status_code == 400
    assert world.get("/integrity/recent", **{"from": "2026-13-01"}).status_code == 400


# --- sub-session management --------------------------------------------------------------------


def test_patch_sets_user_edited_and_nothing_overwrites_it(fresh: World) -> None:
    arc = fresh.arc_of("feature")
    r = fresh.send(
        "PATCH",
        f"/sub-sessions/{arc.id}",
        json={"title": "Fix auth flow timeout", "summary": "Shipped a retry."},
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["title"], body["summary"], body["title_source"]) == (
        "Fix auth flow timeout",
        "Shipped a retry.",
        "user_edited",
    )
    assert body["claude_session_id"] == fresh.stories["feature"] and body["status"] == "scored"
    # the sessionizer rebuilds the session's arcs (upsert_arc), a backfill re-judges them
    # (save_verdict): neither touches the developer's title or summary
    patched_at = fresh.arc_of("feature").updated_at
    fresh.sessionize(since=MONDAY)
    assert fresh.arc_of("feature").updated_at > patched_at
    r = fresh.send(
        "POST",
        "/insight/backfill",
        who="admin",
        json={"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"},
    )
    assert r.json()["rejudged"] == 4
    with fresh.sessions() as s:
        history = s.scalars(
            select(ArcVerdictRow.is_current).where(ArcVerdictRow.sub_session_id == arc.id)
        ).all()
    assert sorted(history) == [False, True]
    row = fresh.arc_of("feature")
    assert (row.title, row.summary, row.title_source) == (
        "Fix auth flow timeout",
        "Shipped a retry.",
        "user_edited",
    )
    # a title-only patch keeps the summary
    r = fresh.send("PATCH", f"/sub-sessions/{arc.id}", json={"title": "Auth timeout"})
    assert (r.json()["title"], r.json()["summary"]) == ("Auth timeout", "Shipped a retry.")
    for bad in ({}, {"title": ""}, {"title": "   "}, {"title": "x" * 301}):
        assert fresh.send("PATCH", f"/sub-sessions/{arc.id}", json=bad).status_code == 400


def test_realtime_sub_sessions(world: World) -> None:
    rows = world.get("/realtime/sub-sessions").json()
    assert len(rows) == 7  # six scored and the open one
    assert rows[0]["status"] == "open" and rows[0]["claude_session_id"] == world.stories["open"]
    starts = [r["started_at"] for r in rows]
    assert starts == sorted(starts, reverse=True)
    recent = world.get("/realtime/sub-sessions", **{"from": "2026-11-17T00:00:00Z"}).json()
    assert [r["claude_session_id"] for r in recent] == [world.stories["open"]]
    assert len(world.get("/realtime/sub-sessions", limit=3).json()) == 3
    assert world.get("/realtime/sub-sessions", limit=1001).status_code == 400
    assert world.get("/realtime/sub-sessions", **{"from": "tomorrow"}).status_code == 400


def test_toggle_round_trip(fresh: World) -> None:
    assert fresh.get("/toggle").json() == {"pref": None}
    for pref in ("v3", "v2", None):
        r = fresh.send("PUT", "/toggle", json={"pref": pref})
        assert r.status_code == 200 and r.json() == {"pref": pref}
        assert fresh.get("/toggle").json() == {"pref": pref}
    assert fresh.send("PUT", "/toggle", json={"pref": "v4"}).status_code == 400
    assert fresh.get("/toggle", who="bob").json() == {"pref": None}


def test_openapi_documents_every_route(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    mine = {
        "/score",
        "/speed",
        "/speed/sessions",
        "/sessions/{sub_session_id}/prompts",
        "/tokens",
        "/tokens/trend",
        "/skill",
        "/insight/sessions",
        "/insight/summary",
        "/insight/sessions_range",
        "/insight/backfill",
        "/trivia",
        "/trivia/trend",
        "/integrity",
        "/integrity/trend",
        "/integrity/recent",
        "/sub-sessions/{sub_session_id}",
        "/realtime/sub-sessions",
        "/toggle",
    }
    paths = {p: spec["paths"][p] for p in (f"/v1/score_v3{q}" for q in mine)}
    for path, ops in paths.items():
        for method, op in ops.items():
            assert "schema" in op["responses"]["200"]["content"]["application/json"], path
            assert {"400", "401", "404"} <= set(op["responses"]), (method, path)
    assert "403" in paths["/v1/score_v3/insight/backfill"]["post"]["responses"]


@pytest.mark.postgres
def test_on_postgres(pg_world: World) -> None:
    w = pg_world
    lean = w.reader.arcs(w.alice, MONDAY - timedelta(days=60))
    orm = alice_arcs(w)
    assert lean == [dataclasses.replace(a, flags=tuple(sorted(a.flags))) for a in orm]
    body = w.get("/score").json()
    assert (body["prism_score"], body["crushed_count"], body["total_count"]) == (50.0, 1, 2)
    assert body["sparkline"] == [None, 0.0, 50.0, 50.0]
    assert w.get("/speed").json()["cspw"] == 0.5
    assert len(w.get("/speed/sessions").json()) == 3
    assert len(w.get("/integrity", window="monthly").json()["by_kind"]) == 3
    assert [i["reason"] for i in w.get("/trivia").json()] == ["no_work"]
    assert len(w.get("/insight/sessions").json()) == 6
    assert w.get("/insight/summary").json()["total"] == 3
    trend = w.get(
        "/integrity/trend",
        **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-23T00:00:00Z", "period": "week"},
    )
    assert [b["total"] for b in trend.json()["buckets"]] == [0, 1, 2, 0]
    arc = w.arc_of("feature")
    assert len(w.get(f"/sessions/{arc.id}/prompts").json()["prompts"]) == 2
    r = w.send("PATCH", f"/sub-sessions/{arc.id}", json={"title": "Renamed"})
    assert r.json()["title_source"] == "user_edited"
    r = w.send(
        "POST",
        "/insight/backfill",
        who="admin",
        json={"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"},
    )
    assert r.json()["rejudged"] == 4
    assert w.arc_of("feature").title == "Renamed"
    assert w.send("PUT", "/toggle", json={"pref": "v2"}).json() == {"pref": "v2"}
    assert w.get("/toggle").json() == {"pref": "v2"}
