"""A real engine app on a real socket (uvicorn in a thread), over a temporary store.

For what the in-process ASGI transport cannot show: streaming responses, clients that stop
reading or vanish, several engine processes sharing one event log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from prism.api.app import create_engine_app
from prism.lake.query import Lake
from prism.lake.storage import open_storage
from prism.settings import Settings, load_settings
from prism.store.db import make_engine, migrate, session_factory
from prism.store.keys import KeyStore, Principal
from tests.support.prism_server import free_port, wait_for


@dataclass
class LiveEngine:
    """One engine app served by uvicorn on 127.0.0.1:<port> in a background thread."""

    app: FastAPI
    port: int
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveEngine:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,  # as runtime/engine.py: open streams are cut
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server is not None and self.server.started, what="uvicorn start")
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=15)


@dataclass
class Store:
    settings: Settings
    sessions: sessionmaker[Session]
    keys: KeyStore
    secrets: dict[str, str] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)

    def key(self, name: str, *, org: str = "acme", admin: bool = False) -> str:
        secret = self.keys.create_key(
            developer=f"{name}@{org}.test", org=org, scope="admin" if admin else "developer"
        ).key
        self.secrets[name] = secret
        self.principals[name] = self.keys.authenticate(secret)
        return secret

    def engine_app(self, **overrides: Any) -> FastAPI:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return create_engine_app(
            settings, keys_store=self.keys, lake=Lake(open_storage(settings.lake_root))
        )


def make_store(root: Path, **settings: Any) -> Store:
    s = load_settings(data_dir=root, **settings)
    engine = make_engine(s.resolved_database_url)
    migrate(engine)
    sessions = session_factory(engine)
    return Store(settings=s, sessions=sessions, keys=KeyStore(sessions))


@dataclass
class SSE:
    id: int
    type: str
    data: dict[str, Any]


def read_events(
    lines: Iterator[str], count: int, *, comments: list[str] | None = None
) -> list[SSE]:
    """Parse `count` events from an SSE line iterator (comments go to `comments`)."""
    import json

    out: list[SSE] = []
    current: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in current:
                out.append(
                    SSE(int(current["id"]), current.get("event", ""), json.loads(current["data"]))
                )
                if len(out) >= count:
                    return out
            current = {}
            continue
        if line.startswith(":"):
            if comments is not None:
                comments.append(line)
            continue
        name, _, value = line.partition(":")
        current[name] = value[1:] if value.startswith(" ") else value
    return out


def stream(
    client: httpx.Client,
    url: str,
    key: str,
    *,
    params: dict[str, Any] | None = None,
    last_event_id: int | None = None,
) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    return client.stream("GET", url + "/v1/events/stream", headers=headers, params=params)


__all__ = ["SSE", "LiveEngine", "Store", "free_port", "make_store", "read_events", "stream"]
