"""Token-bucket rate limits per key: headers on every response, 429 at the limit with
Retry-After, budgets by key scope, and ingest's own budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from prism.api.ratelimit import TokenBuckets
from prism.queue.local import LocalQueue
from prism.receive.http import create_ingest_app
from prism.receive.service import IngestService
from tests.support.live_app import Store, make_store

pytestmark = pytest.mark.anyio
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = make_store(
        tmp_path,
        rate_limit_developer_per_minute=5,
        rate_limit_admin_per_minute=8,
        rate_limit_anonymous_per_minute=3,
        rate_limit_ingest_per_minute=4,
    )
    s.key("alice")
    s.key("bob")
    s.key("root", admin=True)
    return s


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=store.engine_app()), base_url="http://engine"
    ) as c:
        yield c


def auth(store: Store, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.secrets[who]}"}


async def test_headers_count_down_then_429_with_retry_after(
    api: httpx.AsyncClient, store: Store
) -> None:
    remaining = []
    for _ in range(5):
        r = await api.get("/v1/keys", headers=auth(store, "alice"))
        assert r.status_code == 200
        assert r.headers["x-ratelimit-limit"] == "5"
        remaining.append(int(r.headers["x-ratelimit-remaining"]))
        assert int(r.headers["x-ratelimit-reset"]) >= 1
    assert remaining == [4, 3, 2, 1, 0]
    r = await api.get("/v1/keys", headers=auth(store, "alice"))
    assert r.status_code == 429
    assert r.json()["code"] == 429 and "Rate limit exceeded" in r.json()["message"]
    assert set(r.json()) == {"code", "message"}
    assert 1 <= int(r.headers["retry-after"]) <= 12  # one token comes back every 12 s
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) <= 60
    # per key: bob's bucket is untouched; the admin scope has its own, larger budget
    r = await api.get("/v1/keys", headers=auth(store, "bob"))
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "4"
    r = await api.get("/v1/keys", headers=auth(store, "root"))
    assert r.headers["x-ratelimit-limit"] == "8" and r.headers["x-ratelimit-remaining"] == "7"


async def test_every_response_carries_the_headers_errors_included(
    api: httpx.AsyncClient, store: Store
) -> None:
    responses = [
        await api.get("/v1/nope", headers=auth(store, "bob")),  # 404
        await api.put("/v1/keys", headers=auth(store, "bob")),  # 405
        await api.get("/v1/telemetry/logs?limit=abc", headers=auth(store, "bob")),  # 400
        await api.post("/v1/keys", json={}, headers=auth(store, "bob")),  # 400
    ]
    assert [r.status_code for r in responses] == [404, 405, 400, 400]
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["4", "3", "2", "1"]
    for r in responses:
        assert set(r.json()) == {"code", "message"}
        assert all(h in r.headers for h in HEADERS)


async def test_requests_without_a_valid_key_share_a_bucket_per_address(
    api: httpx.AsyncClient,
) -> None:
    codes = []
    for headers in ({}, {"Authorization": "Bearer gck_nope"}, {}, {}):
        r = await api.get("/v1/keys", headers=headers)
        codes.append(r.status_code)
        assert r.headers["x-ratelimit-limit"] == "3"
    assert codes == [401, 401, 401, 429]
    r = await api.get("/healthz")
    assert r.status_code == 429 and "retry-after" in r.headers


def test_buckets_refill_at_the_limit_per_minute() -> None:
    now = [0.0]
    buckets = TokenBuckets(clock=lambda: now[0], max_buckets=10)
    for left in (1, 0):
        assert buckets.take("k", 2).remaining == left
    denied = buckets.take("k", 2)
    assert not denied.allowed and denied.retry_after_s == 30  # 2/min: a token per 30 s
    now[0] = 30.0
    assert buckets.take("k", 2).allowed
    now[0] = 1000.0
    assert buckets.take("k", 2).remaining == 1  # refilled to full, never above
    for i in range(20):
        buckets.take(f"other{i}", 2)
    assert len(buckets) <= 10  # idle buckets are forgotten; memory stays bounded


async def test_ingest_has_its_own_budget(store: Store) -> None:
    queue = LocalQueue(store.settings.queue_path)
    app = create_ingest_app(store.settings, IngestService(keys=store.keys, queue=queue))
    body = orjson.dumps({"resourceLogs": []})
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as c:
            codes, remaining = [], []
            for _ in range(5):
                r = await c.post(
                    "/v1/logs",
                    content=body,
                    headers={**auth(store, "alice"), "Content-Type": "application/json"},
                )
                codes.append(r.status_code)
                remaining.append(r.headers["x-ratelimit-remaining"])
                assert r.headers["x-ratelimit-limit"] == "4"
            assert codes == [200, 200, 200, 200, 429]
            assert remaining == ["3", "2", "1", "0", "0"]
            assert "retry-after" in r.headers and r.json()["code"] == 429
            # ingest also serves its metrics and its own OpenAPI document
            spec = (await c.get("/openapi.json")).json()
            assert {"/v1/logs", "/v1/metrics", "/v1/traces"} <= set(spec["paths"])
            assert (await c.get("/docs")).status_code == 200
            text = (await c.get("/metrics")).text
            assert "prism_queue_batches" in text
    finally:
        await queue.close()
