"""A webhook receiver on loopback (a real HTTP server in a thread) and a store to send from."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.live_app import Store, make_store


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then `default`) and records it."""

    script: list[int] = field(default_factory=list)
    default: int = 200
    got: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, n: int, timeout: float = 20.0) -> list[Received]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.got) >= n, timeout=timeout)
        assert ok, f"receiver got {len(self.got)} requests, expected {n}"
        return list(self.got)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.cond:
                    status = receiver.script.pop(0) if receiver.script else receiver.default
                    receiver.got.append(
                        Received(self.path, {k: v for k, v in self.headers.items()}, body, status)
                    )
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def store(tmp_path) -> Store:  # type: ignore[no-untyped-def]
    s = make_store(
        tmp_path,
        webhook_allow_private=True,  # the receivers are on loopback
        webhook_retry_base_seconds=0.05,
        webhook_retry_max_seconds=0.2,
        webhook_poll_seconds=0.02,
        webhook_disable_after_failures=3,
        webhook_max_attempts=5,
        webhook_timeout_seconds=5,
        rate_limit_enabled=False,
    )
    s.key("alice")
    s.key("bob")
    s.key("root", admin=True)
    return s


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
