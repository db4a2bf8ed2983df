"""Failures under load in scale mode: two ingest processes and two workers on PostgreSQL, NATS
JetStream and S3 (moto).

1. One ingest and one worker are SIGKILLed mid-way and restarted: every acknowledged batch is
   in the lake exactly once and every arc was judged exactly once (one ArcVerdictRow per arc),
   although two sessionizers ran side by side and one died mid-way.
2. nats-server is stopped mid-load and started again: while it is down ingest answers 503 with
   Retry-After, nothing acknowledged is lost, and ingest recovers without a restart.

Batches are whole agent sessions in the past (so their arcs close at once), sent by exporters
that retry a refused or broken request on the other ingest, as a load balancer would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from prism.agents.claude_code_otlp import logs_request
from prism.lake.query import Lake
from prism.store.models import ArcVerdictRow, ScoreSession, SessionizeCursor, SubSession
from tests.scale.conftest import ScaleParts, nats_up, start_nats, stop_nats
from tests.scale.roles import Role
from tests.support.prism_server import REPO, wait_for
from tests.unit import scenarios as sc

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEVELOPERS = 4
SESSIONS_PER_DEVELOPER = 30
STORIES = (sc.feature_crushed, sc.bug_failed, sc.two_goals, sc.question_trivia)
SENDERS = 8


@dataclass(frozen=True)
class Export:
    key: str
    session_id: str
    events: int
    payload: bytes


def make_exports(
    keys: list[str], *, days_ago: int = 0, sessions: int = SESSIONS_PER_DEVELOPER
) -> list[Export]:
    base = datetime.now(UTC) - timedelta(hours=3, days=days_ago)
    out = []
    for k, story in zip(range(sessions), itertools.cycle(STORIES), strict=False):
        for d, key in enumerate(keys):
            start = base - timedelta(minutes=40 * k + d)
            events = sc.event_dicts(story(start=start, developer_id=f"d{d}"))
            payload = logs_request(events).SerializeToString()
            out.append(Export(key, events[0]["session_id"], len(events), payload))
    return out


def create_key(env: dict[str, str], data_dir: Path, email: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", "keys", "create", "--developer", email, "--json"],
        env={**env, "PRISM_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    key: str = json.loads(result.stdout)["key"]
    return key


class Exporters:
    """Exporters that send every batch until it is acknowledged, on whichever ingest is up."""

    def __init__(self, ingests: list[Role]) -> None:
        self.ingests = ingests
        self.up = [True] * len(ingests)
        self.acked: set[str] = set()
        self.refused = 0
        self.retry_after: set[str] = set()
        self.broken = 0
        self.backoff_s = 0.0

    async def send(
        self, exports: list[Export], on_ack: Callable[[int], None] | None = None
    ) -> None:
        queue = list(reversed(exports))
        turn = itertools.count()
        async with httpx.AsyncClient(timeout=30) as client:

            async def sender() -> None:
                while queue:
                    export = queue.pop()
                    while True:
                        live = [i for i, ok in enumerate(self.up) if ok]
                        ingest = self.ingests[live[next(turn) % len(live)]]
                        try:
                            r = await client.post(
                                f"{ingest.url}/v1/logs",
                                content=export.payload,
                                headers={
                                    "Authorization": f"Bearer {export.key}",
                                    "Content-Type": "application/x-protobuf",
                                },
                            )
                        except httpx.TransportError:
                            self.broken += 1
                            continue
                        if r.status_code == 200:
                            break
                        assert r.status_code in (429, 503), r.text
                        self.refused += 1
                        self.retry_after.add(r.headers.get("retry-after", ""))
                        if self.backoff_s:  # pacing, as an exporter backs off
                            await asyncio.sleep(self.backoff_s)
                    self.acked.add(export.session_id)
                    if on_ack is not None:
                        on_ack(len(self.acked))

            await asyncio.gather(*(sender() for _ in range(SENDERS)))


@dataclass
class Cluster:
    ingests: list[Role]
    workers: list[Role]
    keys: list[str]
    lake: Lake


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, scale_parts: ScaleParts) -> Iterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("cluster")
    env = scale_parts.env(PRISM_RATE_LIMIT_ENABLED="false")
    # All four start at once against a fresh database: migrations must serialize themselves.
    ingests = [Role("ingest", tmp_path / f"ingest{i}", env, f"ingest{i}") for i in range(2)]
    workers = [Role("worker", tmp_path / f"worker{i}", env, f"worker{i}") for i in range(2)]
    for role in (*ingests, *workers):
        role.start()
    try:
        for ingest in ingests:
            ingest.wait_healthy()
        keys = [create_key(env, tmp_path, f"load{d}@example.com") for d in range(DEVELOPERS)]
        yield Cluster(ingests, workers, keys, Lake(scale_parts.storage()))  # type: ignore[arg-type]
    finally:
        for role in (*ingests, *workers):
            role.terminate()
        for role in (*ingests, *workers):
            role.stop()


def lake_sessions(lake: Lake) -> dict[str, tuple[int, int]]:
    """Per agent session: (rows, distinct event sequences) in the lake."""
    rows = lake.sql(
        "SELECT session_id, COUNT(*) AS n, COUNT(DISTINCT event_sequence) AS d "
        "FROM events GROUP BY session_id",
        {},
    ).to_pylist()
    return {r["session_id"]: (r["n"], r["d"]) for r in rows}


def wait_stored(lake: Lake, exports: list[Export]) -> None:
    """Every export's session is in the lake with each record exactly once."""
    expected = {e.session_id: (e.events, e.events) for e in exports}

    def stored() -> bool:
        got = lake_sessions(lake)
        return all(got.get(sid) is not None for sid in expected)

    wait_for(stored, timeout=90, interval=0.5, what="every acknowledged batch in the lake")
    got = lake_sessions(lake)
    assert {sid: got[sid] for sid in expected} == expected


