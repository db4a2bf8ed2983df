"""Webhooks end to end on loopback: created through the API, delivered by the real sender
(signed, retried with backoff, logged), disabled after failures, re-enabled by the user."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from prism.events import bus
from prism.webhooks import signing
from prism.webhooks.sender import WebhookSender
from tests.support.live_app import Store

from .conftest import Receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = store.engine_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://engine"
    ) as c:
        yield c


@pytest.fixture
async def sender(store: Store) -> AsyncIterator[WebhookSender]:
    s = WebhookSender(store.sessions, store.settings)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def auth(store: Store, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.secrets[who]}"}


async def subscribe(
    api: httpx.AsyncClient, store: Store, who: str, url: str, **extra: Any
) -> dict[str, Any]:
    r = await api.post(
        "/v1/webhooks",
        json={"url": url, "event_types": [bus.TELEMETRY_RECEIVED], **extra},
        headers=auth(store, who),
    )
    assert r.status_code == 201, r.text
    return r.json()


def emit(store: Store, who: str, n: int = 1) -> int:
    p = store.principals[who]
    return bus.publish(
        store.sessions,
        bus.TELEMETRY_RECEIVED,
        org_id=p.org_id,
        developer_id=p.developer_id,
        data={"records": n},
    )


def verify_like_the_docs(secret: str, got: Any) -> bool:
    """The receiver-side check, written as docs/webhooks.md shows it."""
    ts = got.headers["X-Prism-Timestamp"]
    expected = hmac.new(secret.encode(), ts.encode() + b"." + got.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, got.headers["X-Prism-Signature"]) and (
        abs(time.time() - int(ts)) < 300
    )


async def wait(receiver: Receiver, n: int) -> list[Any]:
    return await asyncio.to_thread(receiver.wait_for, n)


async def test_signed_delivery_retried_after_failing_twice(
    api: httpx.AsyncClient, store: Store, receiver: Receiver, sender: WebhookSender
) -> None:
    receiver.script = [500, 503]
    hook = await subscribe(api, store, "alice", receiver.url, description="ci")
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    listed = await api.get("/v1/webhooks", headers=auth(store, "alice"))
    assert hook["secret"] not in listed.text  # shown once

    event_id = emit(store, "alice", 7)
    emit(store, "bob")  # not alice's: never delivered to her webhook
    got = await wait(receiver, 3)
    assert [g.answered for g in got] == [500, 503, 200]
    for g in got:
        assert verify_like_the_docs(hook["secret"], g)
        assert signing.verify(
            hook["secret"], g.body, g.headers["X-Prism-Timestamp"], g.headers["X-Prism-Signature"]
        )
        assert not signing.verify(
            "whsec_wrong", g.body, g.headers["X-Prism-Timestamp"], g.headers["X-Prism-Signature"]
        )
        assert g.headers["X-Prism-Event"] == bus.TELEMETRY_RECEIVED
        assert g.headers["X-Prism-Event-Id"] == str(event_id)
        assert g.headers["Content-Type"] == "application/json"
    assert len({g.headers["X-Prism-Delivery"] for g in got}) == 1  # one delivery, 3 attempts
    assert len({g.body for g in got}) == 1  # the same bytes each time
    body = json.loads(got[0].body)
    assert body["id"] == str(event_id) and body["data"] == {"records": 7}
    assert body["developer_id"] == store.principals["alice"].developer_id

    async def logged() -> dict[str, Any]:
        while True:
            r = await api.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(store, "alice"))
            (d,) = r.json()["deliveries"]
            if d["status"] != "pending":
                return d
            await sender.run_once()  # drive the sender instead of sleeping

    d = await asyncio.wait_for(logged(), timeout=20)
    assert d["status"] == "succeeded" and d["attempts"] == 3
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 503, 200]
    assert d["id"] == got[0].headers["X-Prism-Delivery"]
    assert d["event_id"] == str(event_id)
    # the retries waited (exponential backoff with jitter from 0.05 s): not all at once
    times = [a["at"] for a in d["attempt_log"]]
    assert times == sorted(times) and len(set(times)) == 3
    hook_now = (await api.get(f"/v1/webhooks/{hook['id']}", headers=auth(store, "alice"))).json()
    assert hook_now["consecutive_failures"] == 0


async def test_disabled_after_repeated_failures_stops_receiving_until_reenabled(
    api: httpx.AsyncClient,
    store: Store,
    receiver: Receiver,
    other_receiver: Receiver,
    sender: WebhookSender,
) -> None:
    receiver.default = 500
    failing = await subscribe(api, store, "alice", receiver.url)
    healthy = await subscribe(api, store, "alice", other_receiver.url)
    emit(store, "alice")
    await wait(receiver, 3)  # PRISM_WEBHOOK_DISABLE_AFTER_FAILURES=3

    async def state() -> dict[str, Any]:
        while True:
            r = await api.get(f"/v1/webhooks/{failing['id']}", headers=auth(store, "alice"))
            if not r.json()["enabled"]:
                return r.json()
            await sender.run_once()

    hook = await asyncio.wait_for(state(), timeout=20)
    assert "3 consecutive failed delivery attempts" in hook["disabled_reason"]
    assert hook["disabled_at"] is not None
    log = (
        await api.get(f"/v1/webhooks/{failing['id']}/deliveries", headers=auth(store, "alice"))
    ).json()["deliveries"]
    assert [d["status"] for d in log] == ["cancelled"]  # no further retries queued

    # A later event reaches the healthy webhook; the disabled one gets nothing.
    second = emit(store, "alice")
    got = await wait(other_receiver, 2)
    assert json.loads(got[1].body)["id"] == str(second)
    await sender.run_once()
    assert len(receiver.got) == 3
    log = (
        await api.get(f"/v1/webhooks/{failing['id']}/deliveries", headers=auth(store, "alice"))
    ).json()["deliveries"]
    assert len(log) == 1

    # The user fixes the receiver and re-enables the webhook: new events flow again.
    receiver.default = 200
    r = await api.patch(
        f"/v1/webhooks/{failing['id']}", json={"enabled": True}, headers=auth(store, "alice")
    )
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None
    third = emit(store, "alice")
    got = await wait(receiver, 4)
    assert json.loads(got[3].body)["id"] == str(third)
    assert healthy["enabled"] is True


async def test_org_webhooks_scoping_and_errors(
    api: httpx.AsyncClient, store: Store, receiver: Receiver, sender: WebhookSender
) -> None:
    r = await api.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["report.completed"], "scope": "org"},
        headers=auth(store, "alice"),
    )
    assert r.status_code == 403 and set(r.json()) == {"code", "message"}
    org_hook = await subscribe(api, store, "root", receiver.url, scope="org")
    alice_hook = await subscribe(api, store, "alice", receiver.url)
    # other developers' webhooks are not found, admins see the org's
    r = await api.get(f"/v1/webhooks/{alice_hook['id']}", headers=auth(store, "bob"))
    assert r.status_code == 404 and r.json() == {"code": 404, "message": "No such webhook"}
    r = await api.delete(f"/v1/webhooks/{alice_hook['id']}", headers=auth(store, "bob"))
    assert r.status_code == 404
    listed = (await api.get("/v1/webhooks", headers=auth(store, "root"))).json()["webhooks"]
    assert {h["id"] for h in listed} == {org_hook["id"], alice_hook["id"]}
    # bob's event reaches the org webhook only
    bob_event = emit(store, "bob")
    (got,) = await wait(receiver, 1)
    assert json.loads(got.body)["id"] == str(bob_event)
    assert verify_like_the_docs(org_hook["secret"], got)
    # deleting drops the webhook and its log
    r = await api.delete(f"/v1/webhooks/{org_hook['id']}", headers=auth(store, "root"))
    assert r.status_code == 200
    r = await api.get(f"/v1/webhooks/{org_hook['id']}/deliveries", headers=auth(store, "root"))
    assert r.status_code == 404
    # validation errors are 400 with the one error shape
    for bad in (
        {"url": receiver.url, "event_types": []},
        {"url": receiver.url, "event_types": ["nope"]},
        {"url": "ftp://127.0.0.1/x", "event_types": [bus.TELEMETRY_RECEIVED]},
        {"url": "http://u:p@127.0.0.1/x", "event_types": [bus.TELEMETRY_RECEIVED]},
    ):
        r = await api.post("/v1/webhooks", json=bad, headers=auth(store, "alice"))
        assert r.status_code == 400, (bad, r.text)
        assert set(r.json()) == {"code", "message"}


async def test_private_and_loopback_targets_are_refused_by_default(
    tmp_path: Any, receiver: Receiver
) -> None:
    from tests.support.live_app import make_store

    strict = make_store(tmp_path, rate_limit_enabled=False)  # PRISM_WEBHOOK_ALLOW_PRIVATE=false
    key = strict.key("alice")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=strict.engine_app()), base_url="http://engine"
    ) as api:
        for url in (
            receiver.url,
            "http://localhost:9/x",
            "http://10.1.2.3/x",
            "http://192.168.0.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://0.0.0.0/x",
        ):
            r = await api.post(
                "/v1/webhooks",
                json={"url": url, "event_types": [bus.TELEMETRY_RECEIVED]},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert r.status_code == 400, url
            assert "PRISM_WEBHOOK_ALLOW_PRIVATE" in r.json()["message"]


async def test_sender_refuses_at_delivery_time_too(store: Store, receiver: Receiver) -> None:
    """A webhook saved while private targets were allowed is not called once they are not."""
    from prism.webhooks.store import WebhookStore

    WebhookStore(store.sessions).create(
        store.principals["alice"],
        url=receiver.url,
        event_types=[bus.TELEMETRY_RECEIVED],
        scope="developer",
        description=None,
    )
    strict = WebhookSender(
        store.sessions, store.settings.model_copy(update={"webhook_allow_private": False})
    )
    emit(store, "alice")
    try:
        await strict.run_once()
        await strict.run_once()
    finally:
        await strict.stop()
    assert receiver.got == []
    assert strict.stats.failed_attempts >= 1


def test_signature_rules() -> None:
    body = b'{"id":"1"}'
    headers = signing.sign("whsec_k", body, now=1_000_000)
    ts, sig = headers["X-Prism-Timestamp"], headers["X-Prism-Signature"]
    assert ts == "1000000" and sig.startswith("v1=")
    assert signing.verify("whsec_k", body, ts, sig, now=1_000_100)
    assert not signing.verify("whsec_k", body + b" ", ts, sig, now=1_000_100)  # tampered
    assert not signing.verify("whsec_k", body, ts, sig, now=1_000_000 + 301)  # too old
    assert not signing.verify("whsec_k", body, str(int(ts) + 1), sig, now=1_000_000)
    assert signing.verify("whsec_k", body, ts, f"v1=00, {sig}", now=1_000_000)  # rotation
    assert not signing.verify("whsec_k", body, None, sig)
