"""The engine app in-process over real parts in a temporary folder: SQLite store, Parquet lake.

One app per test module, driven through httpx's ASGI transport; tests that revoke keys make
their own keys first.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from prism.api.app import create_engine_app
from prism.lake.normalize import NormalizeOptions
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.lake.writer import LakeWriter
from prism.queue.base import Batch, Claimed
from prism.queue.local import LocalQueue
from prism.settings import Settings, load_settings
from prism.store.db import make_engine, migrate, session_factory
from prism.store.keys import KeyStore, Principal

DAY1 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 5, 9, 0, tzinfo=UTC)


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
        for k, v in d.items()
    ]


def _ns(t: datetime) -> str:
    return str(int(t.timestamp()) * 10**9 + t.microsecond * 1000)


def events_payload(specs: list[tuple[str, datetime, str, int]]) -> bytes:
    """OTLP/JSON logs as Claude Code sends them; specs: (event name, time, session, sequence)."""
    records = [
        {
            "timeUnixNano": _ns(t),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": _attrs(
                {
                    "event.name": name,
                    "session.id": session,
                    "event.sequence": seq,
                    "prompt.id": f"{session}-{seq}",
                }
            ),
        }
        for name, t, session, seq in specs
    ]
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": _attrs({"service.name": "claude-code"})},
                    "scopeLogs": [
                        {
                            "scope": {"name": "com.anthropic.claude_code.events"},
                            "logRecords": records,
                        }
                    ],
                }
            ]
        }
    )


def signal_payload(signal: str, session: str, t: datetime) -> bytes:
    if signal == "metrics":
        doc: dict[str, Any] = {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "scope": {"name": "com.anthropic.claude_code"},
                            "metrics": [
                                {
                                    "name": "claude_code.session.count",
                                    "sum": {
                                        "aggregationTemporality": 1,
                                        "dataPoints": [
                                            {
                                                "timeUnixNano": _ns(t),
                                                "asInt": "1",
                                                "attributes": _attrs({"session.id": session}),
                                            }
                                        ],
                                    },
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    else:
        doc = {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "scope": {"name": "com.anthropic.claude_code"},
                            "spans": [
                                {
                                    "traceId": "ab" * 16,
                                    "spanId": "cd" * 8,
                                    "name": "claude_code.interaction",
                                    "startTimeUnixNano": _ns(t),
                                    "endTimeUnixNano": _ns(t + timedelta(seconds=1)),
                                    "attributes": _attrs({"session.id": session}),
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    return orjson.dumps(doc)


def batch(signal: str, payload: bytes, who: Principal) -> Batch:
    bid = hashlib.sha256(f"{who.developer_id}\0{signal}\0".encode() + payload).hexdigest()
    return Batch(bid, signal, "json", who.org_id, who.developer_id, time.time_ns(), 1, payload)


A_EVENTS = [
    ("user_prompt", DAY1, "sa1", 0),
    ("api_request", DAY1 + timedelta(minutes=1), "sa1", 1),
    ("tool_result", DAY1 + timedelta(minutes=2), "sa1", 2),
    ("user_prompt", DAY2, "sa2", 0),
    ("api_request", DAY2 + timedelta(minutes=1), "sa2", 1),
]
B_EVENTS = [
    ("user_prompt", DAY1 + timedelta(seconds=30), "sb1", 0),
    ("api_request", DAY1 + timedelta(minutes=1, seconds=30), "sb1", 1),
    ("api_request", DAY2 + timedelta(minutes=3), "sb1", 2),
]


@dataclass
class Env:
    app: FastAPI
    settings: Settings
    keys: KeyStore
    admin: str  # secrets
    dev_a: str
    dev_b: str
    other_admin: str
    a: Principal
    b: Principal
    other: Principal

    def auth(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("engine")
    settings = load_settings(data_dir=root, telemetry_default_limit=50, telemetry_max_limit=200)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    keys = KeyStore(session_factory(engine))
    admin = keys.create_key(developer="admin@acme.test", org="acme", scope="admin").key
    dev_a = keys.create_key(developer="alice@acme.test", org="acme").key
    dev_b = keys.create_key(developer="Bob@Acme.test", org="acme").key
    other_admin = keys.create_key(developer="root@globex.test", org="globex", scope="admin").key
    a, b, other = (keys.authenticate(k) for k in (dev_a, dev_b, other_admin))

    storage = LocalStorage(settings.lake_root)
    queue = LocalQueue(settings.queue_path)
    writer = LakeWriter(
        queue=queue, storage=storage, sessions=session_factory(engine), options=NormalizeOptions()
    )
    batches = [
        batch("logs", events_payload(A_EVENTS), a),
        batch("logs", events_payload(B_EVENTS), b),
        batch("logs", events_payload([("api_request", DAY1, "sx", 0)]), other),
        batch("metrics", signal_payload("metrics", "sa1", DAY1), a),
        batch("metrics", signal_payload("metrics", "sb1", DAY1), b),
        batch("traces", signal_payload("traces", "sa1", DAY1), a),
        batch("traces", signal_payload("traces", "sb1", DAY2), b),
    ]
    writer.apply([Claimed(i, bt) for i, bt in enumerate(batches)])

    app = create_engine_app(settings, keys_store=keys, lake=Lake(storage))
    try:
        yield Env(app, settings, keys, admin, dev_a, dev_b, other_admin, a, b, other)
    finally:
        asyncio.run(queue.close())
        engine.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=env.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as c:
        yield c
