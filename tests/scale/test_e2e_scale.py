"""The end-to-end suite again, in scale mode: real OTel SDK exporters -> `prism serve` on
PostgreSQL + NATS JetStream + S3 (moto) -> the engine's reads; then a scoring scenario through
the same path up to /v1/score_v3/score.

The OpenTelemetry tests are the ones of tests/e2e/test_otel_exporters.py, collected here a
second time: this module's `prism_server` fixture gives them a scale-mode server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from prism.agents.claude_code_otlp import logs_request
from prism.store.models import ArcVerdictRow, SubSession
from tests.e2e.test_otel_exporters import (  # noqa: F401  (collected again in scale mode)
    dev,
    new_developer,
    other,
    test_bad_key_export_is_reported_to_the_sdk,
    test_counter_intervals_sum_to_the_true_total,
    test_logs_arrive_typed_and_scoped_to_the_key_owner,
    test_span_tree_reads_back_with_parents_and_attributes,
)
from tests.scale.conftest import ScaleParts
from tests.support.prism_server import PrismServer, wait_for
from tests.unit import scenarios as sc

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def prism_server(
    tmp_path_factory: pytest.TempPathFactory, scale_parts: ScaleParts
) -> Iterator[PrismServer]:
    """`prism serve` with PRISM_DATABASE_URL + PRISM_QUEUE_URL + PRISM_LAKE_URL set."""
    server = PrismServer(tmp_path_factory.mktemp("scale"), env=scale_parts.env())
    server.start(timeout=90)
    try:
        yield server
    finally:
        server.stop()


def test_serve_runs_on_the_scale_parts(prism_server: PrismServer) -> None:
    """Nothing embedded was created: no SQLite store, no local queue, no local lake."""
    assert not (prism_server.data_dir / "prism.db").exists()
    assert not (prism_server.data_dir / "queue.db").exists()
    assert not (prism_server.data_dir / "lake").exists()
    health = httpx.get(f"{prism_server.ingest_url}/healthz", timeout=10).json()
    assert health["status"] == "ok"


def test_a_scored_story_reaches_the_score_endpoint(
    prism_server: PrismServer, scale_parts: ScaleParts
) -> None:
    """OTLP logs of a finished feature -> NATS -> S3 lake -> sessionizer/judge on PostgreSQL
    -> /v1/score_v3/score, with its one arc judged exactly once."""
    alice = new_developer(prism_server, "scale-scorer@example.com")
    start = datetime.now(UTC) - timedelta(minutes=45)  # closed: silent longer than the arc gap
    events = sc.event_dicts(sc.feature_crushed(start=start, developer_id="ignored"))
    payload = logs_request(events).SerializeToString()
    r = httpx.post(
        f"{prism_server.ingest_url}/v1/logs",
        content=payload,
        headers={
            "Authorization": f"Bearer {alice['key']}",
            "Content-Type": "application/x-protobuf",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text

    def scored() -> dict[str, object] | None:
        body: dict[str, object] = prism_server.api(
            "GET", "/v1/score_v3/score", alice["key"], params={"window": "monthly"}
        ).json()
        return body if body.get("total_count") else None

    body = wait_for(scored, timeout=60, what="the arc to be scored")
    assert (body["crushed_count"], body["total_count"], body["prism_score"]) == (1, 1, 100.0)
    rows = prism_server.telemetry(alice["key"], "logs")
    assert len(rows) == len(events)
    engine = scale_parts.engine()
    with engine.connect() as conn:  # type: ignore[attr-defined]
        arcs = conn.execute(
            select(SubSession.id).where(SubSession.developer_id == alice["developer_id"])
        ).all()
        verdicts = conn.execute(
            select(func.count())
            .select_from(ArcVerdictRow)
            .where(ArcVerdictRow.sub_session_id.in_([a.id for a in arcs]))
        ).scalar()
    assert len(arcs) == 1 and verdicts == 1
