"""/v1/telemetry/*: scoping to the key's owner, filters, paging and parameter errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import A_EVENTS, B_EVENTS, Env
from .test_keys_api import error_of

pytestmark = pytest.mark.anyio


async def logs(
    client: httpx.AsyncClient, secret: str, **params: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    r = await client.get(
        "/v1/telemetry/logs", params=params, headers={"Authorization": f"Bearer {secret}"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return body["logs"], body


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["prompt_id"] for r in rows]


A_IDS_NEWEST_FIRST = [f"{s}-{q}" for _, _, s, q in sorted(A_EVENTS, key=lambda e: e[1])][::-1]
B_IDS_NEWEST_FIRST = [f"{s}-{q}" for _, _, s, q in sorted(B_EVENTS, key=lambda e: e[1])][::-1]


# --- scoping --------------------------------------------------------------------------------------


async def test_a_developer_sees_only_their_own_rows(client: httpx.AsyncClient, env: Env) -> None:
    a_rows, body = await logs(client, env.dev_a)
    assert ids(a_rows) == A_IDS_NEWEST_FIRST
    assert {r["developer_id"] for r in a_rows} == {env.a.developer_id}
    assert set(body) == {"logs", "limit", "offset", "next_offset"}
    b_rows, _ = await logs(client, env.dev_b)
    assert ids(b_rows) == B_IDS_NEWEST_FIRST
    assert {r["developer_id"] for r in b_rows} == {env.b.developer_id}


async def test_an_admin_reads_another_developer_with_user_id(
    client: httpx.AsyncClient, env: Env
) -> None:
    by_id, _ = await logs(client, env.admin, user_id=env.b.developer_id)
    assert ids(by_id) == B_IDS_NEWEST_FIRST
    by_email, _ = await logs(client, env.admin, user_id="BOB@acme.test")
    assert ids(by_email) == B_IDS_NEWEST_FIRST
    own, _ = await logs(client, env.admin)  # no user_id: the admin's own (empty) telemetry
    assert own == []


async def test_a_developer_naming_someone_else_gets_404(
    client: httpx.AsyncClient, env: Env
) -> None:
    for user in (env.b.developer_id, "bob@acme.test", "nobody@acme.test"):
        r = await client.get(
            "/v1/telemetry/logs", params={"user_id": user}, headers=env.auth(env.dev_a)
        )
        error_of(r, 404)
    own, _ = await logs(client, env.dev_a, user_id="alice@acme.test")  # naming oneself is fine
    assert ids(own) == A_IDS_NEWEST_FIRST


async def test_an_admin_cannot_reach_into_another_org(client: httpx.AsyncClient, env: Env) -> None:
    r = await client.get(
        "/v1/telemetry/logs",
        params={"user_id": env.other.developer_id},
        headers=env.auth(env.admin),
    )
    error_of(r, 404)
    r = await client.get(
        "/v1/telemetry/logs",
        params={"user_id": env.a.developer_id},
        headers=env.auth(env.other_admin),
    )
    error_of(r, 404)


@pytest.mark.parametrize(
    "path", ["/v1/telemetry/logs", "/v1/telemetry/metrics", "/v1/telemetry/traces"]
)
async def test_telemetry_needs_a_key(client: httpx.AsyncClient, env: Env, path: str) -> None:
    assert error_of(await client.get(path), 401) == "Invalid API key"


# --- filters and paging ---------------------------------------------------------------------------


async def test_filters(client: httpx.AsyncClient, env: Env) -> None:
    rows, _ = await logs(client, env.dev_a, session_id="sa1")
    assert ids(rows) == ["sa1-2", "sa1-1", "sa1-0"]
    rows, _ = await logs(client, env.dev_a, event_name="api_request")
    assert ids(rows) == ["sa2-1", "sa1-1"]
    rows, _ = await logs(
        client, env.dev_a, **{"from": "2025-03-04T10:01:00Z", "to": "2025-03-05T09:00:00+00:00"}
    )
    assert ids(rows) == ["sa1-2", "sa1-1"]
    rows, _ = await logs(client, env.dev_a, **{"from": "2025-03-05T09:00:00"})  # naive = UTC
    assert ids(rows) == ["sa2-1", "sa2-0"]
    rows, _ = await logs(client, env.dev_a, session_id="sb1")  # B's session: not A's rows
    assert rows == []


async def test_rows_are_json_friendly(client: httpx.AsyncClient, env: Env) -> None:
    rows, _ = await logs(client, env.dev_a, session_id="sa1", event_name="user_prompt")
    (row,) = rows
    assert row["time"] == "2025-03-04T10:00:00Z"
    assert row["event_name"] == "user_prompt" and row["agent"] == "claude_code"
    assert row["session_id"] == "sa1" and row["event_sequence"] == 0
    assert isinstance(row["attributes"], dict) and isinstance(row["resource"], dict)
    assert row["resource"]["service.name"] == "claude-code"


async def test_limit_offset_and_next_offset(client: httpx.AsyncClient, env: Env) -> None:
    first, body = await logs(client, env.dev_a, limit=2)
    assert (body["limit"], body["offset"], body["next_offset"]) == (2, 0, 2)
    second, body = await logs(client, env.dev_a, limit=2, offset=2)
    assert body["next_offset"] == 4
    third, body = await logs(client, env.dev_a, limit=2, offset=4)
    assert body["next_offset"] is None  # the last page
    assert ids(first + second + third) == A_IDS_NEWEST_FIRST
    _, default = await logs(client, env.dev_a)
    assert default["limit"] == env.settings.telemetry_default_limit


async def test_metrics_and_traces(client: httpx.AsyncClient, env: Env) -> None:
    r = await client.get("/v1/telemetry/metrics", headers=env.auth(env.dev_a))
    assert r.status_code == 200
    body = r.json()
    assert "logs" not in body
    assert [(m["name"], m["session_id"]) for m in body["metrics"]] == [
        ("claude_code.session.count", "sa1")
    ]
    r = await client.get(
        "/v1/telemetry/metrics", params={"name": "other.metric"}, headers=env.auth(env.dev_a)
    )
    assert r.json()["metrics"] == []
    r = await client.get(
        "/v1/telemetry/traces", params={"trace_id": "AB" * 16}, headers=env.auth(env.dev_b)
    )
    spans = r.json()["spans"]
    assert [(s["session_id"], s["developer_id"]) for s in spans] == [("sb1", env.b.developer_id)]
    assert spans[0]["duration_ms"] == 1000.0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},  # over telemetry_max_limit
        {"limit": "-5"},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"offset": "-1"},
        {"offset": "x"},
        {"offset": "1000001"},
        {"from": "yesterday"},
        {"to": "2025-13-45"},
        {"from": "2025-03-05T00:00:00Z", "to": "2025-03-04T00:00:00Z"},
        {"session_id": "s" * 257},
        {"event_name": "e" * 257},
    ],
)
async def test_bad_parameters_are_400(
    client: httpx.AsyncClient, env: Env, params: dict[str, str]
) -> None:
    r = await client.get("/v1/telemetry/logs", params=params, headers=env.auth(env.dev_a))
    error_of(r, 400)


async def test_parameter_errors_name_the_parameter(client: httpx.AsyncClient, env: Env) -> None:
    r = await client.get("/v1/telemetry/logs", params={"from": "soon"}, headers=env.auth(env.dev_a))
    assert "from" in error_of(r, 400)
    r = await client.get("/v1/telemetry/logs", params={"limit": "ten"}, headers=env.auth(env.dev_a))
    assert "limit" in error_of(r, 400)


@pytest.mark.parametrize("value", ["x' OR '1'='1", "sa1' OR '1'='1", "sa1'; DROP TABLE events; --"])
async def test_hostile_parameters_are_values(
    client: httpx.AsyncClient, env: Env, value: str
) -> None:
    for name in ("session_id", "event_name"):
        rows, _ = await logs(client, env.dev_a, **{name: value})
        assert rows == []
    rows, _ = await logs(client, env.dev_a)
    assert ids(rows) == A_IDS_NEWEST_FIRST
