"""The whole path across processes under `prism serve`: ingest acknowledges an export, the
worker's lake flush appends `telemetry.received`, the engine streams it over SSE, the worker's
sender delivers it to a webhook on loopback, and /metrics adds up every process's counters."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.api.conftest import events_payload
from tests.support.live_app import read_events
from tests.support.prism_server import PrismServer, wait_for
from tests.webhooks.conftest import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    s = PrismServer(
        tmp_path_factory.mktemp("events-e2e"),
        env={"PRISM_WEBHOOK_ALLOW_PRIVATE": "true", "PRISM_WEBHOOK_POLL_SECONDS": "0.05"},
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_export_to_sse_webhook_and_metrics(server: PrismServer) -> None:
    dev = server.create_key("sse@example.com")["key"]
    receiver = Receiver().start()
    try:
        hook = server.api(
            "POST",
            "/v1/webhooks",
            dev,
            json={"url": receiver.url, "event_types": ["telemetry.received"]},
        )
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        now = datetime.now(UTC)
        body = events_payload([("user_prompt", now, "e2e", 0), ("api_request", now, "e2e", 1)])
        with (
            httpx.Client(timeout=60) as client,
            client.stream(
                "GET",
                server.api_url + "/v1/events/stream",
                headers={"Authorization": f"Bearer {dev}"},
            ) as sse,
        ):
            assert sse.status_code == 200
            assert sse.headers["x-ratelimit-limit"] == "1200"
            r = client.post(
                server.ingest_url + "/v1/logs",
                content=body,
                headers={"Authorization": f"Bearer {dev}", "Content-Type": "application/json"},
            )
            assert r.status_code == 200 and "x-ratelimit-remaining" in r.headers
            (ev,) = read_events(sse.iter_lines(), 1)
        assert ev.type == "telemetry.received"
        assert ev.data["data"]["logs"] == 2 and ev.data["data"]["records"] == 2

        (got,) = receiver.wait_for(1, timeout=60)
        ts = got.headers["X-Prism-Timestamp"]
        mac = hmac.new(secret.encode(), ts.encode() + b"." + got.body, hashlib.sha256)
        assert got.headers["X-Prism-Signature"] == "v1=" + mac.hexdigest()
        assert json.loads(got.body)["id"] == str(ev.id)
    finally:
        receiver.stop()

    def counted() -> str | None:
        text = httpx.get(server.api_url + "/metrics", timeout=30).text
        return (
            text
            if 'prism_ingest_records_total{signal="logs",transport="http"} 2.0' in text
            else None
        )

    text = wait_for(counted, what="ingest's counter on the engine's /metrics")
    assert 'prism_lake_records_total{table="logs"} 2.0' in text  # counted by the worker
    assert 'prism_webhook_attempts_total{outcome="success"} 1.0' in text  # the worker too
    assert "prism_http_request_duration_seconds_bucket" in text
    ingest_text = httpx.get(server.ingest_url + "/metrics", timeout=30).text
    assert "prism_queue_batches" in ingest_text