def test_sigkill_of_an_ingest_and_a_worker_loses_and_duplicates_nothing(
    cluster: Cluster, scale_parts: ScaleParts
) -> None:
    ingests, workers = cluster.ingests, cluster.workers
    exports = make_exports(cluster.keys)
    third = len(exports) // 3
    exporters = Exporters(ingests)
    killed: list[str] = []

    def kill_midway(acked: int) -> None:
        if acked >= third // 2 and not killed:
            exporters.up[0] = False
            ingests[0].kill()
            workers[0].kill()
            killed.append("ingest0+worker0")

    async def load() -> None:
        await exporters.send(exports[:third], on_ack=kill_midway)
        restart = asyncio.create_task(asyncio.to_thread(restart_a))
        await exporters.send(exports[third : 2 * third])
        await restart
        exporters.up[0] = True
        await exporters.send(exports[2 * third :])

    def restart_a() -> None:
        workers[0].start()
        ingests[0].start().wait_healthy()

    asyncio.run(load())
    assert killed and len(exporters.acked) == len(exports)
    assert exporters.broken > 0  # the kill really cut requests off
    wait_stored(cluster.lake, exports)  # acknowledged == stored, no record twice
    assert len(lake_sessions(cluster.lake)) == len(exports)

    engine = scale_parts.engine()

    def all_judged() -> bool:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            dirty = conn.execute(
                select(func.count())
                .select_from(SessionizeCursor)
                .where(SessionizeCursor.dirty_since.is_not(None))
            ).scalar()
            sessions = conn.execute(select(func.count()).select_from(ScoreSession)).scalar()
            expected = len(exports)
            unscored = conn.execute(
                select(func.count()).select_from(SubSession).where(SubSession.status != "scored")
            ).scalar()
        return dirty == 0 and sessions == expected and unscored == 0

    wait_for(all_judged, timeout=120, interval=0.5, what="every arc to be judged")
    with engine.connect() as conn:  # type: ignore[attr-defined]
        per_arc = dict(
            conn.execute(
                select(SubSession.id, func.count(ArcVerdictRow.id))
                .join(ArcVerdictRow, ArcVerdictRow.sub_session_id == SubSession.id, isouter=True)
                .group_by(SubSession.id)
            ).all()
        )
    assert per_arc and set(per_arc.values()) == {1}, {k: v for k, v in per_arc.items() if v != 1}
    for worker in workers:
        assert "sessionizer run failed" not in worker.log(), worker.log()[-3000:]


def test_nats_restart_mid_load_answers_503_then_recovers_by_itself(cluster: Cluster) -> None:
    exports = make_exports(cluster.keys, days_ago=3, sessions=12)
    exporters = Exporters(cluster.ingests)
    exporters.backoff_s = 0.05
    third = len(exports) // 3
    stopped: list[bool] = []

    def stop_midway(acked: int) -> None:
        if acked >= third and not stopped:
            stopped.append(True)
            asyncio.get_running_loop().run_in_executor(None, stop_nats)

    async def load() -> None:
        sending = asyncio.create_task(exporters.send(exports, on_ack=stop_midway))
        # Restart NATS once ingest has refused for a while; the same ingest processes go on.
        await asyncio.to_thread(
            wait_for, lambda: exporters.refused >= 20, timeout=60, what="503s while NATS is down"
        )
        await asyncio.to_thread(start_nats)
        await sending

    try:
        asyncio.run(load())
    finally:
        if not nats_up():
            start_nats()
    assert stopped and exporters.refused >= 20
    assert exporters.retry_after == {"5"}  # every refusal told the exporter when to retry
    assert len(exporters.acked) == len(exports)
    wait_stored(cluster.lake, exports)  # nothing acknowledged was lost
