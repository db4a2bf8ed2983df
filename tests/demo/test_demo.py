"""`prism demo` and `prism serve --demo`: realistic history whose judged verdicts match its
stories.

The unit tests build plans in memory (fast); the end-to-end tests run a real `prism serve
--demo` on a small demo (2 developers, 5 days), read the verdicts through the API with the
developer keys it prints, run `prism demo` against it with an admin key, and restart it on the
same data dir to show the demo is loaded once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from prism.demo import stories as st
from prism.demo.check import compare, differences, judge_in_memory, wait_for_verdicts
from prism.demo.generator import DemoConfig, build_plan
from prism.sessions import text as tx
from prism.sessions.model import MetricSignal
from tests.support.prism_server import PrismServer, wait_for

UNTIL = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # a Friday afternoon
_KEY_LINE = re.compile(r"^\s+(\S+@example\.com)\s+(gck_[A-Za-z0-9_-]{20,})\s*$", re.MULTILINE)


def _judge(plan: Any) -> dict[str, Any]:
    events = [e for s in plan.sessions for e in s.events]
    signals = [
        MetricSignal(p["time"], s.session_id, p["name"], p["value"], s.developer)
        for s in plan.sessions
        for p in s.metrics
        if p["name"] in ("claude_code.commit.count", "claude_code.pull_request.count")
    ]
    return judge_in_memory(events, signals)


# --- in memory -----------------------------------------------------------------------------------


def test_same_seed_same_manifest_and_events() -> None:
    a = build_plan(DemoConfig(developers=3, days=6, seed=7, until=UNTIL))
    b = build_plan(DemoConfig(developers=3, days=6, seed=7, until=UNTIL))
    assert json.dumps(a.manifest(), sort_keys=True) == json.dumps(b.manifest(), sort_keys=True)
    assert [e for s in a.sessions for e in s.events] == [e for s in b.sessions for e in s.events]
    other = build_plan(DemoConfig(developers=3, days=6, seed=8, until=UNTIL))
    assert other.manifest()["arcs"] != a.manifest()["arcs"]


@pytest.mark.parametrize("seed", [7, 31])
def test_the_judge_agrees_with_every_story(seed: int) -> None:
    plan = build_plan(DemoConfig(developers=4, days=14, seed=seed, until=UNTIL))
    verdicts = _judge(plan)
    report = compare(plan.manifest({d.email: d.email for d in plan.developers}), verdicts)
    assert report.missing == 0
    assert report.clear_matched == report.clear_total, report.mismatches[:5]
    # Every arc the sessionizer finds is one the generator meant to write.
    assert len(verdicts) == len(plan.arcs)


def test_a_small_demo_holds_every_story() -> None:
    plan = build_plan(DemoConfig(developers=2, days=5, seed=7, until=UNTIL))
    assert set(plan.story_counts()) == set(st.STORIES)
    roles = Counter(a.role for _, a in plan.arcs if a.story == "fix_then_rework")
    assert roles["original"] == roles["rework"] >= 1


def test_history_looks_like_real_use() -> None:
    plan = build_plan(DemoConfig(developers=5, days=28, seed=7, until=UNTIL))
    sessions = plan.sessions
    weekday = [s for s in sessions if s.start.weekday() < 5]
    # 20 weekdays and 8 weekend days in 28 days: weekdays are much busier per day.
    assert len(weekday) / 20 > 3 * (len(sessions) - len(weekday)) / 8
    assert {s.model for s in sessions} == {st.OPUS, st.SONNET, st.HAIKU}
    assert all(s.end <= UNTIL - timedelta(minutes=30) for s in sessions)
    assert min(s.start for s in sessions).date() == (UNTIL - timedelta(days=27)).date()

    requests = [e for s in sessions for e in s.events if e.event_name == "api_request"]
    for e in requests:
        assert e.cost_micro_usd == st.cost_micro_usd(
            e.model, e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_creation_tokens
        )
    # Prompt caching: most tokens are cache reads, and cost is dominated by the main loop.
    reads = sum(e.cache_read_tokens or 0 for e in requests)
    assert reads > 3 * sum(e.cache_creation_tokens or 0 for e in requests)
    daily: Counter[tuple[str, Any]] = Counter()
    for s in sessions:
        for e in s.events:
            if e.event_name == "api_request":
                daily[(s.developer, e.time.date())] += e.cost_micro_usd or 0
    median = sorted(daily.values())[len(daily) // 2]
    assert 300_000 < median < 20_000_000  # between $0.30 and $20 per developer-day

    bash = [
        json.loads(e.tool_parameters)["full_command"]
        for s in sessions
        for e in s.events
        if e.event_name == "tool_result" and e.tool_name == "Bash"
    ]
    kinds = Counter(k for c in bash for k in tx.command_kinds(c))
    assert kinds["verify"] > 300 and kinds["commit"] > 50 and kinds["pr"] > 5
    failed = [
        e
        for s in sessions
        for e in s.events
        if e.event_name == "tool_result" and e.tool_name == "Bash" and e.success is False
    ]
    assert len(failed) > 50
    prompts = [e.prompt for s in sessions for e in s.events if e.event_name == "user_prompt"]
    assert len(set(prompts)) > 150
    stories = plan.story_counts()
    integrity = sum(stories.get(k, 0) for k in st.INTEGRITY_STORIES)
    assert 0 < integrity < 0.15 * len(plan.arcs)
    commits = [p for s in sessions for p in s.metrics if p["name"] == "claude_code.commit.count"]
    assert len(commits) == kinds["commit"]


def test_differences_reads_flags_as_a_subset() -> None:
    expected = {"crushed": False, "flags": ["auto_retry_storm"]}
    assert differences(expected, {"crushed": False, "flags": ["a", "auto_retry_storm"]}) == {}
    assert differences(expected, {"crushed": True, "flags": []}) == {
        "crushed": [False, True],
        "flags": [["auto_retry_storm"], []],
    }


# --- end to end ----------------------------------------------------------------------------------


class DemoServer(PrismServer):
    """`prism serve --demo`; `new_log()` is what the latest start printed."""

    offset = 0

    def start(self, timeout: float = 120.0) -> DemoServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.offset = len(self.log())
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prism.cli.main", "serve", "--demo"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prism serve exited early:\n{self.log()}")
            return "Prism is ready" in self.new_log()

        try:
            wait_for(ready, timeout=timeout, what="prism serve --demo to be ready")
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise
        if self.admin_key is None:
            match = re.search(r"gck_[A-Za-z0-9_-]{20,}", self.new_log())
            self.admin_key = match.group(0) if match else None
        return self

    def new_log(self) -> str:
        return self.log()[self.offset :]

    def wait_demo(self, marker: str, timeout: float = 120.0) -> str:
        def seen() -> str | None:
            text = self.new_log()
            if "the demo history was not loaded" in text:
                raise AssertionError(text)
            return text if marker in text else None

        return wait_for(seen, timeout=timeout, interval=0.2, what=f"{marker!r} in the log")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(
        tmp_path_factory.mktemp("demo"),
        env={"PRISM_DEMO_DEVELOPERS": "2", "PRISM_DEMO_DAYS": "5", "PRISM_DEMO_SEED": "7"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.e2e
def test_serve_demo_verdicts_match_the_stories(demo_server: DemoServer) -> None:
    text = demo_server.wait_demo("scores fill in")
    keys = dict(_KEY_LINE.findall(text))
    assert len(keys) == 2
    manifest = json.loads((demo_server.data_dir / "demo" / "manifest.json").read_text())
    assert set(keys) == {d["email"] for d in manifest["developers"]}

    verdicts = wait_for_verdicts(manifest, keys, demo_server.api_url, timeout_s=120)
    report = compare(manifest, verdicts)
    assert report.missing == 0
    assert report.clear_matched == report.clear_total, report.mismatches[:5]
    assert set(report.by_story) == set(st.STORIES)
    for story in ("feature_crushed", "bug_failed", "question_trivia", "retry_storm"):
        assert report.by_story[story].matched == report.by_story[story].arcs > 0

    expected = {e["arc_id"]: e for e in manifest["arcs"]}
    for email, key in keys.items():
        score = demo_server.api("GET", "/v1/score_v3/score", key, params={"window": "weekly"})
        assert score.status_code == 200
        assert any(v is not None for v in score.json()["sparkline"]), score.json()
        # The speed list carries its own flags: the same stories hold there.
        r = demo_server.api("GET", "/v1/score_v3/speed/sessions", key)
        assert r.status_code == 200
        for item in r.json():
            entry = expected.get(item["id"])
            if entry is None or not entry["clear_cut"]:
                continue
            want = {k: v for k, v in entry["expected"].items() if k in item}
            assert differences(want, item) == {}, (email, entry["story"], item)


@pytest.mark.e2e
def test_prism_demo_with_an_admin_key_checks_itself(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    demo_server.wait_demo("scores fill in")
    # Three weeks before the served demo: same people, no shared rework or splitting window.
    until = (datetime.now(UTC) - timedelta(days=21)).replace(microsecond=0).isoformat()
    path = tmp_path / "manifest.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "prism.cli.main", "demo",
            "--developers", "1", "--days", "3", "--seed", "11", "--until", until,
            "--key", demo_server.admin_key or "",
            "--ingest-url", demo_server.ingest_url, "--api-url", demo_server.api_url,
            "--manifest", str(path), "--check", "--json",
        ],
        env=demo_server.env(),
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    out = json.loads(result.stdout)
    assert out["developers"] == 1 and out["events"] > 0 and len(out["keys"]) == 1
    assert out["check"]["missing"] == 0
    assert out["check"]["clear_cut_match_rate"] == 1.0, out["check"]["mismatches"]
    assert json.loads(path.read_text())["totals"]["arcs"] == out["arcs"]


@pytest.mark.e2e
def test_serve_demo_twice_loads_it_once(demo_server: DemoServer) -> None:
    demo_server.wait_demo("scores fill in")
    state = (demo_server.data_dir / "demo" / "state.json").read_text()
    keys_before = json.loads(demo_server.cli("keys", "list", "--json").stdout)
    demo_server.stop()
    demo_server.start()
    text = demo_server.wait_demo("not loading it again")
    assert "Demo history:" not in text and "Developer keys" not in text
    assert (demo_server.data_dir / "demo" / "state.json").read_text() == state
    assert json.loads(demo_server.cli("keys", "list", "--json").stdout) == keys_before
    with httpx.Client(timeout=30) as client:
        r = client.get(
            demo_server.api_url + "/v1/keys",
            headers={"Authorization": f"Bearer {demo_server.admin_key}"},
        )
    assert r.status_code == 200
