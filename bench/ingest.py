"""Ingest benchmark: realistic Claude Code log batches from concurrent exporters against a real
`prism serve` started in a temporary folder, loopback only.

Phases (each bounded; the script stops by itself):
  1. throughput: N exporters post as fast as acks come back for a fixed time; then wait until
     the lake writer has drained the queue. Reports acknowledged records/s, records/s reaching
     Parquet, ack latency, peak RSS of the ingest and worker processes, lake bytes per event.
  2. fixed rate: requests at a steady rate (default 200/s) on the same server; p50/p99 ack
     latency, measured from each request's scheduled send time (no coordinated omission).
  3. overload: a fresh server with a low queue high-water mark flooded by many exporters;
     shows 503 + Retry-After and how ingest memory behaves.

Run:  .venv/bin/python bench/ingest.py            (make bench)
      .venv/bin/python bench/ingest.py --quick     (short smoke run)

Batches are the real Claude Code 2.1.197 export re-timed (tests/support/claude_batches.py), 50 to
200 records each like the CLI's batch exporter. A pool is generated up front and each send
re-times the first record, so every body (and batch id) is distinct without the load generator
spending the CPU the server needs: the client and server share the same cores, and a lean
HTTP/1.1 client keeps the client's share small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.claude_batches import ClaudeLogBatches, LogBatch  # noqa: E402
from tests.support.prism_server import PrismServer, wait_for  # noqa: E402


# --- a lean keep-alive HTTP/1.1 client ----------------------------------------------------------
class Conn:
    """One keep-alive connection, one request at a time (like one exporter)."""

    def __init__(
        self, host: str, port: int, key: str | None = None, path: str = "/v1/logs"
    ) -> None:
        self.host, self.port = host, port
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self.head = (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            f"{auth}"
            "Content-Type: application/x-protobuf\r\n"
            "Content-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


# --- load ---------------------------------------------------------------------------------------
@dataclass
class Tally:
    sent: int = 0
    acked_batches: int = 0
    acked_records: int = 0
    refused: int = 0  # 503
    retry_after: set[str] = field(default_factory=set)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


class Pool:
    """Pre-generated batches; `next()` hands out a distinct body each time."""

    def __init__(self, exporters: int, per_exporter: int, lo: int, hi: int, seed: int) -> None:
        rng = random.Random(seed)
        start = time.time_ns() - 2 * 3600 * 10**9
        self.batches: list[LogBatch] = []
        for e in range(exporters):
            gen = ClaudeLogBatches(exporter=e, start_ns=start + e * 10**9, seed=seed)
            self.batches += [gen.next_batch(rng.randint(lo, hi)) for _ in range(per_exporter)]
        rng.shuffle(self.batches)
        self.i = 0
        self.t = time.time_ns() - 3600 * 10**9

    def next(self) -> tuple[bytes, int]:
        b = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.t += 1000  # a distinct first timestamp: a distinct body
        return b.retimed(self.t), len(b.ids)


async def closed_loop(
    server: PrismServer, key: str, pool: Pool, exporters: int, seconds: float
) -> tuple[Tally, float]:
    """Each exporter sends its next batch as soon as the previous one is answered."""
    tally = Tally()
    end = time.monotonic() + seconds

    async def exporter() -> None:
        conn = Conn("127.0.0.1", server.ingest_port, key)
        try:
            while time.monotonic() < end:
                body, n = pool.next()
                t0 = time.perf_counter()
                try:
                    status, headers = await conn.post(body)
                except (OSError, ConnectionError, asyncio.IncompleteReadError):
                    tally.errors += 1
                    await conn.close()
                    continue
                tally.sent += 1
                if status == 200:
                    tally.latencies.append(time.perf_counter() - t0)
                    tally.acked_batches += 1
                    tally.acked_records += n
                elif status == 503:
                    tally.refused += 1
                    tally.retry_after.add(headers.get("retry-after", "-"))
                    await asyncio.sleep(0.05)  # a real exporter backs off for Retry-After
                else:
                    tally.errors += 1
        finally:
            await conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(exporter() for _ in range(exporters)))
    return tally, time.monotonic() - t0


async def fixed_rate(
    server: PrismServer, key: str, pool: Pool, rate: float, seconds: float, conns: int
) -> Tally:
    """Open loop: request i is due at t0 + i/rate; latency counts from when it was due."""
    tally = Tally()
    total = int(rate * seconds)
    due: asyncio.Queue[float] = asyncio.Queue()

    async def worker() -> None:
        conn = Conn("127.0.0.1", server.ingest_port, key)
        try:
            while True:
                at = await due.get()
                if at < 0:
                    return
                body, n = pool.next()
                try:
                    status, _ = await conn.post(body)
                except (OSError, ConnectionError, asyncio.IncompleteReadError):
                    tally.errors += 1
                    await conn.close()
                    continue
                tally.sent += 1
                if status == 200:
                    tally.latencies.append(time.perf_counter() - at)
                    tally.acked_batches += 1
                    tally.acked_records += n
                else:
                    tally.errors += 1
        finally:
            await conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(conns)]
    t0 = time.perf_counter()
    for i in range(total):
        at = t0 + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the open-loop schedule, not synchronisation
        due.put_nowait(at)
    for _ in workers:
        due.put_nowait(-1.0)
    await asyncio.gather(*workers)
    return tally


# --- server-side observations -------------------------------------------------------------------
def children(server: PrismServer) -> dict[str, int]:
    """Role -> pid of the supervisor's children."""
    assert server.proc is not None
    out: dict[str, int] = {}
    root = server.proc.pid
    try:
        pids = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    except OSError:
        return out
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"prism.cli.main" in cmd and len(cmd) > 3:
            out[cmd[3].decode()] = int(pid)
    return out


