"""Event fan-out benchmark: events/s delivered to 100 SSE clients and delivery latency, against
a real `prism serve` in a temporary folder, loopback only.

Events are appended to the event log from this process, as the worker appends them (same table,
same code: `prism.events.bus`), with the publish time inside; each client notes when it reads
each event. The engine tails the log every PRISM_EVENTS_POLL_SECONDS (0.2 s by default) and fans
every event out to every client.

Phases (each bounded; the script stops by itself):
  1. burst: N events appended as fast as SQLite takes them (100 per transaction); reports the
     time until every client has every event, and deliveries/s (events x clients / time).
  2. fixed rate: events at a steady rate (default 50/s) for a fixed time; reports p50/p99/max
     delivery latency (publish -> read by the client), over every client and event.

Run:  .venv/bin/python bench/events.py            (prints a Markdown table)
      .venv/bin/python bench/events.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from prism.events import bus  # noqa: E402
from prism.store.db import make_engine, session_factory  # noqa: E402
from prism.store.keys import KeyStore  # noqa: E402
from tests.support.prism_server import PrismServer  # noqa: E402


class Client:
    """One SSE connection read with a bare line reader (each frame is one HTTP chunk)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.count = 0
        self.ready = asyncio.Event()

    async def run(self, port: int, key: str, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = f"GET /v1/events/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}"
        writer.write(head.encode() + b"\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        assert b" 200 " in status, status
        self.ready.set()
        try:
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    break
                if line.startswith(b"data: "):
                    t = json.loads(line[6:])["data"]["t"]
                    self.latencies.append(time.time() - t)
                    self.count += 1
        finally:
            writer.close()


def publish(sessions, org_id: str, dev: str, n: int, per_tx: int = 100) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, n, per_tx):
        with sessions.begin() as s:
            for _ in range(min(per_tx, n - start)):
                bus.record(
                    s,
                    bus.TELEMETRY_RECEIVED,
                    org_id=org_id,
                    developer_id=dev,
                    data={"t": time.time(), "logs": 1},
                )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = PrismServer(
            Path(tmp),
            env={
                "PRISM_RATE_LIMIT_DEVELOPER_PER_MINUTE": "100000",
                "PRISM_LOG_LEVEL": "error",
                "PRISM_EVENTS_POLL_SECONDS": str(args.poll),
            },
        )
        server.start()
        try:
            key = server.create_key("bench@example.com")["key"]
            engine = make_engine(f"sqlite:///{Path(tmp) / 'prism.db'}")
            sessions = session_factory(engine)
            who = KeyStore(sessions).authenticate(key)
            stop = asyncio.Event()
            clients = [Client() for _ in range(args.clients)]
            tasks = [asyncio.create_task(c.run(server.api_port, key, stop)) for c in clients]
            await asyncio.gather(*(c.ready.wait() for c in clients))
            await asyncio.sleep(0.5)  # let the last subscriptions register before timing

            # 1. burst
            started = time.monotonic()
            await asyncio.to_thread(publish, sessions, who.org_id, who.developer_id, args.burst)
            appended = time.monotonic() - started
            deadline = started + 120
            while min(c.count for c in clients) < args.burst and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            burst_s = time.monotonic() - started
            delivered = sum(c.count for c in clients)
            for c in clients:
                c.latencies.clear()
                c.count = 0

            # 2. fixed rate
            total = int(args.rate * args.seconds)
            t0 = time.monotonic()
            for i in range(total):
                due = t0 + i / args.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await asyncio.to_thread(publish, sessions, who.org_id, who.developer_id, 1, 1)
            deadline = time.monotonic() + 30
            while min(c.count for c in clients) < total and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            lat = [x for c in clients for x in c.latencies]
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            engine.dispose()
        finally:
            server.stop()

    print(f"| clients, engine poll interval | {args.clients}, {args.poll:g} s |")
    print(f"| burst: events appended | {args.burst} in {appended:.2f} s |")
    print(
        f"| burst: all clients have all events after | {burst_s:.2f} s "
        f"({delivered} deliveries, {delivered / burst_s:,.0f} deliveries/s, "
        f"{args.burst / burst_s:,.0f} events/s) |"
    )
    print(f"| fixed rate | {args.rate:g} events/s for {args.seconds:g} s, {len(lat)} deliveries |")
    print(
        f"| delivery latency p50 / p99 / max | {statistics.median(lat) * 1000:.0f} / "
        f"{pct(lat, 0.99) * 1000:.0f} / {max(lat) * 1000:.0f} ms |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--poll", type=float, default=0.2, help="PRISM_EVENTS_POLL_SECONDS")
    parser.add_argument("--quick", action="store_true", help="small, short run")
    ns = parser.parse_args()
    if ns.quick:
        ns.clients, ns.burst, ns.seconds = 20, 200, 2.0
    asyncio.run(main(ns))
