"""The event log on PostgreSQL: ids from a sequence, NOTIFY waking the hub (the poll is set too
slow to matter), replay, and the webhook sender's SKIP LOCKED claims."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prism.events import bus
from prism.events.stream import EventHub
from prism.webhooks.sender import WebhookSender
from prism.webhooks.store import WebhookStore
from tests.conftest import require_postgres
from tests.support.live_app import Store, make_store
from tests.webhooks.conftest import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    import psycopg

    base = require_postgres()
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"prism_events_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        store = make_store(
            tmp_path,
            database_url=base.rsplit("/", 1)[0] + f"/{name}",
            webhook_allow_private=True,
            webhook_poll_seconds=0.02,
        )
        store.key("alice")
        yield store
        bind = store.sessions.kw["bind"]
        bind.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_notify_wakes_the_hub_and_replay_works(pg_store: Store) -> None:
    p = pg_store.principals["alice"]
    hub = EventHub(pg_store.sessions, poll_s=30.0)  # only NOTIFY can make this quick
    await hub.start()
    try:
        sub, upto = hub.subscribe(p.org_id, p.developer_id)
        # The LISTEN connection must be up before the first publish (poll for that state).
        await asyncio.wait_for(_until_listening(hub), timeout=10)
        ids = [
            await asyncio.to_thread(
                bus.publish,
                pg_store.sessions,
                bus.TELEMETRY_RECEIVED,
                org_id=p.org_id,
                developer_id=p.developer_id,
                data={"i": i},
            )
            for i in range(3)
        ]
        await asyncio.wait_for(_buffered(sub, 3), timeout=10)
        assert [e.id for e in sub.buffer] == ids == sorted(ids)
        replayed = [e.id async for page in hub.replay(sub, upto, ids[-1]) for e in page]
        assert replayed == ids
    finally:
        await hub.stop()


async def _until_listening(hub: EventHub) -> None:
    """Return once PostgreSQL shows the hub's LISTEN connection."""
    from sqlalchemy import text

    def listening() -> bool:
        with hub.sessions() as s:
            n = s.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE query LIKE 'LISTEN %' AND datname = current_database()"
                )
            ).scalar()
        return bool(n)

    while not await asyncio.to_thread(listening):
        await asyncio.sleep(0.05)


async def _buffered(sub, n: int) -> None:  # type: ignore[no-untyped-def]
    while len(sub.buffer) < n:
        sub.wake.clear()
        await sub.wake.wait()


async def test_sender_delivers_on_postgres(pg_store: Store) -> None:
    receiver = Receiver().start()
    p = pg_store.principals["alice"]
    WebhookStore(pg_store.sessions).create(
        p,
        url=receiver.url,
        event_types=[bus.TELEMETRY_RECEIVED],
        scope="developer",
        description=None,
    )
    sender = WebhookSender(pg_store.sessions, pg_store.settings)
    await sender.start()
    try:
        event_id = await asyncio.to_thread(
            bus.publish,
            pg_store.sessions,
            bus.TELEMETRY_RECEIVED,
            org_id=p.org_id,
            developer_id=p.developer_id,
            data={},
        )
        (got,) = await asyncio.to_thread(receiver.wait_for, 1)
        assert got.headers["X-Prism-Event-Id"] == str(event_id)
    finally:
        await sender.stop()
        receiver.stop()
