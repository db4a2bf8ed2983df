"""/v1/keys and the error shape, in-process through the ASGI app."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from prism import __version__

from .conftest import Env

pytestmark = pytest.mark.anyio


def error_of(response: Any, status: int) -> str:
    """Assert the one error shape and return its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    return body["message"]


async def create(
    client: httpx.AsyncClient, env: Env, developer: str, *, scope: str = "developer", **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        "/v1/keys",
        json={"developer": developer, "scope": scope, **extra},
        headers=env.auth(env.admin),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_admin_creates_a_key_whose_secret_is_shown_once(
    client: httpx.AsyncClient, env: Env
) -> None:
    made = await create(client, env, "  Carol@Acme.TEST ", name="carol laptop")
    assert set(made) == {"id", "key", "developer", "org", "scope"}
    assert made["key"].startswith("gck_")
    assert (made["developer"], made["org"], made["scope"]) == (
        "carol@acme.test",
        "acme",
        "developer",
    )
    secret = made["key"]

    listed = await client.get("/v1/keys", headers=env.auth(env.admin))
    assert listed.status_code == 200
    assert secret not in listed.text and secret[12:] not in listed.text
    assert hashlib.sha256(secret.encode()).hexdigest() not in listed.text
    (item,) = [k for k in listed.json()["keys"] if k["id"] == made["id"]]
    assert "key" not in item
    assert item["prefix"] == secret[:12]
    assert (item["developer"], item["scope"], item["name"]) == (
        "carol@acme.test",
        "developer",
        "carol laptop",
    )
    assert item["revoked_at"] is None
    assert datetime.fromisoformat(item["created_at"]).utcoffset() == timedelta(0)  # UTC, explicit

    # the new key works and belongs to its developer
    mine = await client.get("/v1/keys", headers=env.auth(secret))
    assert mine.status_code == 200
    assert [k["id"] for k in mine.json()["keys"]] == [made["id"]]
    assert secret not in mine.text


async def test_admin_can_create_admin_keys(client: httpx.AsyncClient, env: Env) -> None:
    made = await create(client, env, "dana@acme.test", scope="admin")
    assert made["scope"] == "admin"
    listed = await client.get("/v1/keys", headers=env.auth(made["key"]))
    assert listed.status_code == 200
    assert len(listed.json()["keys"]) > 1  # an admin sees the org's keys


async def test_a_developer_key_cannot_create_keys(client: httpx.AsyncClient, env: Env) -> None:
    r = await client.post(
        "/v1/keys", json={"developer": "eve@acme.test"}, headers=env.auth(env.dev_a)
    )
    error_of(r, 403)
    assert all(k.developer != "eve@acme.test" for k in env.keys.list_keys())


async def test_an_admin_cannot_create_keys_in_another_org(
    client: httpx.AsyncClient, env: Env
) -> None:
    r = await client.post(
        "/v1/keys",
        json={"developer": "mallory@globex.test", "org": "globex"},
        headers=env.auth(env.admin),
    )
    error_of(r, 403)
    ok = await client.post(
        "/v1/keys",
        json={"developer": "frank@acme.test", "org": "acme"},
        headers=env.auth(env.admin),
    )
    assert ok.status_code == 201


async def test_lists_are_scoped(client: httpx.AsyncClient, env: Env) -> None:
    a = (await client.get("/v1/keys", headers=env.auth(env.dev_a))).json()["keys"]
    assert {k["developer"] for k in a} == {"alice@acme.test"}
    admin = (await client.get("/v1/keys", headers=env.auth(env.admin))).json()["keys"]
    assert {"alice@acme.test", "bob@acme.test", "admin@acme.test"} <= {
        k["developer"] for k in admin
    }
    assert all(k["org"] == "acme" for k in admin)
    other = (await client.get("/v1/keys", headers=env.auth(env.other_admin))).json()["keys"]
    assert {k["developer"] for k in other} == {"root@globex.test"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic Z2NrX3g6", "Bearer gck_not-a-real-key", "gck_abc"],
)
async def test_missing_or_unknown_keys_are_401(
    client: httpx.AsyncClient, env: Env, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = await client.get("/v1/keys", headers=headers)
    assert error_of(r, 401) == "Invalid API key"


async def test_a_revoked_key_gets_401_on_the_next_request(
    client: httpx.AsyncClient, env: Env
) -> None:
    made = await create(client, env, "gina@acme.test")
    assert (await client.get("/v1/keys", headers=env.auth(made["key"]))).status_code == 200
    r = await client.delete(f"/v1/keys/{made['id']}", headers=env.auth(env.admin))
    assert r.status_code == 200
    assert r.json()["id"] == made["id"] and r.json()["revoked_at"] is not None
    assert "key" not in r.json()
    error_of(await client.get("/v1/keys", headers=env.auth(made["key"])), 401)
    error_of(await client.get("/v1/telemetry/logs", headers=env.auth(made["key"])), 401)


async def test_a_developer_can_revoke_their_own_key(client: httpx.AsyncClient, env: Env) -> None:
    made = await create(client, env, "hank@acme.test")
    spare = await create(client, env, "hank@acme.test")
    r = await client.delete(f"/v1/keys/{made['id']}", headers=env.auth(spare["key"]))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    error_of(await client.get("/v1/keys", headers=env.auth(made["key"])), 401)
    assert (await client.get("/v1/keys", headers=env.auth(spare["key"]))).status_code == 200


async def test_a_developer_cannot_revoke_another_developers_key(
    client: httpx.AsyncClient, env: Env
) -> None:
    victim = await create(client, env, "ivy@acme.test")
    error_of(await client.delete(f"/v1/keys/{victim['id']}", headers=env.auth(env.dev_a)), 404)
    assert (await client.get("/v1/keys", headers=env.auth(victim["key"]))).status_code == 200


async def test_an_admin_cannot_revoke_another_orgs_key(client: httpx.AsyncClient, env: Env) -> None:
    other_key_id = env.other.key_id
    error_of(await client.delete(f"/v1/keys/{other_key_id}", headers=env.auth(env.admin)), 404)
    assert (await client.get("/v1/keys", headers=env.auth(env.other_admin))).status_code == 200
    error_of(await client.delete("/v1/keys/no-such-key", headers=env.auth(env.admin)), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"developer": ""},
        {"developer": "x" * 321},
        {"developer": "jo@acme.test", "scope": "root"},
        {"developer": 5},
        {"developer": ["a"]},
        {"developer": "jo@acme.test", "name": "n" * 201},
        {"developer": "   "},
    ],
)
async def test_invalid_key_requests_are_400_not_422(
    client: httpx.AsyncClient, env: Env, body: dict[str, Any]
) -> None:
    before = len(env.keys.list_keys())
    r = await client.post("/v1/keys", json=body, headers=env.auth(env.admin))
    error_of(r, 400)
    assert len(env.keys.list_keys()) == before


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient, env: Env) -> None:
    r = await client.post(
        "/v1/keys",
        content=b"developer=jo",
        headers={**env.auth(env.admin), "Content-Type": "application/json"},
    )
    error_of(r, 400)


async def test_unknown_route_and_wrong_method_use_the_error_shape(
    client: httpx.AsyncClient, env: Env
) -> None:
    assert error_of(await client.get("/v1/nope", headers=env.auth(env.admin)), 404) == "Not found"
    assert error_of(await client.get("/v1/nope"), 404) == "Not found"
    msg = error_of(await client.put("/v1/keys", headers=env.auth(env.admin)), 405)
    assert msg == "Method not allowed"
    error_of(await client.post("/v1/telemetry/logs", headers=env.auth(env.admin)), 405)


@pytest.mark.parametrize("path", ["/healthz", "/"])
async def test_health(client: httpx.AsyncClient, env: Env, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["service"] == "engine" and body["version"] == __version__
    assert body["checks"]["store"] == "ok" and body["checks"]["lake"] == "ok"
    assert body["checks"]["queue"]["status"] == "ok"


async def test_openapi_documents_the_key_routes(client: httpx.AsyncClient, env: Env) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/keys", "/v1/keys/{key_id}", "/v1/telemetry/logs"} <= set(spec["paths"])
