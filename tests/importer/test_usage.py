"""`prism usage` reports on an imported, generated corpus, checked against the generator's
own ledger of every API call's final usage (not against Prism's code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prism.lake.compact import Compactor
from prism.usage.report import tz_of
from prism.usage.service import compute, from_local_lake
from tests.importer.conftest import CC197, REPO, Env, require_samples
from tests.support.transcript_corpus import CorpusStats, generate


@pytest.fixture
def corpus(env: Env, tmp_path: Path) -> CorpusStats:
    stats = generate(tmp_path / "cc", 6_000_000, seed=5, days=20, projects=3)
    summary = env.import_files(tmp_path / "cc" / "projects")
    assert summary.read.skipped.get("corrupt_json", 0) == stats.corrupt_lines
    return stats


def report(env: Env, kind: str, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "org_id": env.org_id,
        "developer_ids": (env.developer_id,),
        "tz": tz_of("UTC"),
        "since": None,
        "until": None,
    }
    args.update(kw)
    result: dict[str, Any] = compute(kind, env.lake, **args).to_json()
    return result


def test_daily_tokens_equal_the_generators_ledger(env: Env, corpus: CorpusStats) -> None:
    daily = report(env, "daily")
    ours = {
        d["date"]: [
            d["inputTokens"],
            d["outputTokens"],
            d["cacheCreationTokens"],
            d["cacheReadTokens"],
        ]
        for d in daily["daily"]
    }
    assert ours == dict(corpus.days)
    assert daily["totals"]["requests"] == corpus.api_calls
    for d in daily["daily"]:
        assert d["totalTokens"] == sum(ours[d["date"]])
        assert d["totalCost"] == pytest.approx(sum(b["cost"] for b in d["modelBreakdowns"]))
        assert d["modelsUsed"] == [b["modelName"] for b in d["modelBreakdowns"]]


def test_every_report_adds_up_to_the_same_totals(env: Env, corpus: CorpusStats) -> None:
    totals = report(env, "daily")["totals"]
    for kind, key in (
        ("weekly", "weekly"),
        ("monthly", "monthly"),
        ("session", "sessions"),
        ("model", "models"),
    ):
        body = report(env, kind)
        assert body["totals"] == totals, kind
        assert sum(p["totalTokens"] for p in body[key]) == totals["totalTokens"], kind
    weeks = [w["week"] for w in report(env, "weekly")["weekly"]]
    assert all(date.fromisoformat(w).weekday() == 6 for w in weeks)  # Sundays, like ccusage
    months = report(env, "monthly")["monthly"]
    assert [m["month"] for m in months] == sorted({d[:7] for d in corpus.days})
    sessions = report(env, "session")["sessions"]
    assert all(s["firstActivity"] <= s["lastActivity"] for s in sessions)


def test_since_until_and_time_zone(env: Env, corpus: CorpusStats) -> None:
    days = sorted(corpus.days)
    lo, hi = date.fromisoformat(days[3]), date.fromisoformat(days[6])
    body = report(env, "daily", since=lo, until=hi)
    assert [d["date"] for d in body["daily"]] == [d for d in days if days[3] <= d <= days[6]]
    # Far east of UTC, an evening session moves to the next day; nothing is lost.
    tokyo = report(env, "daily", tz=tz_of("Asia/Tokyo"))
    assert tokyo["totals"] == report(env, "daily")["totals"]
    assert tokyo["timezone"] == "Asia/Tokyo"
    india = report(env, "daily", tz=tz_of("Asia/Kolkata"))  # 15-minute buckets (UTC+5:30)
    assert india["totals"] == tokyo["totals"]


def test_unpriced_models_are_named_not_zero(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "p" / "-w"
    folder.mkdir(parents=True)
    lines = [
        {
            "type": "assistant",
            "timestamp": f"2026-05-0{i}T10:00:00.000Z",
            "sessionId": "s1",
            "requestId": f"r{i}",
            "version": "2.1.200",
            "message": {
                "id": f"m{i}",
                "model": model,
                "usage": {"input_tokens": 1000, "output_tokens": 10},
            },
        }
        for i, model in ((1, "claude-sonnet-4-6"), (2, "mystery-model-1"))
    ]
    (folder / "s1.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    summary = env.import_files(tmp_path / "p")
    assert dict(summary.mapped.unpriced_models) == {"mystery-model-1": 1}
    body = report(env, "daily")
    assert body["unpricedModels"] == ["mystery-model-1"]
    day2 = body["daily"][1]["modelBreakdowns"][0]
    assert day2["cost"] is None and day2["unpricedRequests"] == 1
    assert body["totals"]["totalCost"] == pytest.approx(0.003 + 0.00015)  # sonnet only


def test_cli_json_and_table(env: Env, corpus: CorpusStats) -> None:
    run_env = dict(
        os.environ,
        PYTHONPATH=str(REPO / "src"),
        PRISM_DATA_DIR=str(env.root),
        TZ="UTC",
        NO_COLOR="1",
    )
    out = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", "usage", "daily", "--json"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    body = json.loads(out.stdout)
    per_day = defaultdict(int)
    for d in body["daily"]:
        per_day[d["date"]] = d["totalTokens"]
    assert per_day == {d: sum(v) for d, v in corpus.days.items()}
    table = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", "usage", "monthly", "--since", "20260301"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "Cache Create" in table and "Total" in table and "$" in table


# --- the rollup cache answers like the query ------------------------------------------------------
def from_rollups(env: Env, kind: str, tz: str = "UTC", **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = from_local_lake(
        kind,
        lake_root=Path(env.settings.lake_root),
        cache_dir=env.root,
        developer_ids=kw.pop("developer_ids", None),
        tz=tz_of(tz),
        since=kw.pop("since", None),
        until=kw.pop("until", None),
    ).to_json()
    return result


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/Los_Angeles"])
def test_rollups_answer_exactly_like_the_query(env: Env, corpus: CorpusStats, tz: str) -> None:
    days = sorted(corpus.days)
    window = {"since": date.fromisoformat(days[2]), "until": date.fromisoformat(days[-3])}
    for kind in ("daily", "weekly", "monthly", "session", "model"):
        expected = report(env, kind, tz=tz_of(tz), developer_ids=None, org_id=None)
        assert from_rollups(env, kind, tz) == expected, kind
        expected = report(env, kind, tz=tz_of(tz), developer_ids=None, org_id=None, **window)
        assert from_rollups(env, kind, tz, **window) == expected, (kind, "window")
    assert (env.root / "usage-rollup.db").exists()


def test_rollups_follow_new_and_compacted_files(
    env: Env, corpus: CorpusStats, tmp_path: Path
) -> None:
    before = from_rollups(env, "daily")
    generate(tmp_path / "more", 2_000_000, seed=99, days=5, projects=1)
    env.import_files(tmp_path / "more" / "projects")
    after = from_rollups(env, "daily")
    assert after["totals"]["requests"] > before["totals"]["requests"]
    assert after == report(env, "daily", developer_ids=None, org_id=None)
    sink = env.sink()
    compactor = Compactor(
        storage=env.storage, sessions=env.sessions, writer=sink.writer, min_files=2, min_age_s=0
    )
    assert compactor.run_once(time.time()) > 0  # files replaced by merged ones
    assert from_rollups(env, "daily") == after


def test_rollups_defer_to_the_query_when_a_session_is_stored_both_ways(env: Env) -> None:
    require_samples()
    env.import_files(CC197 / "transcript.jsonl")
    from tests.importer.test_lake_import import _write_otlp_197

    _write_otlp_197(env, env.developer_id)
    body = from_rollups(env, "daily")
    assert body["totals"]["requests"] == 3  # live rows win; the imported two are not added
    assert body["totals"]["totalCost"] == pytest.approx((20050 + 20100 + 20200) / 1e6)


def test_cli_with_a_developer_takes_the_full_path(env: Env, corpus: CorpusStats) -> None:
    run_env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PRISM_DATA_DIR=str(env.root))
    args = [sys.executable, "-m", "prism.cli.main", "usage", "daily", "--json", "-z", "UTC"]
    mine = subprocess.run(
        [*args, "--developer", "dev@acme.test"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    nobody = subprocess.run(
        [*args, "--developer", "nobody@acme.test"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(mine.stdout)["totals"]["requests"] == corpus.api_calls
    assert json.loads(nobody.stdout)["daily"] == []
