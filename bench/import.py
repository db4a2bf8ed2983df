"""Import and usage benchmark: a generated transcript corpus of >= 1 GB, `prism import` into a
fresh data dir, then `prism usage daily` against `ccusage daily --offline` on the same history.

Phases (each bounded; everything lives in one temporary folder deleted at the end):
  1. generate: realistic Claude Code transcripts (tests/support/transcript_corpus.py), one
     small corpus (--small-gb) and one large (--gb), written below <tmp>/<name>/projects;
  2. import: `prism import <corpus>` as a subprocess on a fresh PRISM_DATA_DIR, for both
     corpora: wall time, MB/s, records/s, CPU seconds, peak RSS of the whole process tree
     (sampled from /proc). Flat memory shows as the same peak for 4x the data;
  3. reimport: the same command again (the manifest skips every file) and with --force
     (every file read again, every event found already stored);
  4. usage: `prism usage daily --json` (the lake) and `ccusage claude daily --offline --json`
     (the raw files, CLAUDE_CONFIG_DIR at the corpus), TZ=UTC, best of --repeat runs each,
     side by side: wall time, ratio, and whether daily tokens and costs agree.

Run:  .venv/bin/python bench/import.py            (1 GB; several minutes)
      .venv/bin/python bench/import.py --gb 0.2 --small-gb 0.05   (quick)

ccusage comes from scripts/install-ccusage.sh (npm, into .cache/); without npm that part is
skipped and said so. The machine's load is printed: the numbers mean little on a busy box.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.transcript_corpus import generate  # noqa: E402

PYTHON = sys.executable
STEP_TIMEOUT_S = 1800  # no step may run away: the bench always ends


# --- process-tree sampling ------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeRss:
    """Peak summed RSS of a process and its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.peak_main_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid]
            i = 0
            while i < len(pids):
                pids += _children(pids[i])
                i += 1
            total = sum(_rss_kb(p) for p in pids)
            self.peak_kb = max(self.peak_kb, total)
            self.peak_main_kb = max(self.peak_main_kb, _rss_kb(self.pid))
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = TreeRss(proc.pid)
    try:
        out, err = proc.communicate(timeout=STEP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        sampler.stop()
        raise SystemExit(f"{' '.join(cmd[:4])} took over {STEP_TIMEOUT_S} s") from None
    wall = time.perf_counter() - t0
    sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_tree_mib": sampler.peak_kb / 1024,
        "peak_main_mib": sampler.peak_main_kb / 1024,
        "stdout": out.decode(),
    }


def prism_env(data_dir: Path) -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PRISM_DATA_DIR"] = str(data_dir)
    env["TZ"] = "UTC"
    env.pop("PRISM_CONFIG_FILE", None)
    return env


def prism(*args: str) -> list[str]:
    return [PYTHON, "-m", "prism.cli.main", *args]


