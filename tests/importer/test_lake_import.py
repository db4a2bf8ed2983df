"""Importing real transcripts into a real lake: every sample, idempotence, corrupt lines,
resuming, the OTLP + import join on the captured 2.1.197 session, and judging.

Expectations are read off the sample files here, independently of the importer's code.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from prism.lake.normalize import NormalizeOptions
from prism.lake.writer import LakeWriter
from prism.queue.base import Batch, Claimed
from prism.queue.local import LocalQueue
from prism.score.thresholds import ScoringConfig
from prism.sessions.worker import Sessionizer, dirty_hook
from prism.store.models import Org, SubSession
from prism.usage.report import tz_of
from prism.usage.service import compute
from tests.importer.conftest import CC197, PUBLIC, Env, require_samples

SESSION_197 = "b7ab493d-1805-482a-bfef-540dd391eb0d"
OTLP_197_COST = 20050 + 20100 + 20200  # cost_usd_micros of its three api_request events


def sample_dir(tmp: Path) -> Path:
    """The public transcripts plus the 2.1.197 one, laid out as a projects folder."""
    require_samples()
    root = tmp / "projects" / "-home-user-project"
    root.mkdir(parents=True)
    for p in sorted(PUBLIC.glob("*.jsonl")):
        shutil.copy(p, root / p.name)
    shutil.copy(CC197 / "transcript.jsonl", root / f"{SESSION_197}.jsonl")
    return tmp / "projects"


def independent_counts(folder: Path) -> dict[str, int]:
    """What the files hold, read naively: lines, API calls, user prompts, tool results."""
    lines = 0
    calls: set[tuple[str, str]] = set()
    results: set[str] = set()
    for p in folder.rglob("*.jsonl"):
        for raw in p.read_bytes().splitlines():
            lines += 1
            d = orjson.loads(raw)
            msg = d.get("message") if d.get("type") == "assistant" else None
            if d.get("type") == "progress" and d.get("data", {}).get("type") == "agent_progress":
                inner = d["data"].get("message") or {}
                if inner.get("type") == "assistant":
                    msg, d = inner.get("message"), inner
            if isinstance(msg, dict) and msg.get("usage") and msg.get("model") != "<synthetic>":
                calls.add((msg["id"], d.get("requestId") or ""))
            content = (d.get("message") or {}).get("content") if d.get("type") == "user" else None
            if isinstance(content, list):
                for b in content:
                    if b.get("type") == "tool_result" and not b.get("is_error"):
                        results.add(b["tool_use_id"])
    return {"lines": lines, "calls": len(calls), "ok_results": len(results)}


def test_every_sample_transcript_imports(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    expected = independent_counts(folder)
    summary = env.import_files(folder)
    assert summary.read.files == 9
    assert summary.read.lines == expected["lines"]
    assert summary.read.records == expected["lines"]  # the samples have no broken line
    assert dict(summary.read.skipped) == {}
    assert summary.mapped.unknown_types == Counter()
    assert summary.mapped.unpriced_models == Counter()
    rows = env.events()
    names = Counter(r["event_name"] for r in rows)
    assert names["api_request"] == expected["calls"]
    ok = {r["tool_use_id"] for r in rows if r["event_name"] == "tool_result" and r["success"]}
    assert len(ok) == expected["ok_results"]
    assert summary.written == len(rows)
    # every row is the developer's, from an import batch, with a session
    assert {r["developer_id"] for r in rows} == {env.developer_id}
    assert all(r["batch_id"].startswith("imp-") and len(r["batch_id"]) == 64 for r in rows)
    assert all(r["session_id"] for r in rows)
    # the 2.1.197 session, read by hand from transcript.jsonl
    s197 = [r for r in rows if r["session_id"] == SESSION_197]
    prompt = next(r for r in s197 if r["event_name"] == "user_prompt")
    assert prompt["prompt"] == "Create out.txt containing hello and verify it"
    assert prompt["prompt_id"] == "2c2d1282-a489-41a9-aa3e-b58f40cbc03e"
    tool = next(r for r in s197 if r["event_name"] == "tool_result")
    assert (tool["tool_name"], tool["tool_use_id"], tool["success"]) == (
        "Bash",
        "toolu_000002",
        True,
    )
    assert orjson.loads(tool["tool_parameters"])["full_command"] == (
        "echo hello > out.txt && cat out.txt"
    )
    assert sorted(r["request_id"] for r in s197 if r["event_name"] == "api_request") == [
        "req_msg_000003",
        "req_msg_000004",
    ]


def test_importing_twice_adds_nothing(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    first = env.import_files(folder, manifest=True)
    n = len(env.events())
    assert first.written == n > 0
    again = env.import_files(folder, manifest=True)  # the manifest skips every file
    assert (again.read.files, again.files_unchanged, again.written) == (0, 9, 0)
    forced = env.import_files(folder)  # every file read, every event already stored
    assert forced.read.files == 9
    assert forced.written == 0
    assert forced.already_there == n
    assert len(env.events()) == n


def test_a_corrupt_line_is_counted_and_skipped(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    target = folder / "-home-user-project" / f"{SESSION_197}.jsonl"
    lines = target.read_bytes().splitlines()
    lines.insert(3, b'{"type":"user","message":{"role":"user","content":"cut sh')
    lines.insert(5, b"\x00\x01 not json at all")
    lines.append(b'{"parentUuid":"x","type":"assistant","message":{"id":"msg_9","usa')
    target.write_bytes(b"\n".join(lines) + b"\n")
    summary = env.import_files(folder)
    assert summary.read.skipped == Counter({"corrupt_json": 3})
    s197 = [r for r in env.events() if r["session_id"] == SESSION_197]
    assert Counter(r["event_name"] for r in s197)["api_request"] == 2  # the rest is intact


def test_an_interrupted_import_resumes(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    files = sorted((folder / "-home-user-project").glob("*.jsonl"))
    env.import_files(*files[:4], manifest=True)  # "interrupted" after four files
    rest = env.import_files(folder, manifest=True)
    assert rest.files_unchanged == 4 and rest.read.files == 5
    total = len(env.events())
    ref = env.import_files(folder, developer_id="reference-dev")
    assert ref.written == total


def _write_otlp_197(env: Env, developer_id: str) -> None:
    """The captured logs.pb through the real lake writer, as ingest queues it."""
    payload = (CC197 / "logs.pb").read_bytes()
    queue = LocalQueue(env.root / "queue.db")
    writer = LakeWriter(
        queue=queue, storage=env.storage, sessions=env.sessions, options=NormalizeOptions()
    )
    writer.in_transaction.append(dirty_hook)  # as the worker does: the sessionizer is told
    batch = Batch(
        batch_id=f"otlp-{developer_id}".ljust(64, "0"),
        signal="logs",
        encoding="protobuf",
        org_id=env.org_id,
        developer_id=developer_id,
        received_at_ns=time.time_ns(),
        records=9,
        payload=payload,
    )
    writer.apply([Claimed(handle=0, batch=batch)])


def _keys(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for r in rows:
        name = r["event_name"]
        if name == "user_prompt":
            out[(name, r["prompt_id"])] += 1
        elif name in ("api_request", "assistant_response") and r["request_id"]:
            out[(name, r["request_id"])] += 1
        elif name in ("tool_result", "tool_decision"):
            out[(name, r["tool_use_id"])] += 1
    return out


def _usage_cost(env: Env, developer_id: str) -> tuple[int, int]:
    report = compute(
        "daily",
        env.lake,
        org_id=env.org_id,
        developer_ids=(developer_id,),
        tz=tz_of("UTC"),
        since=None,
        until=None,
    )
    return report.totals.cost_micros, report.totals.requests


def test_otlp_then_import_of_the_same_session_is_stored_once(env: Env, tmp_path: Path) -> None:
    require_samples()
    _write_otlp_197(env, env.developer_id)
    live = env.events()
    summary = env.import_files(CC197 / "transcript.jsonl")
    rows = env.events()
    assert summary.already_there > 0
    keys = _keys(rows)
    assert keys == _keys(live) + Counter()  # no join key twice, none added beyond OTLP's
    assert all(n == 1 for n in keys.values())
    imported = [r for r in rows if r["batch_id"].startswith("imp-")]
    # What only the transcript knows is added: its title record (the OTLP title call's answer
    # is there too, as the same title) - nothing that OTLP already sent.
    assert {r["event_name"] for r in imported} <= {"assistant_response"}
    # OTLP api_request rows are the ledger: the cost is Claude Code's own, not recomputed.
    assert _usage_cost(env, env.developer_id) == (OTLP_197_COST, 3)


def test_import_then_otlp_reads_as_one_session_with_live_rows_first(env: Env) -> None:
    require_samples()
    env.import_files(CC197 / "transcript.jsonl")
    _write_otlp_197(env, env.developer_id)
    # Stored twice, read once: the usage ledger and the sessionizer's reads prefer live rows.
    assert _usage_cost(env, env.developer_id) == (OTLP_197_COST, 3)
    since = datetime(2026, 11, 1, tzinfo=UTC)
    rows = env.lake.events_of_sessions(env.org_id, env.developer_id, [SESSION_197], since)
    assert all(n == 1 for n in _keys(rows).values())
    assert sum(1 for r in rows if r["event_name"] == "api_request") == 3


def _arcs(env: Env, developer_id: str) -> list[SubSession]:
    with env.sessions() as s:
        return list(
            s.scalars(
                select(SubSession)
                .where(SubSession.developer_id == developer_id)
                .order_by(SubSession.started_at)
            )
        )


def test_imported_history_is_judged_exactly_like_live_telemetry(env: Env) -> None:
    require_samples()
    with env.sessions.begin() as s:
        org = s.get(Org, env.org_id)
        assert org is not None
        live_dev = env.keys.ensure_developer(s, org, "live@acme.test").id
    _write_otlp_197(env, live_dev)
    env.import_files(CC197 / "transcript.jsonl")
    clock = datetime(2026, 11, 23, tzinfo=UTC)
    sessionizer = Sessionizer(
        sessions=env.sessions,
        lake=env.lake,
        config=ScoringConfig.from_settings(env.settings),
        clock=lambda: clock,
    )
    assert sessionizer.run_once() == 2  # one arc per developer, both judged
    (live,), (imported,) = _arcs(env, live_dev), _arcs(env, env.developer_id)
    assert imported.status == live.status == "scored"
    for field in ("outcome", "qualifying", "trivia_reason", "crushed", "intent_class", "title"):
        assert getattr(imported, field) == getattr(live, field), field
    assert imported.title == "Create containing hello and verify"  # the agent's own title
    assert imported.prompt_count == live.prompt_count == 1
    assert abs(imported.started_at - live.started_at) < timedelta(seconds=1)


def test_every_imported_sample_session_is_sessionized_and_judged(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    env.import_files(folder)
    sessionizer = Sessionizer(
        sessions=env.sessions,
        lake=env.lake,
        config=ScoringConfig.from_settings(env.settings),
        clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
    )
    judged = sessionizer.run_once()
    arcs = _arcs(env, env.developer_id)
    assert judged == len(arcs) > 0
    assert all(a.status == "scored" and a.judge_name for a in arcs)
    sessions_with_prompts = {
        r["session_id"] for r in env.events() if r["event_name"] == "user_prompt"
    }
    assert sessions_with_prompts <= {a.claude_session_id for a in arcs}
    assert sessionizer.run_once() == 0  # nothing new: nothing judged again


@pytest.mark.parametrize("store_content", [False])
def test_privacy_switch_drops_text_but_keeps_lengths(
    env: Env, tmp_path: Path, store_content: bool
) -> None:
    require_samples()
    env.import_files(CC197 / "transcript.jsonl", store_content=store_content)
    rows = env.events()
    prompt = next(r for r in rows if r["event_name"] == "user_prompt")
    assert prompt["prompt"] is None and prompt["prompt_length"] == 45
    assert all(r["response"] is None for r in rows if r["event_name"] == "assistant_response")
