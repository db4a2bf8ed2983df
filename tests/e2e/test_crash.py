"""Crash safety: `prism serve` is SIGKILLed (the whole process tree, as a machine crash would)
several times while exporters send Claude Code log batches; afterwards every acknowledged record
is in the lake exactly once.

The exporters behave like OpenTelemetry's: a batch is re-sent, byte for byte, until a 200 comes
back, so a batch whose 200 was lost in a crash arrives twice. Some batches are also re-sent after
their 200 on purpose (an exporter that timed out just as the answer came). Ingest gives a body
the same batch id each time and the lake writer's journal applies it once, so neither may
double-count. Kill points and batch sizes come from a fixed seed; nothing waits by sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.claude_batches import ID_ATTRIBUTE, ClaudeLogBatches
from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e]

SEED = 20261122
EXPORTERS = 4
KILLS = 4
BATCH_RECORDS = (10, 60)
EXPORT_INTERVAL_S = 0.2  # an exporter's schedule delay (Claude Code's is 5 s), compressed
RESEND_AFTER_ACK = 0.15  # share of batches sent again after their 200
ACKS_BETWEEN_KILLS = (6, 20)  # acknowledged batches between two kills, drawn from the seed
ACKS_AFTER_LAST_KILL = 12
RETRY_BACKOFF_S = 0.05  # an exporter's pause before re-sending after an error
DEADLINE_S = 240.0  # a hang guard: on an idle 2-core machine the whole test takes < 60 s


@dataclass
class Exporters:
    """Exporter threads, each one Claude Code session sending batches until told to stop; a
    batch is posted until it is acknowledged."""

    server: PrismServer
    key: str
    base_ns: int
    acked_ids: list[str] = field(default_factory=list)
    acked_batches: int = 0
    resent_after_ack: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, n: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        for e in range(n):
            t = threading.Thread(target=self._run, args=(e, deadline), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()

    def done(self) -> bool:
        return not any(t.is_alive() for t in self.threads)

    def _post(self, client: httpx.Client, body: bytes, deadline: float) -> None:
        """Send `body` until it is acknowledged (200), as an OTLP exporter retries."""
        while time.monotonic() < deadline:
            try:
                r = client.post(
                    f"{self.server.ingest_url}/v1/logs",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {self.key}",
                        "Content-Type": "application/x-protobuf",
                    },
                )
            except httpx.TransportError:
                r = None  # refused, reset or timed out: the server is down or dying
            if r is not None and r.status_code == 200:
                return
            if r is not None and r.status_code not in (429, 502, 503, 504):
                raise AssertionError(f"unexpected {r.status_code}: {r.text}")
            with self.lock:
                self.retries += 1
            time.sleep(RETRY_BACKOFF_S)  # the exporter's retry backoff, not synchronisation
        raise TimeoutError("batch not acknowledged before the deadline")

    def _run(self, e: int, deadline: float) -> None:
        rng = random.Random(SEED * 31 + e)
        # exporters' clocks 1000 s apart: every record has its own timestamp
        gen = ClaudeLogBatches(exporter=e, start_ns=self.base_ns + e * 10**12, seed=SEED)
        try:
            with httpx.Client(timeout=httpx.Timeout(5.0, connect=1.0)) as client:
                while not self.stopping.is_set():
                    batch = gen.next_batch(rng.randint(*BATCH_RECORDS))
                    self._post(client, batch.payload, deadline)
                    with self.lock:
                        self.acked_ids.extend(batch.ids)
                        self.acked_batches += 1
                    if rng.random() < RESEND_AFTER_ACK:  # its 200 "lost": the same bytes again
                        self._post(client, batch.payload, deadline)
                        with self.lock:
                            self.resent_after_ack += 1
                    self.stopping.wait(EXPORT_INTERVAL_S)  # pacing, like a batch exporter
        except Exception as exc:  # surfaced by the test's assertions
            with self.lock:
                self.errors.append(f"exporter {e}: {exc!r}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrismServer]:
    s = PrismServer(tmp_path / "prism", env={"PRISM_LAKE_FLUSH_SECONDS": "0.2"})
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _queue_empty(server: PrismServer) -> bool:
    r = httpx.get(f"{server.ingest_url}/healthz", timeout=5)
    return r.status_code == 200 and r.json()["queue"]["batches"] == 0


def test_acknowledged_records_survive_repeated_kill_9_exactly_once(server: PrismServer) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    key = server.create_key("crash@example.com")["key"]
    load = Exporters(server, key, base_ns=time.time_ns() - 2 * 3600 * 10**9)
    load.start(EXPORTERS)

    def acked_at_least(n: int) -> None:
        wait_for(
            lambda: load.acked_batches >= n or load.done(),
            timeout=DEADLINE_S,
            interval=0.01,
            what=f"{n} acknowledged batches",
        )
        assert not load.errors, load.errors

    kills = 0
    restarts: list[float] = []
    for _ in range(KILLS):
        acked_at_least(load.acked_batches + rng.randint(*ACKS_BETWEEN_KILLS))
        server.kill()  # SIGKILL to the whole process group: supervisor, ingest, engine, worker
        kills += 1
        t0 = time.monotonic()
        server.start()
        restarts.append(time.monotonic() - t0)
    acked_at_least(load.acked_batches + ACKS_AFTER_LAST_KILL)
    load.stop()
    wait_for(load.done, timeout=DEADLINE_S, what="the exporters to finish their last batch")
    assert not load.errors, load.errors
    assert kills == KILLS
    assert load.resent_after_ack > 0

    # Ack happens after publish: an empty queue means the lake holds everything written.
    wait_for(lambda: _queue_empty(server), timeout=30, what="the lake writer to drain the queue")
    rows = server.telemetry(key, "logs")
    stored = [row["attributes"][ID_ATTRIBUTE] for row in rows]
    duplicates = len(stored) - len(set(stored))
    assert duplicates == 0, f"{duplicates} records stored twice"
    assert len(load.acked_ids) == len(set(load.acked_ids))
    missing = set(load.acked_ids) - set(stored)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    assert set(stored) == set(load.acked_ids)
    print(
        f"\n{kills} kills, {load.acked_batches} batches acknowledged ({load.resent_after_ack} "
        f"re-sent after their 200, {load.retries} retries after errors), {len(stored)} records "
        f"stored exactly once, {time.monotonic() - started:.1f}s "
        f"(restarts {', '.join(f'{r:.1f}' for r in restarts)} s)"
    )