def ccusage_path() -> str | None:
    try:
        out = subprocess.run(
            ["bash", str(REPO / "scripts" / "install-ccusage.sh")],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  ccusage not available ({exc}); usage comparison skipped")
        return None
    return out.stdout.strip().splitlines()[-1]


def best_of(n: int, cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(best, first, stdout) of `n` runs: the first run is the cold one."""
    times = []
    out = ""
    for _ in range(n):
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=STEP_TIMEOUT_S)
        times.append(time.perf_counter() - t0)
        out = res.stdout.decode()
    return min(times), times[0], out


def compare_daily(prism_json: dict[str, Any], cc_json: dict[str, Any]) -> dict[str, Any]:
    ours = {d["date"]: d for d in prism_json["daily"]}
    theirs = {d["date"]: d for d in cc_json["daily"]}
    worst_tokens = worst_cost = 0.0
    for day in set(ours) | set(theirs):
        a, b = ours.get(day, {}), theirs.get(day, {})
        ta, tb = a.get("totalTokens", 0), b.get("totalTokens", 0)
        ca, cb = a.get("totalCost", 0.0), b.get("totalCost", 0.0)
        worst_tokens = max(worst_tokens, abs(ta - tb) / max(tb, 1))
        worst_cost = max(worst_cost, abs(ca - cb) / max(cb, 1e-9))
    return {
        "days": len(set(ours) | set(theirs)),
        "max_token_diff": worst_tokens,
        "max_cost_diff": worst_cost,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gb", type=float, default=1.05, help="size of the large corpus")
    ap.add_argument("--small-gb", type=float, default=0.26, help="size of the small corpus")
    ap.add_argument("--repeat", type=int, default=3, help="usage runs per tool (best taken)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(load)}")
    tmp = Path(tempfile.mkdtemp(prefix="prism-import-bench-"))
    results: dict[str, Any] = {}
    try:
        corpora = {}
        for name, gb in (("small", args.small_gb), ("large", args.gb)):
            t0 = time.perf_counter()
            stats = generate(tmp / name, int(gb * 1e9), seed=11, days=90, projects=12)
            corpora[name] = stats
            print(
                f"generated {name}: {stats.bytes / 1e6:,.0f} MB, {stats.files:,} files, "
                f"{stats.lines:,} lines, {stats.api_calls:,} API calls "
                f"in {time.perf_counter() - t0:.0f} s"
            )
        for name in ("small", "large"):
            data = tmp / f"data-{name}"
            env = prism_env(data)
            cmd = prism("import", str(tmp / name / "projects"), "--json")
            cmd += ["--developer", "bench@example.com"]
            r = run_measured(cmd, env)
            summary = json.loads(r["stdout"])
            mb = summary["bytes"] / 1e6
            r.update(
                mb=mb,
                mb_s=mb / r["wall"],
                records=summary["records"],
                records_s=summary["records"] / r["wall"],
                events=summary["events_written"],
                skipped=summary["skipped_lines"],
            )
            r.pop("stdout")
            results[f"import_{name}"] = r
            print(
                f"import {name}: {mb:,.0f} MB in {r['wall']:.1f} s = {r['mb_s']:.1f} MB/s, "
                f"{r['records_s']:,.0f} records/s, {r['events']:,} events, CPU {r['cpu']:.1f} s, "
                f"peak RSS {r['peak_tree_mib']:.0f} MiB (tree) / {r['peak_main_mib']:.0f} MiB "
                f"(main)"
            )
        env = prism_env(tmp / "data-large")
        large = str(tmp / "large" / "projects")
        owner = ("--developer", "bench@example.com")
        again = run_measured(prism("import", large, "--json", *owner), env)
        forced = run_measured(prism("import", large, "--json", "--force", *owner), env)
        again_s, forced_s = json.loads(again["stdout"]), json.loads(forced["stdout"])
        results["reimport"] = {"wall": again["wall"], "written": again_s["events_written"]}
        results["force"] = {
            "wall": forced["wall"],
            "written": forced_s["events_written"],
            "already": forced_s["events_already_stored"],
        }
        print(
            f"reimport (manifest): {again['wall']:.1f} s, {again_s['events_written']} written; "
            f"--force: {forced['wall']:.1f} s, {forced_s['events_written']} written, "
            f"{forced_s['events_already_stored']:,} already stored"
        )

        p_time, p_cold, p_out = best_of(args.repeat, prism("usage", "daily", "--json"), env)
        results["usage_prism_s"] = p_time
        results["usage_prism_cold_s"] = p_cold
        print(
            f"prism usage daily --json: {p_time:.2f} s (best of {args.repeat}); the first run, "
            f"which also sums the lake's files into the rollup cache: {p_cold:.2f} s"
        )
        cc = ccusage_path()
        if cc:
            cc_env = dict(env, CLAUDE_CONFIG_DIR=str(tmp / "large"), HOME=str(tmp / "home"))
            (tmp / "home").mkdir(exist_ok=True)
            c_time, c_cold, c_out = best_of(
                args.repeat, [cc, "claude", "daily", "--offline", "--json", "-z", "UTC"], cc_env
            )
            cmp = compare_daily(json.loads(p_out), json.loads(c_out))
            results["usage_ccusage_s"] = c_time
            results["usage_ccusage_first_s"] = c_cold
            results["usage_ratio"] = c_time / p_time
            results["usage_ratio_cold"] = c_time / p_cold
            results["agreement"] = cmp
            print(
                f"ccusage daily --offline --json: {c_time:.2f} s (best of {args.repeat}); "
                f"prism is {c_time / p_time:.1f}x faster ({c_time / p_cold:.1f}x on its cold "
                f"run); over {cmp['days']} days the largest "
                f"difference is {cmp['max_token_diff']:.4%} in tokens, "
                f"{cmp['max_cost_diff']:.4%} in cost"
            )
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average at the end: {' '.join(load)}")
        print(json.dumps({k: v for k, v in results.items()}, default=_plain, indent=1))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _plain(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 3)
    return statistics.mean(v) if isinstance(v, list) else str(v)


if __name__ == "__main__":
    raise SystemExit(main())
