"""Transcript lines -> events, in memory: record types, dedupe rules, tool and prompt shapes.

Each test writes a small transcript the way Claude Code does (compact JSON, one line per
content block) and reads what the mapper made of it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prism.importer.mapping import usage_of
from prism.importer.runner import MapResult, ResponseFilter, map_files
from prism.importer.transcripts import ReadStats, describe, discover, iter_records

SESSION = "11111111-2222-4333-8444-555555555555"


def line(kind: str, ts: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/w",
        "sessionId": SESSION,
        "version": "2.1.38",
        "gitBranch": "main",
        "type": kind,
        "uuid": f"u-{kind}-{ts}",
        "timestamp": f"2026-03-02T10:{ts}Z",
    }
    d.update(extra)
    return d


def assistant(
    ts: str,
    mid: str,
    rid: str,
    block: dict[str, Any],
    out: int,
    *,
    model: str = "claude-opus-4-6",
    cr: int = 1000,
    **extra: Any,
) -> dict[str, Any]:
    usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": cr,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
        "output_tokens": out,
    }
    msg = {"id": mid, "model": model, "role": "assistant", "content": [block], "usage": usage}
    return line("assistant", ts, message=msg, requestId=rid, **extra)


def user(ts: str, content: Any, **extra: Any) -> dict[str, Any]:
    return line("user", ts, message={"role": "user", "content": content}, **extra)


def write(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in rows:
            f.write(r if isinstance(r, bytes) else json.dumps(r, separators=(",", ":")).encode())
            f.write(b"\n")
    return path


def mapped(root: Path) -> MapResult:
    result = map_files(discover([root]))
    mask = ResponseFilter().mask(result)
    if mask is not None:
        result.table = result.table.filter(pa.array(mask))
    return result


def rows(result: MapResult, name: str | None = None) -> list[dict[str, Any]]:
    out = result.table.to_pylist()
    return [r for r in out if name is None or r["event_name"] == name]


def text(ts: str) -> dict[str, Any]:
    return {"type": "text", "text": f"answer {ts}"}


# --- reading --------------------------------------------------------------------------------------
def test_every_line_is_a_record_or_a_counted_skip(tmp_path: Path) -> None:
    p = write(
        tmp_path / "p" / f"{SESSION}.jsonl",
        [
            user("00:00.000", "hello"),
            b"",
            b"[1, 2]",
            b'{"no_type": true}',
            b'{"type":"file-history-snapshot","messageId":"m","snapshot":{}}',
            line("progress", "00:01.000", data={"type": "hook_progress", "hookEvent": "Stop"}),
            {"type": "some-future-type", "sessionId": SESSION},
            b'{"parentUuid":"x","type":"user","message":{"role":"user","cont',
        ],
    )
    stats = ReadStats()
    with open(p, "rb") as f:
        records = list(iter_records(f, stats))
    assert stats.lines == 8
    # Decoded: the user line and the unknown type; the snapshot and hook progress are
    # recognised by type without decoding. All four are records.
    assert [r[1]["type"] for r in records] == ["user", "some-future-type"]
    assert stats.records == 4
    assert stats.skipped == Counter(
        {"blank": 1, "not_an_object": 1, "missing_type": 1, "corrupt_json": 1}
    )
    assert stats.types["file-history-snapshot"] == 1
    assert stats.types["progress"] == 1
    result = mapped(tmp_path)
    assert result.mapped.unknown_types == Counter({"some-future-type": 1})
    assert [r["prompt"] for r in rows(result, "user_prompt")] == ["hello"]


def test_layout_names_sessions_and_subagents(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    f = describe(root, root / "-w-app" / "abc" / "subagents" / "agent-a1.jsonl")
    assert (f.project, f.session_hint, f.agent_hint) == ("-w-app", "abc", "a1")
    f = describe(
        root, root / "-w-app" / "abc" / "subagents" / "workflows" / "wf_1" / "agent-b.jsonl"
    )
    assert (f.session_hint, f.agent_hint) == ("abc", "b")
    f = describe(root, root / "-w-app" / "agent-old.jsonl")  # 2.0.x, beside the sessions
    assert (f.session_hint, f.agent_hint) == ("", "old")
    f = describe(root, root / "-w-app" / "abc.jsonl")
    assert (f.session_hint, f.agent_hint) == ("abc", None)
    for p in (
        root / "-w-app" / "abc.jsonl",
        root / "-w-app" / "abc" / "subagents" / "agent-a1.jsonl",
        root / "-w-app" / "agent-old.jsonl",
        root / "-w-app" / "zzz.jsonl",
    ):
        write(p, [])
    order = [f.rel for f in discover([root])]
    # subagents first, then their session's main file, sessions adjacent
    assert order.index("-w-app/abc/subagents/agent-a1.jsonl") < order.index("-w-app/abc.jsonl")


# --- usage dedupe ---------------------------------------------------------------------------------
def test_one_response_over_many_lines_counts_once_with_its_final_usage(tmp_path: Path) -> None:
    write(
        tmp_path / "p" / f"{SESSION}.jsonl",
        [
            user("00:00.000", "go"),
            assistant("00:01.000", "msg_1", "req_1", {"type": "thinking", "thinking": "t"}, 10),
            assistant("00:01.100", "msg_1", "req_1", text("a"), 10),
            assistant("00:01.200", "msg_1", "req_1", text("b"), 441),  # the final line
            assistant("00:01.300", "msg_1", "req_1", text("c"), 10),  # a late placeholder copy
        ],
    )
    result = mapped(tmp_path)
    (req,) = rows(result, "api_request")
    assert (req["input_tokens"], req["output_tokens"]) == (3, 441)
    assert req["cache_read_tokens"] == 1000 and req["cache_creation_tokens"] == 100
    assert req["request_id"] == "req_1"
    assert req["time"].isoformat().startswith("2026-03-02T10:00:01.200")  # the kept line
    # 3*5 + 441*25 + 100*6.25 + 1000*0.5 micro-USD (opus 4.6 list price)
    assert req["cost_micro_usd"] == 15 + 11025 + 625 + 500
    (resp,) = rows(result, "assistant_response")
    assert resp["response"] == "answer a\nanswer b\nanswer c"
    assert resp["request_id"] == "req_1"


def test_synthetic_lines_are_no_api_calls(tmp_path: Path) -> None:
    err = assistant("00:01.000", "m-syn", "", text("API Error: 529"), 0, model="<synthetic>")
    err["isApiErrorMessage"] = True
    write(tmp_path / "p" / f"{SESSION}.jsonl", [user("00:00.000", "go"), err])
    result = mapped(tmp_path)
    assert rows(result, "api_request") == []
    (e,) = rows(result, "api_error")
    assert "529" in e["error"]


def test_sidechain_replay_of_a_main_thread_message_is_dropped(tmp_path: Path) -> None:
    main = assistant("00:01.000", "msg_1", "req_1", text("a"), 50)
    replay = dict(main, isSidechain=True, requestId="req_btw", uuid="u-replay")
    own = assistant("00:02.000", "msg_2", "req_2", text("b"), 70, isSidechain=True)
    write(tmp_path / "p" / f"{SESSION}.jsonl", [user("00:00.000", "go"), main, replay, own])
    result = mapped(tmp_path)
    assert sorted(r["request_id"] for r in rows(result, "api_request")) == ["req_1", "req_2"]
    assert result.mapped.sidechain_replays == 1


def test_subagent_call_seen_in_agent_progress_and_its_own_file_counts_once(
    tmp_path: Path,
) -> None:
    sub_lines = [
        assistant("00:02.000", "msg_s", "req_s", text("x"), 5, isSidechain=True, agentId="a1"),
        assistant("00:02.100", "msg_s", "req_s", text("y"), 300, isSidechain=True, agentId="a1"),
    ]
    write(tmp_path / "p" / SESSION / "subagents" / "agent-a1.jsonl", sub_lines)
    progress = [
        line(
            "progress",
            f"00:02.{i}00",
            data={
                "type": "agent_progress",
                "agentId": "a1",
                "message": {k: s[k] for k in ("type", "timestamp", "message", "requestId", "uuid")},
            },
        )
        for i, s in enumerate(sub_lines)
    ]
    write(tmp_path / "p" / f"{SESSION}.jsonl", [user("00:00.000", "go"), *progress])
    result = mapped(tmp_path)
    (req,) = rows(result, "api_request")
    assert req["request_id"] == "req_s" and req["output_tokens"] == 300
    assert req["query_source"] == "subagent"
    # Only the main file: the agent_progress copies still count the call (ccusage does too).
    (tmp_path / "p" / SESSION / "subagents" / "agent-a1.jsonl").unlink()
    (req,) = rows(mapped(tmp_path), "api_request")
    assert req["output_tokens"] == 300


def test_the_same_response_in_two_sessions_of_a_project_counts_once(tmp_path: Path) -> None:
    a = assistant("00:01.000", "msg_1", "req_1", text("a"), 50)
    b = dict(a, sessionId="other-session", uuid="u-copy")
    write(tmp_path / "p" / f"{SESSION}.jsonl", [user("00:00.000", "go"), a])
    write(tmp_path / "p" / "other-session.jsonl", [b])
    result = mapped(tmp_path)
    assert len(rows(result, "api_request")) == 1
    assert result.mapped.duplicate_responses == 1


def test_cache_writes_take_the_larger_of_total_and_breakdown() -> None:
    # Claude Code before 2.1.152 could report the total as 0 next to a real breakdown.
    u = {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 70},
    }
    assert usage_of(u) == (1, 2, 0, 30, 70, 100)
    u = {"input_tokens": 1, "cache_creation_input_tokens": 800, "cache_creation": {}}
    assert usage_of(u) == (1, 0, 0, 800, 0, 800)
    u["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    assert usage_of(u) == (1, 0, 0, 800, 0, 800)


def test_a_model_without_a_price_is_reported_not_priced_at_zero(tmp_path: Path) -> None:
    write(
        tmp_path / "p" / f"{SESSION}.jsonl",
        [user("00:00.000", "go"), assistant("00:01.000", "m", "r", text("a"), 5, model="gpt-9")],
    )
    result = mapped(tmp_path)
    (req,) = rows(result, "api_request")
    assert req["cost_micro_usd"] is None
    assert result.mapped.unpriced_models == Counter({"gpt-9": 1})


# --- prompts, tools, titles -----------------------------------------------------------------------
def test_prompts_tools_and_their_outcomes(tmp_path: Path) -> None:
    bash = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pytest -q"}}
    mcp = {"type": "tool_use", "id": "toolu_2", "name": "mcp__github__get_issue", "input": {"n": 1}}
    edit = {"type": "tool_use", "id": "toolu_3", "name": "Edit", "input": {"file_path": "/w/a.py"}}
    reject = "The user doesn't want to proceed with this tool use. The tool use was rejected."
    write(
        tmp_path / "p" / f"{SESSION}.jsonl",
        [
            user("00:00.000", "fix the tests", promptId="p-1"),
            assistant("00:01.000", "msg_1", "req_1", bash, 20),
            assistant("00:01.100", "msg_1", "req_1", mcp, 20),
            user(
                "00:03.000",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "1 failed",
                        "is_error": True,
                    }
                ],
                promptId="p-1",
            ),
            user("00:03.500", [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "ok"}]),
            assistant("00:04.000", "msg_2", "req_2", edit, 20),
            user(
                "00:05.000",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_3",
                        "content": reject,
                        "is_error": True,
                    }
                ],
            ),
            user(
                "00:05.100",
                [{"type": "text", "text": "[Request interrupted by user for tool use]"}],
            ),
            user("00:06.000", "<command-name>/clear</command-name>\n<command-args></command-args>"),
            user("00:06.100", "<local-command-stdout></local-command-stdout>"),
            user("00:07.000", [{"type": "text", "text": "[Request interrupted by user]"}]),
            user("00:08.000", "a skill's expanded text", isMeta=True),
        ],
    )
    result = mapped(tmp_path)
    prompts = rows(result, "user_prompt")
    assert [(p["prompt"], p["prompt_id"]) for p in prompts] == [
        ("fix the tests", "p-1"),
        ("/clear", "u-user-00:06.000"),
    ]
    assert dict(prompts[1]["attributes"]) == {"command_name": "clear"}
    results = {r["tool_use_id"]: r for r in rows(result, "tool_result")}
    assert set(results) == {"toolu_1", "toolu_2"}  # no result for the rejected call (as OTLP)
    assert results["toolu_1"]["success"] is False and results["toolu_1"]["error"] == "1 failed"
    assert results["toolu_1"]["tool_name"] == "Bash"
    assert orjson.loads(results["toolu_1"]["tool_parameters"])["full_command"] == "pytest -q"
    assert results["toolu_1"]["prompt_id"] == "p-1"
    assert results["toolu_2"]["success"] is True
    assert results["toolu_2"]["tool_name"] == "mcp_tool"
    assert orjson.loads(results["toolu_2"]["tool_parameters"]) == {
        "mcp_server_name": "github",
        "mcp_tool_name": "get_issue",
    }
    decisions = {
        (d["tool_use_id"], d["decision"], d["decision_source"])
        for d in rows(result, "tool_decision")
    }
    assert decisions == {
        ("toolu_1", "accept", None),
        ("toolu_2", "accept", None),
        ("toolu_3", "reject", "user_abort"),
    }
    assert len(rows(result, "interruption")) == 1


def test_titles_compaction_and_api_errors(tmp_path: Path) -> None:
    write(
        tmp_path / "p" / f"{SESSION}.jsonl",
        [
            {"type": "ai-title", "aiTitle": "Fix the parser", "sessionId": SESSION},
            user("00:00.000", "go"),
            line(
                "system",
                "00:01.000",
                subtype="compact_boundary",
                compactMetadata={"trigger": "auto", "preTokens": 150000},
            ),
            user("00:01.100", "This session is being continued...", isCompactSummary=True),
            line(
                "system",
                "00:02.000",
                subtype="api_error",
                error={"status": 529, "error": {"message": "Overloaded"}},
                retryAttempt=2,
            ),
            {"type": "custom-title", "customTitle": "Parser fix", "sessionId": SESSION},
        ],
    )
    result = mapped(tmp_path)
    titles = [orjson.loads(r["response"])["title"] for r in rows(result, "assistant_response")]
    assert titles == ["Fix the parser", "Parser fix"]
    assert {r["query_source"] for r in rows(result, "assistant_response")} == {
        "generate_session_title"
    }
    (c,) = rows(result, "compaction")
    assert dict(c["attributes"])["preTokens"] == "150000"
    (e,) = rows(result, "api_error")
    assert (e["error"], e["status_code"], e["attempt"]) == ("Overloaded", 529, 2)
    assert [p["prompt"] for p in rows(result, "user_prompt")] == ["go"]  # not the summary


# --- untyped input never breaks the mapper ------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "type", "timestamp", "sessionId", "uuid", "message", "requestId", "isSidechain",
        "agentId", "promptId", "toolUseResult", "version", "data", "subtype", "error",
        "aiTitle", "isMeta", "content", "usage", "id", "model", "tool_use_id", "is_error",
    ]
)  # fmt: skip
_record = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["user", "assistant", "system", "progress", "ai-title", "x"]),
        "timestamp": st.sampled_from(["2026-03-02T10:00:00.000Z", "bad", 5]),
    },
    optional={"message": st.dictionaries(_keys, _json, max_size=6)},
).flatmap(
    lambda base: st.dictionaries(_keys, _json, max_size=6).map(lambda extra: {**extra, **base})
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(_record, max_size=8))
def test_any_json_records_map_without_error(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    write(tmp_path / "p" / f"{SESSION}.jsonl", records)
    result = mapped(tmp_path)
    assert result.read.lines == len(records)