def proc_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _sql(path: Path, query: str) -> tuple[int, ...]:
    """One read-only query on one of the server's SQLite files (WAL readers never block it)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return tuple(int(x) for x in conn.execute(query).fetchone())


def lake_records(server: PrismServer) -> int:
    """Records the lake writer has committed (its journal of applied batches)."""
    query = "SELECT COALESCE(SUM(records), 0) FROM lake_applied_batches"
    return _sql(server.data_dir / "prism.db", query)[0]


def queued(server: PrismServer) -> tuple[int, int]:
    query = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM batches"
    n, size = _sql(server.data_dir / "queue.db", query)
    return n, size


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Sampler:
    """Samples RSS of the ingest and worker processes and the lake's progress every 100 ms."""

    def __init__(self, server: PrismServer) -> None:
        self.server = server
        self.pids = children(server)
        self.peak_rss: dict[str, int] = {}
        self.progress: list[tuple[float, int]] = []
        self.max_queue = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for role, pid in self.pids.items():
                self.peak_rss[role] = max(self.peak_rss.get(role, 0), proc_kb(pid, "VmRSS"))
            try:
                done = await asyncio.to_thread(lake_records, self.server)
                self.progress.append((time.monotonic(), done))
                depth, _ = await asyncio.to_thread(queued, self.server)
                self.max_queue = max(self.max_queue, depth)
            except sqlite3.Error:
                pass
            await asyncio.sleep(0.1)  # sampling period

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def pct(values: list[float], p: float) -> float:
    """Percentile `p` of `values` (seconds), in milliseconds."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def latency(values: list[float], *ps: float) -> str:
    return " / ".join(f"{pct(values, p):.1f}" for p in ps) + " ms"


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


# --- phases -------------------------------------------------------------------------------------
SRC: str | None = None  # --src: run another source tree (before/after comparisons)
ISOLATE = False  # --isolate-writer: keep the sessionizer idle so the lake writer has the worker


def start_server(base: Path, name: str, env: dict[str, str]) -> tuple[PrismServer, str]:
    if SRC:
        env = {**env, "PYTHONPATH": SRC}
    if ISOLATE:
        env = {**env, "PRISM_SESSIONIZE_TICK_SECONDS": "3600"}
    server = PrismServer(base / name, env={"PRISM_LOG_LEVEL": "warning", **env})
    server.start()
    key = server.create_key("bench@example.com")["key"]
    return server, key


async def throughput(
    args: argparse.Namespace, server: PrismServer, key: str, pool: Pool
) -> list[tuple[str, str]]:
    """Phase 1: closed loop for `args.seconds`, then wait for the lake to catch up."""
    pids = children(server)
    own = os.getpid()
    cpu0 = {role: cpu_s(pid) for role, pid in {**pids, "client": own}.items()}
    machine0 = busy_jiffies()
    sampler = Sampler(server)
    sampler.start()
    before = lake_records(server)
    tally, elapsed = await closed_loop(server, key, pool, args.exporters, args.seconds)
    load_end = time.monotonic()
    at_load_end = lake_records(server) - before
    cpu1 = {role: cpu_s(pid) for role, pid in {**pids, "client": own}.items()}
    machine1 = busy_jiffies()
    wait_for(
        lambda: lake_records(server) >= before + tally.acked_records,
        timeout=args.drain_timeout,
        interval=0.1,
        what="the lake writer to drain the queue",
    )
    drained = time.monotonic()
    worker_cpu = cpu_s(pids["worker"]) - cpu0["worker"]
    await sampler.stop()
    start = load_end - elapsed
    lake_total = lake_records(server) - before
    lake_bytes = dir_bytes(server.data_dir / "lake")
    rss = {role: proc_kb(pid, "VmHWM") / 1024 for role, pid in pids.items()}
    used = {role: cpu1[role] - cpu0[role] for role in cpu0}
    ours = sum(used.values())
    machine = (machine1[0] - machine0[0]) / os.sysconf("SC_CLK_TCK")
    acked = tally.acked_records
    return [
        ("exporters (connections) / load time", f"{args.exporters} / {elapsed:.1f} s"),
        ("acked batches / records", f"{tally.acked_batches} / {acked}"),
        ("errors / 503s", f"{tally.errors} / {tally.refused}"),
        ("ACKED records/s (durable)", f"{acked / elapsed:,.0f}"),
        ("ack latency p50 / p99", latency(tally.latencies, 50, 99)),
        ("lake records/s during load", f"{at_load_end / elapsed:,.0f}"),
        (
            "LAKE records/s (load start -> drained)",
            f"{lake_total / (drained - start):,.0f} (drained {drained - load_end:.1f} s after)",
        ),
        (
            "CPU s in load: ingest/worker/engine/client",
            " / ".join(f"{used.get(r, 0):.1f}" for r in ("ingest", "worker", "engine", "client")),
        ),
        (
            "CPU s in load: others on this machine",
            f"{max(0.0, machine - ours):.1f} of {2 * elapsed:.0f} available"
            if os.cpu_count() == 2
            else f"{max(0.0, machine - ours):.1f}",
        ),
        ("ingest CPU per acked record", f"{used.get('ingest', 0) / max(acked, 1) * 1e6:.1f} us"),
        ("worker CPU per lake record", f"{worker_cpu / max(lake_total, 1) * 1e6:.1f} us"),
        (
            "peak RSS ingest / worker",
            f"{rss.get('ingest', 0):.0f} / {rss.get('worker', 0):.0f} MiB",
        ),
        ("max queue depth (batches)", f"{sampler.max_queue}"),
        (
            "lake bytes/event",
            f"{lake_bytes / max(lake_total, 1):.1f} B ({lake_bytes / 2**20:.1f} MiB)",
        ),
        (
            "queue.db + metadata after drain",
            f"{(dir_bytes(server.data_dir) - lake_bytes) / 2**20:.1f} MiB",
        ),
    ]


async def steady(
    args: argparse.Namespace, server: PrismServer, key: str, pool: Pool
) -> list[tuple[str, str]]:
    """Phase 2: `args.rate` requests/s, open loop."""
    fixed = await fixed_rate(server, key, pool, args.rate, args.rate_seconds, args.rate_conns)
    due = int(args.rate * args.rate_seconds)
    return [
        (
            f"fixed rate {args.rate:.0f} req/s for {args.rate_seconds:.0f} s",
            f"{fixed.acked_batches}/{due} acked, {fixed.errors} errors, "
            f"{fixed.acked_records / args.rate_seconds:,.0f} records/s",
        ),
        ("  ack latency p50 / p99 / max", latency(fixed.latencies, 50, 99, 100)),
    ]


async def overload(args: argparse.Namespace, base: Path, pool: Pool) -> list[tuple[str, str]]:
    """Phase 3: a low high-water mark and many exporters: 503 + Retry-After, bounded memory."""
    server, key = start_server(
        base, "overload", {"PRISM_QUEUE_HIGH_WATER_BATCHES": str(args.high_water)}
    )
    try:
        pids = children(server)
        sampler = Sampler(server)
        sampler.start()
        rss0 = proc_kb(pids["ingest"], "VmRSS") / 1024
        tally, _ = await closed_loop(
            server, key, pool, args.overload_exporters, args.overload_seconds
        )
        await sampler.stop()
        retry_after = ", ".join(sorted(tally.retry_after)) or "-"
        return [
            (
                f"overload: {args.overload_exporters} exporters for {args.overload_seconds:.0f} s",
                f"high water {args.high_water} batches",
            ),
            (
                "  acked / 503 refused",
                f"{tally.acked_batches} / {tally.refused} (Retry-After: {retry_after})",
            ),
            ("  max queue depth (batches)", f"{sampler.max_queue}"),
            (
                "  ingest RSS before / peak",
                f"{rss0:.0f} / {sampler.peak_rss.get('ingest', 0) / 1024:.0f} MiB",
            ),
            ("  worker RSS peak", f"{sampler.peak_rss.get('worker', 0) / 1024:.0f} MiB"),
        ]
    finally:
        server.stop()


async def run(args: argparse.Namespace) -> int:
    base = Path(tempfile.mkdtemp(prefix="prism-bench-"))
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"nproc={os.cpu_count()}  loadavg={' '.join(load)}  data in {base}", flush=True)
    t = time.perf_counter()
    pool = Pool(args.exporters, args.pool, args.batch_min, args.batch_max, args.seed)
    mean = statistics.mean(len(b.ids) for b in pool.batches)
    print(
        f"pool: {len(pool.batches)} batches, {mean:.0f} records/batch on average, "
        f"{statistics.mean(len(b.payload) for b in pool.batches) / mean:.0f} B/record "
        f"(generated in {time.perf_counter() - t:.1f}s)",
        flush=True,
    )
    results: list[tuple[str, str]] = []
    server, key = start_server(base, "main", {})
    try:
        results += await throughput(args, server, key, pool)
        print(table(results), flush=True)
        results += await steady(args, server, key, pool)
        print(table(results[-2:]), flush=True)
    finally:
        server.stop()
    if args.overload:
        results += await overload(args, base, pool)
    print("\nsummary\n" + table(results), flush=True)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--exporters", type=int, default=8, help="concurrent exporters (connections)")
    p.add_argument("--seconds", type=float, default=20.0, help="throughput phase length")
    p.add_argument("--batch-min", type=int, default=50)
    p.add_argument("--batch-max", type=int, default=200)
    p.add_argument("--pool", type=int, default=48, help="pre-generated batches per exporter")
    p.add_argument("--rate", type=float, default=200.0, help="requests/s of the fixed-rate phase")
    p.add_argument("--rate-seconds", type=float, default=15.0)
    p.add_argument("--rate-conns", type=int, default=32, help="connections of the fixed-rate phase")
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument("--no-overload", dest="overload", action="store_false")
    p.add_argument("--high-water", type=int, default=200, help="overload: queue high-water batches")
    p.add_argument("--overload-exporters", type=int, default=64)
    p.add_argument("--overload-seconds", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    p.add_argument("--quick", action="store_true", help="short run (smoke test of the bench)")
    p.add_argument("--src", help="PYTHONPATH for the server (default: this checkout's src)")
    p.add_argument(
        "--isolate-writer",
        action="store_true",
        help="idle the sessionizer (it shares the worker process with the lake writer)",
    )
    args = p.parse_args()
    p_isolate = args.isolate_writer
    global SRC, ISOLATE
    SRC, ISOLATE = args.src, p_isolate
    if args.quick:
        args.seconds, args.rate_seconds, args.overload_seconds, args.pool = 5.0, 5.0, 5.0, 12
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
