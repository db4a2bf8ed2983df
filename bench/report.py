"""Report benchmark: a month's report for a heavy developer, heuristic writer and LLM writer.

Builds two months of scenario stories (tests/unit/scenarios.py) for one developer, N sessions
per working day, writes them to a real Parquet lake (one file per day, as the lake writer would
after compaction), judges them with the real sessionizer, then times `ReportService.generate`
for the monthly window:

  heuristic   wall time of a whole generation (arcs, KPIs vs the previous month, lake query by
              model, worst prompts, Markdown), cold (first in the process) and warm (median);
              target < 2 s;
  llm         Prism's own LLM tokens and cost per report with the LLM writer configured
              (claude-sonnet-4-6 price) against the local Anthropic stand-in, which counts
              ~4 characters per token of the real request and answer. Reported, not a target.

Run:  .venv/bin/python bench/report.py                       (20 sessions per working day)
      .venv/bin/python bench/report.py --sessions-per-day 8  (smaller)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from prism.insights.i18n import Choice  # noqa: E402
from prism.insights.jobs import JobSpec, ReportService  # noqa: E402
from prism.insights.report import period  # noqa: E402
from prism.insights.writer import LLMWriter  # noqa: E402
from prism.lake.query import Lake  # noqa: E402
from prism.lake.storage import LocalStorage  # noqa: E402
from prism.llm.client import client_for  # noqa: E402
from prism.runtime.parts import open_store  # noqa: E402
from prism.score.reader import ScoreReader  # noqa: E402
from prism.score.thresholds import ScoringConfig  # noqa: E402
from prism.sessions.model import EventRow  # noqa: E402
from prism.sessions.worker import Sessionizer, mark_dirty  # noqa: E402
from prism.settings import Settings  # noqa: E402
from prism.store.db import session_factory  # noqa: E402
from tests.api.test_score_v3_api import write_lake  # noqa: E402
from tests.llm.standins import StandIn  # noqa: E402
from tests.unit import scenarios as sc  # noqa: E402

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # end of the monthly window's last day
STORIES: list[Callable[..., Any]] = [
    sc.feature_crushed,
    sc.bug_failed,
    sc.two_goals,
    sc.question_trivia,
    sc.idle_gap,
    sc.fix_then_rework,
    sc.feature_crushed,
    sc.self_grading,
    sc.tiny_burst,
    sc.retry_storm,
]


def build(root: Path, per_day: int) -> tuple[Settings, Any, str, str, int, int]:
    settings = Settings(data_dir=root)
    engine, keys = open_store(settings)
    sessions = session_factory(engine)
    who = keys.authenticate(keys.create_key(developer="heavy@example.com", org="bench").key)
    storage = LocalStorage(settings.lake_root)
    by_day: dict[str, list[EventRow]] = defaultdict(list)
    day = datetime(2026, 10, 1, tzinfo=UTC)
    n_sessions = 0
    while day < NOW.replace(hour=0):
        if day.weekday() < 5:
            for i in range(per_day):
                start = day.replace(hour=8) + timedelta(minutes=25 * i)
                made = STORIES[(i + day.day) % len(STORIES)](start, developer_id=who.developer_id)
                for events in made if isinstance(made, tuple) else (made,):
                    for e in events:
                        by_day[e.time.strftime("%Y-%m-%d")].append(e)
                    n_sessions += 1
        day += timedelta(days=1)
    for events in by_day.values():
        write_lake(storage, who.org_id, events)
    with sessions.begin() as s:
        mark_dirty(s, {(who.org_id, who.developer_id): datetime(2026, 9, 1, tzinfo=UTC)})
    t0 = time.monotonic()
    arcs = Sessionizer(
        sessions=sessions, lake=Lake(storage), config=ScoringConfig(), clock=lambda: NOW
    ).run_once()
    print(f"built {n_sessions} sessions, {arcs} arcs judged in {time.monotonic() - t0:.1f} s")
    return settings, sessions, who.org_id, who.developer_id, n_sessions, arcs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions-per-day", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="prism-bench-report-") as tmp:
        settings, sessions, org, dev, n_sessions, _ = build(Path(tmp), args.sessions_per_day)
        reader = ScoreReader(sessions, ScoringConfig(), clock=lambda: NOW)
        lake = Lake(LocalStorage(settings.lake_root))
        month = period("monthly", None, None, now=NOW, tz="UTC")
        in_month = [a for a in reader.arcs(dev, month.current.start_utc) if a.ended_at < NOW]
        spec = JobSpec("v3", "personal", org, dev, dev, Choice("en", None, False), month)
        svc = ReportService(settings=settings, sessions=sessions, lake=lake, reader=reader)
        times = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            report = svc.generate(spec)
            times.append(time.monotonic() - t0)
        svc.close()
        print(
            f"month: {len(in_month)} arcs ({n_sessions} sessions over two months), "
            f"{report['breakdown']['totals']['model_requests']} model requests in the window"
        )
        print(
            f"heuristic writer: cold {times[0] * 1000:.0f} ms, warm median "
            f"{statistics.median(times[1:]) * 1000:.0f} ms (max {max(times[1:]) * 1000:.0f} ms), "
            f"markdown {len(report['markdown']):,} chars"
        )
        with StandIn("ok", count_tokens=True) as standin:
            llm = settings.model_copy(
                update={
                    "llm_provider": "anthropic",
                    "llm_model": "claude-sonnet-4-6",
                    "llm_base_url": standin.url,
                    "llm_api_key": "bench",
                    "llm_tasks": ["reports"],
                }
            )
            writer = LLMWriter(client_for(llm, "reports", sessions=sessions))
            svc = ReportService(
                settings=llm,
                sessions=sessions,
                lake=lake,
                reader=reader,
                writer_factory=lambda: writer,
            )
            t0 = time.monotonic()
            report = svc.generate(spec)
            elapsed = time.monotonic() - t0
            svc.close()
        usage = report["llm_usage"]
        print(
            f"LLM writer (claude-sonnet-4-6 prices, stand-in): {usage['input_tokens']:,} input + "
            f"{usage['output_tokens']:,} output tokens = ${usage['cost_usd']:.4f} per report "
            f"({elapsed * 1000:.0f} ms with the local stand-in)"
        )


if __name__ == "__main__":
    main()
