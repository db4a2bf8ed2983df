"""Demo benchmark: generate and ingest a `prism demo` (default 5 developers, 28 days) into a
real `prism serve` started in a temporary folder, loopback only.

Reports, for one run:
  generate   planning and building every session in memory (events, metric points);
  ingest     keys + every OTLP/HTTP protobuf export acknowledged (durable), events/s;
  total      generate + ingest, what `prism demo` costs a user before the prompt returns;
  judged     until the worker has sessionized and judged every arc (read through the API),
             and how many verdicts match the stories.

Run:  .venv/bin/python bench/demo.py              (5 developers, 28 days)
      .venv/bin/python bench/demo.py --days 7     (smaller)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

import httpx  # noqa: E402

from prism.demo.check import compare, wait_for_verdicts  # noqa: E402
from prism.demo.generator import (  # noqa: E402
    ApiKeys,
    DemoConfig,
    build_plan,
    developer_id_of,
    send,
)
from tests.support.prism_server import PrismServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--developers", type=int, default=5)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--judge-timeout", type=float, default=600.0)
    args = ap.parse_args()
    config = DemoConfig(args.developers, args.days, args.seed)

    with tempfile.TemporaryDirectory(prefix="prism-bench-demo-") as tmp:
        server = PrismServer(Path(tmp) / "data")
        server.start()
        try:
            assert server.admin_key is not None
            t0 = time.monotonic()
            plan = build_plan(config)
            t_plan = time.monotonic() - t0

            t1 = time.monotonic()
            keys: dict[str, str] = {}
            ids: dict[str, str] = {}
            with httpx.Client(timeout=30.0) as client:
                source = ApiKeys(client, server.api_url, server.admin_key)
                for dev in plan.developers:
                    keys[dev.email] = source.create(dev.email)
                    ids[dev.email] = developer_id_of(client, server.api_url, keys[dev.email])
            stats = send(
                plan, keys, ingest_url=server.ingest_url, concurrency=min(8, args.developers)
            )
            t_ingest = time.monotonic() - t1

            manifest = plan.manifest(ids)
            t2 = time.monotonic()
            verdicts = wait_for_verdicts(
                manifest, keys, server.api_url, timeout_s=args.judge_timeout
            )
            t_judged = time.monotonic() - t2
            report = compare(manifest, verdicts)
        finally:
            server.stop()

    result = {
        "developers": args.developers,
        "days": args.days,
        "sessions": len(plan.sessions),
        "arcs": len(plan.arcs),
        "events": plan.event_count,
        "metric_points": plan.metric_point_count,
        "requests": stats.requests,
        "body_mb": round(stats.bytes / 1e6, 2),
        "generate_s": round(t_plan, 2),
        "ingest_s": round(t_ingest, 2),
        "total_s": round(t_plan + t_ingest, 2),
        "events_per_s": round(plan.event_count / (t_plan + t_ingest)),
        "ingest_events_per_s": round(plan.event_count / t_ingest),
        "judged_after_ingest_s": round(t_judged, 2),
        "verdicts_matching": f"{report.matched}/{report.total}",
        "clear_cut_matching": f"{report.clear_matched}/{report.clear_total}",
        "retries": stats.retries,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
