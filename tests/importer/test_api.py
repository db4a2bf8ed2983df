"""POST /v1/import/transcripts and GET /v1/usage/{report} through the engine app, in-process."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from prism.api.app import create_engine_app
from prism.importer.runner import encode_body
from prism.importer.transcripts import describe
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.settings import load_settings
from prism.store.db import make_engine, migrate, session_factory
from prism.store.keys import KeyStore
from tests.importer.conftest import CC197, PUBLIC, require_samples

pytestmark = pytest.mark.anyio
SESSION = "b7ab493d-1805-482a-bfef-540dd391eb0d"


@dataclass
class Api:
    app: FastAPI
    admin: str
    alice: str
    bob: str

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("engine")
    settings = load_settings(data_dir=root)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    keys = KeyStore(session_factory(engine))
    admin = keys.create_key(developer="admin@acme.test", org="acme", scope="admin").key
    alice = keys.create_key(developer="alice@acme.test", org="acme").key
    bob = keys.create_key(developer="bob@acme.test", org="acme").key
    app = create_engine_app(settings, keys_store=keys, lake=Lake(LocalStorage(settings.lake_root)))
    try:
        yield Api(app, admin, alice, bob)
    finally:
        engine.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as c:
        yield c


def body_of(*files: tuple[str, Path]) -> bytes:
    root = Path("/projects")
    return encode_body([(describe(root, root / rel), p.read_bytes()) for rel, p in files])


async def test_import_is_attributed_to_the_keys_owner_and_idempotent(
    client: httpx.AsyncClient, api: Api
) -> None:
    require_samples()
    body = body_of(("-home-user-project/" + SESSION + ".jsonl", CC197 / "transcript.jsonl"))
    headers = {
        **api.auth(api.alice),
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }
    r = await client.post("/v1/import/transcripts", content=gzip.compress(body), headers=headers)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["files"] == 1 and first["lines"] == 11 and first["records"] == 11
    assert first["events"]["api_request"] == 2 and first["events_written"] > 0
    assert first["skipped_lines"] == {}
    again = (
        await client.post("/v1/import/transcripts", content=gzip.compress(body), headers=headers)
    ).json()
    assert again["events_written"] == 0
    logs = (
        await client.get("/v1/telemetry/logs", params={"limit": 200}, headers=api.auth(api.alice))
    ).json()["logs"]
    assert len(logs) == first["events_written"]
    assert {row["session_id"] for row in logs} == {SESSION}
    bob_logs = (await client.get("/v1/telemetry/logs", headers=api.auth(api.bob))).json()["logs"]
    assert bob_logs == []


async def test_import_counts_bad_lines_and_needs_a_key(client: httpx.AsyncClient, api: Api) -> None:
    require_samples()
    raw = (PUBLIC / "spotter-cc2.1.38-short.jsonl").read_bytes() + b'{"type":"user","mess\n'
    body = b'{"type":"prism-file","path":"-p/s1.jsonl"}\n' + raw
    r = await client.post("/v1/import/transcripts", content=body, headers=api.auth(api.bob))
    assert r.status_code == 200
    assert r.json()["skipped_lines"] == {"corrupt_json": 1}
    for junk, skipped in ((b"data=", {"corrupt_json": 1}), (b"", {}), (b"\n", {"blank": 1})):
        r = await client.post("/v1/import/transcripts", content=junk, headers=api.auth(api.bob))
        assert r.status_code == 200, junk
        assert (r.json()["skipped_lines"], r.json()["events_written"]) == (skipped, 0)
    r = await client.post("/v1/import/transcripts", content=body)
    assert r.status_code == 401
    assert set(r.json()) == {"code", "message"}


async def test_usage_reports_and_who_may_read_them(client: httpx.AsyncClient, api: Api) -> None:
    require_samples()
    body = body_of(("-p/" + SESSION + ".jsonl", CC197 / "transcript.jsonl"))
    await client.post("/v1/import/transcripts", content=body, headers=api.auth(api.alice))
    r = await client.get("/v1/usage/daily", headers=api.auth(api.alice))
    assert r.status_code == 200
    daily = r.json()
    (day,) = daily["daily"]
    assert day["date"] == "2026-11-22" and day["requests"] == 2
    assert day["totalCost"] == pytest.approx(0.0403)
    assert day["modelBreakdowns"][0]["modelName"] == "claude-opus-4-8"
    for kind, key in (("weekly", "weekly"), ("monthly", "monthly"), ("session", "sessions")):
        r = await client.get(f"/v1/usage/{kind}", headers=api.auth(api.alice))
        assert r.status_code == 200 and len(r.json()[key]) == 1, kind
    models = (await client.get("/v1/usage/model", headers=api.auth(api.alice))).json()
    assert models["models"][0]["modelName"] == "claude-opus-4-8"
    # another developer's usage: admins only (a developer gets 404, as for telemetry)
    as_bob = await client.get(
        "/v1/usage/daily", params={"developer": "alice@acme.test"}, headers=api.auth(api.bob)
    )
    assert as_bob.status_code == 404
    as_admin = await client.get(
        "/v1/usage/daily", params={"developer": "alice@acme.test"}, headers=api.auth(api.admin)
    )
    assert as_admin.json()["totals"] == daily["totals"]
    own = (await client.get("/v1/usage/daily", headers=api.auth(api.admin))).json()
    assert own["daily"] == []
    # a window without it, and bad parameters
    empty = await client.get(
        "/v1/usage/daily", params={"since": "2026-11-23"}, headers=api.auth(api.alice)
    )
    assert empty.json()["daily"] == []
    for params in (
        {"timezone": "Mars/Olympus"},
        {"since": "yesterday"},
        {"since": "2026-02-02", "until": "2026-01-01"},
    ):
        bad = await client.get("/v1/usage/daily", params=params, headers=api.auth(api.alice))
        assert bad.status_code == 400, params
    assert (await client.get("/v1/usage/hourly", headers=api.auth(api.alice))).status_code == 400
