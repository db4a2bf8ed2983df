"""Prism vs Arize Phoenix: the same OTLP span batches, the same concurrency, one run, loopback.

Both servers get identical protobuf ExportTraceServiceRequest bodies (Claude Code-like
interaction traces, tests/support/claude_batches.py) from the same lean HTTP/1.1 client, on
`/v1/traces`. Rounds alternate between the two so that background load on a shared machine hits
both alike; the table shows medians.

What an acknowledgement means differs, and the table says so: Prism answers 200 only once the
batch is fsync'd in its queue; Phoenix answers as soon as the body is decoded and handed to an
in-memory queue, and writes spans to its database later (a crash loses what is in that queue).
So the table also shows how fast spans reach storage: Prism's lake (its writer's journal) and
Phoenix's database (its `spans` table), both read after the load until they stop growing.

Phoenix is not a Prism dependency: it runs from its own virtualenv, by default
`.cache/bench-venv` (ignored by git). Create it once with

    python3 -m venv .cache/bench-venv && .cache/bench-venv/bin/pip install arize-phoenix

or pass --install to have this script do it. Run:

    .venv/bin/python bench/compare_phoenix.py [--batches 150 --spans 100 --concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from ingest import Conn, lake_records  # noqa: E402

from tests.support.claude_batches import span_batch  # noqa: E402
from tests.support.prism_server import PrismServer, free_port, wait_for  # noqa: E402

DEFAULT_VENV = REPO / ".cache" / "bench-venv"


class Phoenix:
    """`phoenix serve` on loopback ports with its own working directory."""

    def __init__(self, venv: Path, workdir: Path) -> None:
        self.venv, self.workdir = venv, workdir
        self.port, self.grpc_port = free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "phoenix.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PHOENIX_PORT": str(self.port),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_GRPC_PORT": str(self.grpc_port),
            "PHOENIX_WORKING_DIR": str(self.workdir),
            "PHOENIX_TELEMETRY_ENABLED": "false",  # no usage pings: loopback only
            "DO_NOT_TRACK": "1",
        }
        env.pop("PYTHONPATH", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.venv / "bin" / "python"), "-m", "phoenix.server.main", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"phoenix exited:\n{self.log_path.read_text()[-3000:]}")
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200

        wait_for(up, timeout=120, interval=0.2, what="phoenix to start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def stored_spans(self) -> int:
        db = self.workdir / "phoenix.db"
        if not db.exists():
            return 0
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
                return int(c.execute("SELECT COUNT(*) FROM spans").fetchone()[0])
        except sqlite3.Error:
            return 0


async def send_all(port: int, path: str, key: str | None, bodies: list[bytes], conc: int) -> float:
    """Post every body once over `conc` connections; return the seconds it took."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    failures: list[str] = []

    async def worker() -> None:
        conn = Conn("127.0.0.1", port, key, path=path)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                for _ in range(50):  # honour backpressure, bounded
                    status, _ = await conn.post(body)
                    if status == 200:
                        break
                    if status not in (429, 503):
                        failures.append(f"HTTP {status}")
                        break
                    await asyncio.sleep(0.1)  # the exporter's retry backoff
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{len(failures)} batches failed: {failures[:3]}")
    return elapsed


def settle(count: Callable[[], int], target: int, timeout: float) -> tuple[int, float]:
    """Wait until `count()` reaches `target` or stops growing; return (count, seconds)."""
    t0 = time.monotonic()
    last, still = -1, 0
    while time.monotonic() - t0 < timeout:
        n = count()
        if n >= target:
            return n, time.monotonic() - t0
        still = still + 1 if n == last else 0
        if still >= 50:  # 5 s without progress
            break
        last = n
        time.sleep(0.1)  # polling interval
    return count(), time.monotonic() - t0


def ensure_venv(venv: Path, install: bool) -> None:
    if (venv / "bin" / "phoenix").exists():
        return
    if not install:
        sys.exit(
            f"Phoenix is not installed in {venv}. Create it with:\n"
            f"  python3 -m venv {venv} && {venv}/bin/pip install arize-phoenix\n"
            "or run this script with --install."
        )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "arize-phoenix"], check=True)


async def run(args: argparse.Namespace) -> None:
    ensure_venv(args.venv, args.install)
    version = subprocess.run(
        [str(args.venv / "bin" / "python"), "-c", "import phoenix; print(phoenix.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    rng = random.Random(args.seed)
    start_ns = time.time_ns() - 3600 * 10**9
    rounds = [
        [
            span_batch(rng, args.spans, start_ns=start_ns + (r * args.batches + i) * 10**9)
            for i in range(args.batches)
        ]
        for r in range(args.rounds)
    ]
    spans_per_round = args.batches * args.spans
    mb = sum(len(b) for b in rounds[0]) / 2**20
    print(
        f"{args.rounds} rounds x {args.batches} batches x {args.spans} spans "
        f"({mb:.1f} MiB/round), concurrency {args.concurrency}, Phoenix {version}, "
        f"loadavg {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
        flush=True,
    )
    base = Path(tempfile.mkdtemp(prefix="prism-vs-phoenix-"))
    prism = PrismServer(base / "prism", env={"PRISM_LOG_LEVEL": "warning"})
    phoenix = Phoenix(args.venv, base / "phoenix")
    rates: dict[str, list[float]] = {"prism": [], "phoenix": []}
    try:
        prism.start()
        key = prism.create_key("bench@example.com")["key"]
        phoenix.start()
        for r, bodies in enumerate(rounds):
            for name in ("prism", "phoenix") if r % 2 == 0 else ("phoenix", "prism"):
                if name == "prism":
                    t = await send_all(
                        prism.ingest_port, "/v1/traces", key, bodies, args.concurrency
                    )
                else:
                    t = await send_all(phoenix.port, "/v1/traces", None, bodies, args.concurrency)
                rates[name].append(spans_per_round / t)
                print(
                    f"  round {r + 1} {name:8s} {spans_per_round / t:>10,.0f} spans/s", flush=True
                )
        total = spans_per_round * args.rounds
        prism_stored, prism_s = settle(lambda: lake_records(prism), total, args.settle)
        phoenix_stored, phoenix_s = settle(phoenix.stored_spans, total, args.settle)
    finally:
        prism.stop()
        phoenix.stop()
    p, x = statistics.median(rates["prism"]), statistics.median(rates["phoenix"])
    rows = [
        ("", "Prism", "Phoenix"),
        ("acknowledged spans/s (median)", f"{p:,.0f}", f"{x:,.0f}"),
        ("a 200 means", "fsync'd in queue", "decoded, in memory"),
        (
            "spans in storage after load",
            f"{prism_stored:,} (+{prism_s:.1f} s)",
            f"{phoenix_stored:,} (+{phoenix_s:.1f} s)",
        ),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)))
    print(f"\n  throughput ratio Prism/Phoenix (acknowledged): {p / x:.2f}x")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="virtualenv with Phoenix")
    p.add_argument("--install", action="store_true", help="create the venv and install Phoenix")
    p.add_argument("--batches", type=int, default=150, help="batches per round")
    p.add_argument("--spans", type=int, default=100, help="spans per batch")
    p.add_argument("--rounds", type=int, default=4, help="rounds, alternating the servers")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--settle", type=float, default=120.0, help="max wait for storage, seconds")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
