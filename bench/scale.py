"""Scale-mode benchmark: PostgreSQL + NATS JetStream + S3 (moto's server) on this machine.

Phases (each bounded; the script stops by itself and cleans up what it created):
  1. JetStream publish latency: `NatsQueue.put` (publish + wait for the PubAck) with 1 and 64
     publishes in flight, p50/p99.
  2. Throughput: for 1 vs 2 ingest processes x 1 vs 2 workers, exporters post realistic Claude
     Code log batches (50-200 records) as fast as acks come back for a fixed time; acked
     records/s at ingest, then records/s reaching the lake (time until the journal holds them
     all, from the start of the load).
  3. Lake freshness on the 2 x 2 layout: single-record batches at a steady rate, each with its
     own session id; freshness = ack -> first DataFusion query over S3 that returns it (polled
     every 50 ms, so the figures carry up to ~50 ms of polling granularity).
  4. Score-endpoint latency: GET /v1/score_v3/score (window=monthly) against the engine on
     PostgreSQL, and against `prism serve` embedded (SQLite) with the same data, p50/p99.

Run:  .venv/bin/python bench/scale.py            (PostgreSQL and nats-server must be running;
      .venv/bin/python bench/scale.py --quick     scripts/services.sh starts them)

moto is an S3 *emulator* in one Python process: it is the slowest part here and a real store
(S3, MinIO) will not be the bottleneck in the same way. The load generator shares the two cores
with every Prism process, so the numbers are a floor for a dedicated machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from prism.agents.claude_code_otlp import logs_request  # noqa: E402
from prism.lake.query import Lake  # noqa: E402
from prism.queue.base import Batch  # noqa: E402
from prism.queue.nats import NatsQueue  # noqa: E402
from tests.scale.conftest import (  # noqa: E402
    AWS,
    BUCKET,
    NATS_URL,
    ScaleParts,
    create_database,
    delete_stream,
    drop_database,
)
from tests.scale.roles import Role  # noqa: E402
from tests.support.claude_batches import ClaudeLogBatches, LogBatch  # noqa: E402
from tests.support.prism_server import PrismServer, free_port, wait_for  # noqa: E402
from tests.unit import scenarios as sc  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def ms(v: float) -> str:
    return f"{v * 1000:.1f} ms"


# --- parts -----------------------------------------------------------------------------------
class Moto:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: httpx.get(self.endpoint, timeout=1).status_code < 500, timeout=30)
        import pyarrow.fs as pafs

        pafs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{self.port}",
            scheme="http",
            access_key="test",
            secret_key="test",
            region="us-east-1",
            allow_bucket_creation=True,
        ).create_dir(BUCKET)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def new_parts(endpoint: str) -> ScaleParts:
    database = create_database()
    tag = uuid.uuid4().hex[:10]
    base = os.environ.get(
        "PRISM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ).rsplit("/", 1)[0]
    return ScaleParts(
        database_url=f"{base}/{database}",
        database=database,
        stream=f"PRISMB_{tag}",
        lake_url=f"s3://{BUCKET}/bench-{tag}",
        s3_endpoint=endpoint,
    )


def drop_parts(parts: ScaleParts) -> None:
    delete_stream(parts.stream)
    drop_database(parts.database)


def create_key(env: dict[str, str], data_dir: Path, email: str) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", "keys", "create", "--developer", email, "--json"],
        env={**os.environ, **env, "PRISM_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    created: dict[str, str] = json.loads(out.stdout)
    return created


# --- a lean keep-alive HTTP/1.1 client (the generator shares the CPU with the server) ------------
class Conn:
    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.head = (
            f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/x-protobuf\r\n"
            "Content-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            self.writer = None
            raise ConnectionError("closed")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


class Pool:
    """Pre-generated batches, each send re-timed so every body (and batch id) is distinct."""

    def __init__(self, n: int = 400, seed: int = 7) -> None:
        rng = random.Random(seed)
        start = time.time_ns() - 2 * 3600 * 10**9
        self.batches: list[LogBatch] = []
        for e in range(8):
            gen = ClaudeLogBatches(exporter=e, start_ns=start + e * 10**9, seed=seed)
            self.batches += [gen.next_batch(rng.randint(50, 200)) for _ in range(n // 8)]
        self.i = 0
        self.t = time.time_ns() - 3600 * 10**9

    def next(self) -> tuple[bytes, int]:
        b = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.t += 1000
        return b.retimed(self.t), len(b.ids)


# --- phase 1 ----------------------------------------------------------------------------------
async def publish_latency(parts: ScaleParts, seconds: float) -> dict[str, float]:
    from prism.settings import load_settings

    settings = load_settings(
        data_dir=Path(tempfile.mkdtemp()),
        queue_url=NATS_URL,
        nats_stream=parts.stream,
        queue_high_water_batches=10_000_000,
        queue_high_water_bytes=8 << 30,
    )
    queue = NatsQueue(settings)
    payload = Pool(16).next()[0]
    out: dict[str, float] = {}

    async def one(w: int, inflight: int, end: float, lat: list[float]) -> None:
        i = 0
        while time.monotonic() < end:
            i += 1
            b = Batch(f"{inflight}-{w}-{i}", "logs", "protobuf", "o", "d", 0, 1, payload)
            t0 = time.perf_counter()
            await queue.put(b)
            lat.append(time.perf_counter() - t0)

    for inflight in (1, 64):
        lat: list[float] = []
        end = time.monotonic() + seconds / 2
        t0 = time.monotonic()
        await asyncio.gather(*(one(w, inflight, end, lat) for w in range(inflight)))
        out[f"p50_{inflight}"] = pct(lat, 0.5)
        out[f"p99_{inflight}"] = pct(lat, 0.99)
        out[f"rate_{inflight}"] = len(lat) / (time.monotonic() - t0)
    out["bytes"] = len(payload)
    await queue.close()
    return out


# --- phase 2 ----------------------------------------------------------------------------------
@dataclass
class Layout:
    parts: ScaleParts
    ingests: list[Role]
    workers: list[Role]
    key: dict[str, str]
    data_dir: Path

    def stop(self) -> None:
        for role in (*self.ingests, *self.workers):
            role.terminate()
        for role in (*self.ingests, *self.workers):
            role.stop()


def start_layout(endpoint: str, n_ingest: int, n_worker: int) -> Layout:
    parts = new_parts(endpoint)
    data_dir = Path(tempfile.mkdtemp(prefix="prism-scale-bench-"))
    env = parts.env(
        PRISM_RATE_LIMIT_ENABLED="false",
        PRISM_LOG_LEVEL="warning",
        PRISM_LAKE_FLUSH_SECONDS="0.5",
        PRISM_SESSIONIZE_TICK_SECONDS="1",
    )
    ingests = [Role("ingest", data_dir / f"i{i}", env, f"ingest{i}") for i in range(n_ingest)]
    workers = [Role("worker", data_dir / f"w{i}", env, f"worker{i}") for i in range(n_worker)]
    for role in (*ingests, *workers):
        role.start()
    for ingest in ingests:
        ingest.wait_healthy(timeout=180)
    key = create_key(env, data_dir, "bench@example.com")
    return Layout(parts, ingests, workers, key, data_dir)


def lake_records(parts: ScaleParts) -> int:
    engine: Any = parts.engine()
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT COALESCE(SUM(records), 0) FROM prism.lake_applied_batches")
        ).scalar()
    engine.dispose()
    return int(n or 0)


async def throughput(layout: Layout, pool: Pool, seconds: float, exporters: int) -> dict[str, Any]:
    acked = records = refused = 0
    lat: list[float] = []
    end = time.monotonic() + seconds

    async def exporter(i: int) -> None:
        nonlocal acked, records, refused
        conn = Conn(layout.ingests[i % len(layout.ingests)].ingest_port, layout.key["key"])
        while time.monotonic() < end:
            body, n = pool.next()
            t0 = time.perf_counter()
            status = await conn.post(body)
            if status == 200:
                acked += 1
                records += n
                lat.append(time.perf_counter() - t0)
            else:
                refused += 1

    t0 = time.monotonic()
    await asyncio.gather(*(exporter(i) for i in range(exporters)))
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 300
    while lake_records(layout.parts) < records and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    drained = time.monotonic() - t0
    return {
        "acked_rps": records / elapsed,
        "lake_rps": records / drained,
        "ack_p50": pct(lat, 0.5),
        "ack_p99": pct(lat, 0.99),
        "refused": refused,
        "records": records,
    }


# --- phase 3 ----------------------------------------------------------------------------------
async def freshness(layout: Layout, rate: float, seconds: float) -> dict[str, float]:
    lake = Lake(layout.parts.storage())  # type: ignore[arg-type]
    acked_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    conns = [Conn(i.ingest_port, layout.key["key"]) for i in layout.ingests]
    end = time.monotonic() + seconds

    async def send() -> None:
        n = 0
        start = time.monotonic()
        while time.monotonic() < end:
            n += 1
            sid = str(uuid.uuid4())
            body = logs_request(
                [{"time": datetime.now(UTC), "session_id": sid, "event_name": "user_prompt"}]
            ).SerializeToString()
            if await conns[n % len(conns)].post(body) == 200:
                acked_at[sid] = time.monotonic()
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))

    async def poll() -> None:
        while time.monotonic() < end + 30 and (
            time.monotonic() < end or len(seen_at) < len(acked_at)
        ):
            pending = [s for s in acked_at if s not in seen_at]
            if pending:
                params = {f"s{i}": s for i, s in enumerate(pending)}
                names = ", ".join(f"$s{i}" for i in range(len(pending)))
                rows = await asyncio.to_thread(
                    lake.sql,
                    f"SELECT DISTINCT session_id FROM events WHERE session_id IN ({names})",
                    params,
                )
                now = time.monotonic()
                for sid in rows.column("session_id").to_pylist():
                    seen_at.setdefault(sid, now)
            await asyncio.sleep(0.05)

    await asyncio.gather(send(), poll())
    delays = [seen_at[s] - acked_at[s] for s in seen_at]
    return {"p50": pct(delays, 0.5), "p99": pct(delays, 0.99), "n": len(delays)}


# --- phase 4 ----------------------------------------------------------------------------------
def scored_payloads() -> list[bytes]:
    start = datetime.now(UTC) - timedelta(days=2)
    stories = (sc.feature_crushed, sc.bug_failed, sc.two_goals, sc.question_trivia)
    return [
        logs_request(sc.event_dicts(story(start=start + timedelta(hours=i)))).SerializeToString()
        for i, story in enumerate(stories * 5)
    ]


def score_latency(ingest_url: str, api_url: str, key: str, requests: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    for body in scored_payloads():
        assert httpx.post(f"{ingest_url}/v1/logs", content=body, headers=headers).status_code == 200

    def ready() -> bool:
        r = httpx.get(f"{api_url}/v1/score_v3/score", params={"window": "monthly"}, headers=headers)
        return r.status_code == 200 and (r.json().get("total_count") or 0) >= 15

    wait_for(ready, timeout=180, interval=0.5, what="the stories to be scored")
    lat = []
    with httpx.Client(headers=headers, timeout=30) as client:
        for i in range(requests):
            window = ("weekly", "monthly", "daily")[i % 3]
            t0 = time.perf_counter()
            r = client.get(f"{api_url}/v1/score_v3/score", params={"window": window})
            lat.append(time.perf_counter() - t0)
            assert r.status_code == 200
    return {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99)}


# --- main -------------------------------------------------------------------------------------
async def main_async(args: argparse.Namespace) -> None:
    os.environ.update(AWS)
    moto = Moto()
    results: dict[str, Any] = {}
    try:
        parts = new_parts(moto.endpoint)
        try:
            results["publish"] = await publish_latency(parts, args.publish_seconds)
        finally:
            await asyncio.to_thread(drop_parts, parts)
        print("publish", results["publish"], flush=True)
        # Freshness and score latency on a fresh 2 x 2 layout (an empty lake: no backlog).
        layout = start_layout(moto.endpoint, 2, 2)
        try:
            results["freshness"] = await freshness(layout, args.rate, args.seconds)
            print("freshness", results["freshness"], flush=True)
            engine = Role("engine", layout.data_dir / "engine", layout.parts.env()).start()
            try:
                engine.wait_healthy(timeout=180)
                dev = create_key(layout.parts.env(), layout.data_dir, "scorer@example.com")
                results["score_scale"] = score_latency(
                    layout.ingests[0].url, engine.url, dev["key"], args.requests
                )
            finally:
                engine.stop()
            print("score scale", results["score_scale"], flush=True)
        finally:
            layout.stop()
            await asyncio.to_thread(drop_parts, layout.parts)
        pool = Pool()
        for n_ingest, n_worker in ((1, 1), (2, 1), (1, 2), (2, 2)):
            layout = start_layout(moto.endpoint, n_ingest, n_worker)
            try:
                r = await throughput(layout, pool, args.seconds, args.exporters)
                results[f"{n_ingest}x{n_worker}"] = r
                print(f"{n_ingest} ingest x {n_worker} worker", r, flush=True)
            finally:
                layout.stop()
                await asyncio.to_thread(drop_parts, layout.parts)
        with PrismServer(Path(tempfile.mkdtemp(prefix="prism-embedded-bench-"))) as server:
            assert server.admin_key
            dev = server.api(
                "POST", "/v1/keys", server.admin_key, json={"developer": "scorer@example.com"}
            ).json()
            results["score_embedded"] = score_latency(
                server.ingest_url, server.api_url, dev["key"], args.requests
            )
        print("score embedded", results["score_embedded"], flush=True)
    finally:
        moto.stop()
    report(results, args)


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    p = r["publish"]
    print("\n## Scale mode results\n")
    print(f"JetStream publish + PubAck ({p['bytes']} B batches, lz4):")
    print(
        f"  1 in flight:  p50 {ms(p['p50_1'])}, p99 {ms(p['p99_1'])} ({p['rate_1']:.0f}/s)\n"
        f"  64 in flight: p50 {ms(p['p50_64'])}, p99 {ms(p['p99_64'])} ({p['rate_64']:.0f}/s)"
    )
    print(f"\nThroughput ({args.exporters} exporters, {args.seconds:.0f}s, records/s):")
    print("| ingest x worker | acked | into the lake | ack p50 | ack p99 | 503s |")
    print("|---|---|---|---|---|---|")
    for name in ("1x1", "2x1", "1x2", "2x2"):
        t = r[name]
        print(
            f"| {name} | {t['acked_rps']:.0f} | {t['lake_rps']:.0f} | {ms(t['ack_p50'])} "
            f"| {ms(t['ack_p99'])} | {t['refused']} |"
        )
    f = r["freshness"]
    print(f"\nLake freshness (ack -> queryable), {args.rate:.0f} req/s, n={f['n']}:")
    print(f"  p50 {ms(f['p50'])}, p99 {ms(f['p99'])}")
    s, e = r["score_scale"], r["score_embedded"]
    print("\nGET /v1/score_v3/score:")
    print(f"  scale (PostgreSQL): p50 {ms(s['p50'])}, p99 {ms(s['p99'])}")
    print(f"  embedded (SQLite):  p50 {ms(e['p50'])}, p99 {ms(e['p99'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--publish-seconds", type=float, default=10.0)
    parser.add_argument("--exporters", type=int, default=32)
    parser.add_argument("--rate", type=float, default=20.0, help="freshness requests/s")
    parser.add_argument("--requests", type=int, default=300, help="score requests per mode")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.publish_seconds, args.requests = 5.0, 2.0, 60
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
