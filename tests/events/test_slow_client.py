"""A client that stops reading is cut off at its buffer's bound; server memory does not grow
with the events it misses, and the other clients are not held up by it."""

from __future__ import annotations

import gc
import socket
import tracemalloc

import httpx

from prism.events import bus
from tests.support.live_app import LiveEngine, Store, free_port, make_store, read_events, stream
from tests.support.prism_server import wait_for

PAD = "x" * 4096  # ~4 KiB per event


def _stalled_client(port: int, key: str) -> socket.socket:
    """Open the stream, read the status line, then never read again (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET /v1/events/stream HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {key}\r\n\r\n".encode()
    )
    assert sock.recv(12).startswith(b"HTTP/1.1 200")
    return sock


def _publish(store: Store, who: str, n: int) -> list[int]:
    p = store.principals[who]
    ids: list[int] = []
    for start in range(0, n, 500):
        with store.sessions.begin() as s:
            rows = [
                bus.record(
                    s,
                    bus.TELEMETRY_RECEIVED,
                    org_id=p.org_id,
                    developer_id=p.developer_id,
                    data={"n": i, "pad": PAD},
                )
                for i in range(start, min(n, start + 500))
            ]
            s.flush()
            ids += [int(r.id) for r in rows]
    return ids


def test_a_stalled_client_is_dropped_and_memory_stays_bounded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(
        tmp_path, events_poll_seconds=0.02, events_client_buffer=100, rate_limit_enabled=False
    )
    key = store.key("alice")
    live = LiveEngine(store.engine_app(), free_port()).start()
    hub = live.app.state.events
    stalled = _stalled_client(live.port, key)
    try:
        wait_for(lambda: hub.clients == 1, what="subscribed")
        (sub,) = hub._by_org[store.principals["alice"].org_id]
        gc.collect()
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        ids = _publish(store, "alice", 4000)  # 16 MiB the client never reads
        wait_for(lambda: hub.last_id == ids[-1], what="the hub to dispatch everything")
        wait_for(lambda: hub.stats.dropped_slow == 1, what="the stalled client cut off")
        wait_for(lambda: hub.clients == 0, what="its subscription gone")
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert sub.high_water <= 100  # the bound held
        assert hub.queue_depth == 0
        # What the stalled client missed is held nowhere: growth is a fraction of 16 MiB.
        assert current - base < 3 * 1024 * 1024, (current - base, peak - base)
        # The server closed the connection: reading drains what was in flight, then EOF.
        stalled.settimeout(10)
        while stalled.recv(1 << 16):
            pass
    finally:
        stalled.close()
        live.stop()


def test_a_stalled_client_does_not_hold_up_the_others(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(
        tmp_path, events_poll_seconds=0.02, events_client_buffer=1000, rate_limit_enabled=False
    )
    key = store.key("alice")
    live = LiveEngine(store.engine_app(), free_port()).start()
    hub = live.app.state.events
    stalled = _stalled_client(live.port, key)
    try:
        with httpx.Client(timeout=30) as client, stream(client, live.url, key) as healthy:
            wait_for(lambda: hub.clients == 2, what="two subscribers")
            ids = _publish(store, "alice", 800)  # 3 MiB: fills the stalled socket's buffers
            got = read_events(healthy.iter_lines(), len(ids))
            assert [e.id for e in got] == ids
        assert hub.stats.dropped_slow == 0  # within its bound the stalled one just waits
    finally:
        stalled.close()
        live.stop()
