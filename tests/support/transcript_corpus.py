"""A realistic Claude Code transcript corpus, generated: the shapes of real files, any size.

Shapes follow the public samples and the telemetry reference (§2): per-content-block assistant
lines sharing `message.id` + `requestId` with streaming placeholder usage before the final line
(CLI < 2.1.98) or final usage on every line (later), tool calls and results (some failing, some
rejected, some interrupted), hook/bash progress lines, file-history snapshots, queue operations,
system turn_duration / stop_hook_summary / api_error / compact_boundary lines with a compaction
summary, synthetic API-error assistant lines, `/clear` starting a new session, titles
(`summary`, `ai-title`, `custom-title`), `cost-state`, subagents in
`<session>/subagents/agent-<id>.jsonl` whose calls also stream through the main file as
`agent_progress`, `/btw` sidechain replays, an unknown record type, and a truncated last line
now and then (a crash mid-write). Days: weekdays busier than weekends; several models.

`expected_usage()` returns what a correct reader must count per UTC day (the generator's own
ledger of final usage per API call), so tests can check Prism and ccusage independently.
Generation is deterministic for a seed and fast (bytes are built with orjson from pre-made
text pools), so benchmarks can make a gigabyte in well under a minute.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

# (model, weight, cache TTL of the main thread)
MAIN_MODELS = [
    ("claude-opus-4-6", 5, "1h"),
    ("claude-sonnet-4-5-20250929", 3, "5m"),
    ("claude-opus-4-8", 2, "1h"),
    ("claude-sonnet-4-6", 2, "5m"),
    ("claude-opus-4-1-20250805", 1, "5m"),
]
SUB_MODELS = ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]
VERSIONS = ["2.0.76", "2.1.38", "2.1.39", "2.1.197", "2.1.289"]
TOOLS = ["Read", "Edit", "Bash", "Grep", "Glob", "Write", "WebFetch", "mcp__github__get_issue"]
WORDS = tuple(
    """
    the a of to and in is for on that with this it as be are by from at or not function class
    test error file data value return import module config server client request response user
    session token cache model build run check update fix add remove refactor parse handle
    write read open close list map set get create delete index query table schema migrate
    deploy review commit branch merge rebase lint type format docs api route
    """.split()  # noqa: SIM905 - a word list reads better as text
)
PROMPTS = [
    "fix the failing test in {f}",
    "add a --json flag to the {f} command",
    "refactor {f} so the parser streams instead of loading everything",
    "why does {f} crash on empty input?",
    "write tests for {f}",
    "update the docs for {f} and commit",
    "thanks, looks good. now add retries to {f}",
    "run the linter and fix what it finds",
    "explain how {f} handles errors",
    "make the build pass",
]
FILES = ["src/app/server.py", "src/app/parser.py", "lib/cache.ts", "cmd/main.go", "README.md"]


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


@dataclass
class CorpusStats:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    sessions: int = 0
    corrupt_lines: int = 0
    api_calls: int = 0
    # UTC day -> [input, output, cache_creation, cache_read] of every real API call, once
    days: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))


class _Text:
    """Pools of random text, sliced without generating new strings per use."""

    def __init__(self, rng: random.Random) -> None:
        words = [rng.choice(WORDS) for _ in range(400_000)]
        self.blob = " ".join(words)
        self.code = "\n".join(
            f"    {rng.choice(WORDS)}_{i} = {rng.choice(WORDS)}({rng.choice(WORDS)}, {i})"
            for i in range(40_000)
        )
        self.rng = rng

    def words(self, n_chars: int) -> str:
        start = self.rng.randrange(0, len(self.blob) - n_chars - 1)
        return self.blob[start : start + n_chars]

    def code_lines(self, n_chars: int) -> str:
        start = self.rng.randrange(0, len(self.code) - n_chars - 1)
        return self.code[start : start + n_chars]


class Generator:
    """Writes a corpus below `root/projects` (CLAUDE_CONFIG_DIR layout)."""

    def __init__(
        self,
        root: Path,
        *,
        seed: int = 7,
        start: datetime | None = None,
        days: int = 30,
        projects: int = 4,
        tool_result_chars: int = 3000,
        corrupt_every: int = 40,
    ) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.text = _Text(self.rng)
        self.start = start or datetime(2026, 3, 2, tzinfo=UTC)
        self.days = days
        self.projects = [f"-home-dev-work-project{i}" for i in range(projects)]
        self.tool_result_chars = tool_result_chars
        self.corrupt_every = corrupt_every
        self.stats = CorpusStats()
        self._ids = 0

    # --- ids -----------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _next(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:012d}{self.rng.getrandbits(40):010x}"

    # --- driver --------------------------------------------------------------------------------
    def generate(self, target_bytes: int) -> CorpusStats:
        """Sessions day by day (and round again over the days) until `target_bytes` are out."""
        base = self.root / "projects"
        base.mkdir(parents=True, exist_ok=True)
        n = 0
        while self.stats.bytes < target_bytes:
            day = self.start + timedelta(days=n % self.days)
            n += 1
            weekend = day.weekday() >= 5
            if weekend and self.rng.random() < 0.6:
                continue
            hour = self.rng.choice([9, 10, 11, 13, 14, 15, 16, 17, 21, 23])
            t = day.replace(hour=hour, minute=self.rng.randrange(60), second=self.rng.randrange(60))
            project = self.rng.choice(self.projects)
            self._session(base / project, t)
        return self.stats

    # --- one session -----------------------------------------------------------------------------
    def _session(self, folder: Path, t0: datetime) -> None:
        rng = self.rng
        folder.mkdir(parents=True, exist_ok=True)
        version = rng.choice(VERSIONS)
        sid = self._uuid()
        model, _, ttl = rng.choices(MAIN_MODELS, weights=[m[1] for m in MAIN_MODELS])[0]
        s = _Session(self, folder, sid, version, model, ttl, t0)
        s.run(turns=rng.randint(2, 14))
        s.close()


class _Session:
    def __init__(
        self,
        gen: Generator,
        folder: Path,
        sid: str,
        version: str,
        model: str,
        ttl: str,
        t0: datetime,
    ) -> None:
        self.g = gen
        self.rng = gen.rng
        self.folder = folder
        self.sid = sid
        self.version = version
        self.v = _version_tuple(version)
        self.model = model
        self.ttl = ttl
        self.t = t0
        self.lines: list[bytes] = []
        self.parent: str | None = None
        self.context = self.rng.randint(8_000, 20_000)
        self.slug = "-".join(self.rng.choice(WORDS) for _ in range(3))
        self.final_usage_everywhere = self.v >= (2, 1, 98)
        self.progress_copies = (2, 1, 0) <= self.v < (2, 1, 90)
        self.cwd = "/home/dev/work/" + folder.name.rsplit("-", 1)[-1]
        self.main_messages: list[tuple[str, str, dict[str, Any], datetime]] = []
        self.sub_files: dict[Path, list[bytes]] = {}

    # --- time and envelope ---------------------------------------------------------------------
    def tick(self, lo: float = 0.05, hi: float = 3.0) -> str:
        self.t += timedelta(seconds=self.rng.uniform(lo, hi))
        return self.t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.t.microsecond // 1000:03d}Z"

    def env(self, kind: str, ts: str, **extra: Any) -> dict[str, Any]:
        u = self.g._uuid()
        d: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.sid,
            "version": self.version,
            "gitBranch": "main",
            "slug": self.slug,
            "type": kind,
            "uuid": u,
            "timestamp": ts,
        }
        d.update(extra)
        self.parent = u
        return d

    def put(self, obj: dict[str, Any]) -> None:
        self.lines.append(orjson.dumps(obj))

    # --- usage ---------------------------------------------------------------------------------
    def usage(self, model: str, ttl: str, *, sub: bool = False) -> dict[str, int]:
        rng = self.rng
        grow = rng.randint(200, 4000)
        write = rng.randint(50, 3000)
        self.context = min(self.context + grow, 180_000)
        cached = max(0, self.context - write - rng.randint(1, 50))
        out = rng.randint(20, 1500) if rng.random() < 0.8 else rng.randint(1500, 6000)
        if sub:
            cached = rng.randint(3000, 30_000)
        inp = rng.randint(1, 8) if rng.random() < 0.9 else rng.randint(100, 3000)
        c1 = write if ttl == "1h" else 0
        return {
            "input_tokens": inp,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": cached,
            "output_tokens": out,
            "c5": write - c1,
            "c1": c1,
        }

    @staticmethod
    def usage_json(u: dict[str, int], output: int | None = None) -> dict[str, Any]:
        return {
            "input_tokens": u["input_tokens"],
            "cache_creation_input_tokens": u["cache_creation_input_tokens"],
            "cache_read_input_tokens": u["cache_read_input_tokens"],
            "cache_creation": {
                "ephemeral_5m_input_tokens": u["c5"],
                "ephemeral_1h_input_tokens": u["c1"],
            },
            "output_tokens": u["output_tokens"] if output is None else output,
            "service_tier": "standard",
        }

    def ledger(self, ts: str, u: dict[str, int]) -> None:
        day = ts[:10]
        row = self.g.stats.days[day]
        row[0] += u["input_tokens"]
        row[1] += u["output_tokens"]
        row[2] += u["cache_creation_input_tokens"]
        row[3] += u["cache_read_input_tokens"]
        self.g.stats.api_calls += 1

    # --- one API response, written one line per content block ------------------------------------
    def response(
        self,
        blocks: list[dict[str, Any]],
        *,
        model: str | None = None,
        ttl: str | None = None,
        sink: list[bytes] | None = None,
        sidechain: dict[str, Any] | None = None,
        stop: str = "tool_use",
    ) -> tuple[str, str, dict[str, int], list[dict[str, Any]]]:
        model = model or self.model
        u = self.usage(model, ttl or self.ttl, sub=sidechain is not None)
        mid = self.g._next("msg_01")
        rid = self.g._next("req_011")
        placeholder = self.rng.choice([1, 8, 10, 12])
        out_lines: list[dict[str, Any]] = []
        last_ts = ""
        for i, block in enumerate(blocks):
            last = i == len(blocks) - 1
            ts = self.tick(0.05, 1.5)
            final = last or self.final_usage_everywhere
            msg = {
                "model": model,
                "id": mid,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": stop if last and self.v >= (2, 1, 100) else None,
                "stop_sequence": None,
                "usage": self.usage_json(u, None if final else placeholder),
            }
            d = self.env("assistant", ts, message=msg, requestId=rid)
            if sidechain:
                d.update(sidechain)
            out_lines.append(d)
            (sink if sink is not None else self.lines).append(orjson.dumps(d))
            last_ts = ts
        self.ledger(last_ts, u)
        return mid, rid, u, out_lines

    # --- a session -----------------------------------------------------------------------------
    def run(self, turns: int) -> None:
        rng = self.rng
        if self.v >= (2, 1, 190):
            self.put({"type": "ai-title", "aiTitle": self.g.text.words(30), "sessionId": self.sid})
        elif rng.random() < 0.5:
            self.put(
                {"type": "summary", "summary": self.g.text.words(40), "leafUuid": self.g._uuid()}
            )
        if self.v >= (2, 1, 190):
            for kind in ("agent_listing_delta", "skill_listing", "deferred_tools_delta"):
                self.put(
                    self.env(
                        "attachment",
                        self.tick(0.001, 0.01),
                        attachment={
                            "type": kind,
                            "content": self.g.text.words(rng.randint(800, 5000)),
                            "isInitial": True,
                        },
                    )
                )
        for turn in range(turns):
            if turn and rng.random() < 0.04:
                self.clear()
                continue
            self.turn(turn)
            if rng.random() < 0.05:
                self.compact()
        if rng.random() < 0.2:
            self.put(
                {
                    "type": "custom-title",
                    "customTitle": self.g.text.words(20),
                    "sessionId": self.sid,
                }
            )
        if self.v >= (2, 1, 280):
            self.put(
                {"type": "cost-state", "sessionId": self.sid, "totalCostUSD": 0.0, "modelUsage": {}}
            )
        if rng.random() < 0.02:
            self.put({"type": "mystery-future-type", "sessionId": self.sid, "payload": 1})

    def prompt_line(self, text: str, **extra: Any) -> dict[str, Any]:
        ts = self.tick(20, 400)
        d = self.env("user", ts, message={"role": "user", "content": text}, **extra)
        if self.v >= (2, 1, 190):
            d["promptId"] = self.g._uuid()
        if self.v >= (2, 1, 0):
            d["permissionMode"] = "default"
        return d

    def turn(self, n: int) -> None:
        rng, text = self.rng, self.g.text
        self.put(
            {
                "type": "queue-operation",
                "operation": "enqueue",
                "timestamp": self.tick(1, 5),
                "sessionId": self.sid,
                "content": "x",
            }
        )
        prompt = rng.choice(PROMPTS).format(f=rng.choice(FILES))
        p = self.prompt_line(prompt)
        self.put(p)
        prompt_id = p.get("promptId")
        self.put(
            {
                "type": "file-history-snapshot",
                "messageId": p["uuid"],
                "snapshot": {
                    "messageId": p["uuid"],
                    "trackedFileBackups": {},
                    "timestamp": p["timestamp"],
                },
                "isSnapshotUpdate": False,
            }
        )
        for _ in range(rng.randint(1, 3)):
            self.put(
                self.env(
                    "progress",
                    self.tick(0.01, 0.1),
                    data={
                        "type": "hook_progress",
                        "hookEvent": "UserPromptSubmit",
                        "hookName": "UserPromptSubmit",
                        "command": "~/.claude/hooks/check.sh",
                    },
                    parentToolUseID="x",
                    toolUseID="x",
                )
            )
        calls = rng.randint(1, 9)
        for c in range(calls):
            last = c == calls - 1
            if rng.random() < 0.02:
                self.synthetic_error()
            if rng.random() < 0.03:
                self.put(
                    self.env(
                        "system",
                        self.tick(),
                        subtype="api_error",
                        level="error",
                        error={"status": 529, "error": {"message": "Overloaded"}},
                        retryInMs=2000,
                        retryAttempt=1,
                        maxRetries=10,
                    )
                )
            blocks: list[dict[str, Any]] = []
            if rng.random() < 0.5:
                blocks.append(
                    {
                        "type": "thinking",
                        "thinking": text.words(rng.randint(100, 1200)),
                        "signature": text.words(300).replace(" ", ""),
                    }
                )
            if rng.random() < 0.6 or last:
                blocks.append({"type": "text", "text": text.words(rng.randint(20, 900))})
            tools: list[dict[str, Any]] = []
            if not last:
                for _ in range(rng.choice([1, 1, 1, 2, 3])):
                    tools.append(self.tool_use())
            if not last and rng.random() < 0.05:
                tools.append(
                    {
                        "type": "tool_use",
                        "id": self.g._next("toolu_01"),
                        "name": "Task",
                        "input": {
                            "description": "explore",
                            "subagent_type": "Explore",
                            "prompt": text.words(200),
                        },
                    }
                )
            blocks.extend(tools)
            mid, rid, _u, lines = self.response(blocks, stop="end_turn" if last else "tool_use")
            self.main_messages.append((mid, rid, lines[-1], self.t))
            for tool in tools:
                if tool["name"] == "Task":
                    self.subagent(tool["id"], prompt_id)
                self.tool_result(tool, prompt_id)
            if rng.random() < 0.01 and self.main_messages:
                self.btw_replay()
        if rng.random() < 0.04:
            self.put(
                self.env(
                    "user",
                    self.tick(),
                    message={
                        "role": "user",
                        "content": [{"type": "text", "text": "[Request interrupted by user]"}],
                    },
                )
            )
        self.put(
            self.env(
                "system",
                self.tick(),
                subtype="turn_duration",
                durationMs=rng.randint(1000, 90000),
                isMeta=False,
            )
        )
        if rng.random() < 0.3:
            self.put(
                self.env(
                    "system",
                    self.tick(),
                    subtype="stop_hook_summary",
                    hookCount=1,
                    hookInfos=[{"command": "notify"}],
                    hookErrors=[],
                    preventedContinuation=False,
                    stopReason="",
                    hasOutput=False,
                    level="suggestion",
                )
            )

    def tool_use(self) -> dict[str, Any]:
        rng, text = self.rng, self.g.text
        name = rng.choice(TOOLS)
        f = rng.choice(FILES)
        inputs: dict[str, Any] = {
            "Read": {"file_path": f"{self.cwd}/{f}"},
            "Edit": {
                "file_path": f"{self.cwd}/{f}",
                "old_string": text.code_lines(120),
                "new_string": text.code_lines(140),
            },
            "Write": {
                "file_path": f"{self.cwd}/{f}",
                "content": text.code_lines(rng.randint(200, 2500)),
            },
            "Bash": {
                "command": rng.choice(
                    [
                        "pytest -q",
                        "npm test",
                        "git status",
                        "make build",
                        "ls -la",
                        "git commit -am wip",
                    ]
                ),
                "description": "run it",
            },
            "Grep": {"pattern": rng.choice(WORDS), "path": self.cwd},
            "Glob": {"pattern": "**/*.py"},
            "WebFetch": {"url": "https://example.com/docs", "prompt": "summarize"},
            "mcp__github__get_issue": {
                "owner": "acme",
                "repo": "app",
                "issue_number": rng.randint(1, 999),
            },
        }
        return {
            "type": "tool_use",
            "id": self.g._next("toolu_01"),
            "name": name,
            "input": inputs[name],
            "caller": {"type": "direct"},
        }

    def hooks(self, event: str, tool_id: str, count: int) -> None:
        """hook_progress lines: in real sessions about half of all lines."""
        for i in range(count):
            self.put(
                self.env(
                    "progress",
                    self.tick(0.01, 0.2),
                    data={
                        "type": "hook_progress",
                        "hookEvent": event,
                        "hookName": f"{event}:{self.rng.choice(TOOLS)}",
                        "command": f"${{CLAUDE_PLUGIN_ROOT}}/hooks/{event.lower()}-{i}.sh",
                    },
                    parentToolUseID=tool_id,
                    toolUseID=tool_id,
                )
            )

    def tool_result(self, tool: dict[str, Any], prompt_id: str | None) -> None:
        rng, text = self.rng, self.g.text
        self.hooks("PreToolUse", tool["id"], rng.randint(1, 3))
        if tool["name"] == "Bash" and rng.random() < 0.5:
            for _ in range(rng.randint(1, 4)):
                self.put(
                    self.env(
                        "progress",
                        self.tick(0.2, 2),
                        data={
                            "type": "bash_progress",
                            "output": text.words(200),
                            "fullOutput": text.words(400),
                            "elapsedTimeSeconds": 2,
                            "totalLines": 10,
                        },
                        toolUseID=tool["id"],
                        parentToolUseID=tool["id"],
                    )
                )
        r = rng.random()
        extra: dict[str, Any] = {}
        if prompt_id:
            extra["promptId"] = prompt_id
        if r < 0.03:
            content = (
                "The user doesn't want to proceed with this tool use. The tool use was rejected"
                " (eg. if it was a file edit, the new_string was NOT written to the file). STOP"
                " what you are doing and wait for the user to tell you how to proceed."
            )
            block = {
                "type": "tool_result",
                "content": content,
                "is_error": True,
                "tool_use_id": tool["id"],
            }
            self.put(
                self.env(
                    "user",
                    self.tick(1, 20),
                    message={"role": "user", "content": [block]},
                    toolUseResult="User rejected tool use",
                    **extra,
                )
            )
            if rng.random() < 0.5:
                self.put(
                    self.env(
                        "user",
                        self.tick(),
                        message={
                            "role": "user",
                            "content": [
                                {
                                    "type": "text",
                                    "text": "[Request interrupted by user for tool use]",
                                }
                            ],
                        },
                    )
                )
            return
        self.hooks("PostToolUse", tool["id"], rng.randint(1, 3))
        is_error = r < 0.12
        size = int(rng.expovariate(1 / self.g.tool_result_chars))
        content = text.code_lines(max(10, min(size, 60_000)))
        block = {"tool_use_id": tool["id"], "type": "tool_result", "content": content}
        if is_error or self.v >= (2, 1, 0):
            block["is_error"] = is_error
        result: Any = (
            {"stdout": content[:2000], "stderr": "", "interrupted": False, "isImage": False}
            if tool["name"] == "Bash"
            else {
                "type": "text",
                "file": {"filePath": tool["input"].get("file_path", ""), "numLines": 40},
            }
        )
        self.put(
            self.env(
                "user",
                self.tick(0.1, 6),
                message={"role": "user", "content": [block]},
                toolUseResult=result,
                sourceToolAssistantUUID=self.parent,
                **extra,
            )
        )

    def synthetic_error(self) -> None:
        msg = {
            "id": self.g._uuid(),
            "model": "<synthetic>",
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
            "content": [{"type": "text", "text": "API Error: 529 Overloaded"}],
        }
        self.put(
            self.env(
                "assistant", self.tick(), message=msg, isApiErrorMessage=True, error="overloaded"
            )
        )

    def btw_replay(self) -> None:
        """A `/btw` side question replays a main-thread message as a sidechain line."""
        _mid, _rid, line, _t = self.rng.choice(self.main_messages)
        copy = dict(line)
        copy["isSidechain"] = True
        copy["requestId"] = self.g._next("req_011")
        copy["uuid"] = self.g._uuid()
        self.put(copy)

    def subagent(self, task_id: str, prompt_id: str | None) -> None:
        rng = self.rng
        agent = f"a{rng.getrandbits(24):06x}"
        path = self.folder / self.sid / "subagents" / f"agent-{agent}.jsonl"
        sink = self.sub_files.setdefault(path, [])
        model = rng.choice(SUB_MODELS)
        side = {"isSidechain": True, "agentId": agent}
        saved_parent = self.parent
        self.parent = None
        first = self.env(
            "user",
            self.tick(),
            message={"role": "user", "content": "explore " + self.g.text.words(100)},
            **side,
        )
        sink.append(orjson.dumps(first))
        for i in range(rng.randint(1, 4)):
            blocks = [{"type": "text", "text": self.g.text.words(rng.randint(50, 400))}]
            _, _, _, lines = self.response(blocks, model=model, ttl="5m", sink=sink, sidechain=side)
            if self.progress_copies:
                # 2.1.x (before ~2.1.90) also streamed the subagent's lines into the main file.
                for d in lines:
                    inner = {k: d[k] for k in ("type", "timestamp", "message", "requestId", "uuid")}
                    self.parent = saved_parent
                    self.put(
                        self.env(
                            "progress",
                            d["timestamp"],
                            data={
                                "type": "agent_progress",
                                "message": inner,
                                "normalizedMessages": [],
                                "prompt": "explore",
                                "agentId": agent,
                            },
                            toolUseID=task_id,
                            parentToolUseID=task_id,
                        )
                    )
                    saved_parent = self.parent
                    self.parent = None
            if i == 0 and rng.random() < 0.5:
                tr = {
                    "tool_use_id": self.g._next("toolu_01"),
                    "type": "tool_result",
                    "content": "ok",
                }
                sink.append(
                    orjson.dumps(
                        self.env(
                            "user", self.tick(), message={"role": "user", "content": [tr]}, **side
                        )
                    )
                )
        self.parent = saved_parent

    def compact(self) -> None:
        ts = self.tick()
        u = self.g._uuid()
        self.put(
            {
                "parentUuid": None,
                "logicalParentUuid": self.parent,
                "isSidechain": False,
                "userType": "external",
                "cwd": self.cwd,
                "sessionId": self.sid,
                "version": self.version,
                "gitBranch": "main",
                "type": "system",
                "subtype": "compact_boundary",
                "content": "Conversation compacted",
                "isMeta": False,
                "timestamp": ts,
                "uuid": u,
                "level": "info",
                "compactMetadata": {"trigger": "auto", "preTokens": self.context},
            }
        )
        self.parent = u
        self.put(
            self.env(
                "user",
                self.tick(),
                message={
                    "role": "user",
                    "content": "This session is being continued from a previous conversation. "
                    + self.g.text.words(2000),
                },
                isCompactSummary=True,
                isVisibleInTranscriptOnly=True,
            )
        )
        agent = f"acompact-{self.rng.getrandbits(24):06x}"
        path = self.folder / self.sid / "subagents" / f"agent-{agent}.jsonl"
        sink = self.sub_files.setdefault(path, [])
        side = {"isSidechain": True, "agentId": agent}
        saved = self.parent
        self.parent = None
        sink.append(
            orjson.dumps(
                self.env(
                    "user", self.tick(), message={"role": "user", "content": "summarize"}, **side
                )
            )
        )
        self.response(
            [{"type": "text", "text": self.g.text.words(1500)}],
            model=self.model,
            ttl="5m",
            sink=sink,
            sidechain=side,
            stop="end_turn",
        )
        self.parent = saved
        self.context = self.rng.randint(8000, 15000)

    def clear(self) -> None:
        """`/clear`: the rest happens in a new session file that starts with the command."""
        self.close()
        self.sid = self.g._uuid()
        self.lines = []
        self.sub_files = {}
        self.parent = None
        self.main_messages = []
        self.context = self.rng.randint(8000, 15000)
        self.put(
            self.env(
                "user",
                self.tick(),
                message={
                    "role": "user",
                    "content": "<command-name>/clear</command-name>\n"
                    "            <command-message>clear</command-message>\n"
                    "            <command-args></command-args>",
                },
            )
        )
        self.put(
            self.env(
                "user",
                self.tick(),
                message={
                    "role": "user",
                    "content": "<local-command-stdout></local-command-stdout>",
                },
            )
        )

    def close(self) -> None:
        if not self.lines:
            return
        g = self.g
        self._write(self.folder / f"{self.sid}.jsonl", self.lines, corrupt=True)
        for path, lines in self.sub_files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write(path, lines, corrupt=False)
        g.stats.sessions += 1
        self.lines = []

    def _write(self, path: Path, lines: list[bytes], *, corrupt: bool) -> None:
        g = self.g
        data = b"\n".join(lines) + b"\n"
        if corrupt and g.corrupt_every and self.rng.randrange(g.corrupt_every) == 0:
            # A crash mid-write: the last line is cut short (its content is not counted by
            # the ledger only if it carried usage; cut a non-usage line to keep the ledger exact).
            data += b'{"parentUuid":"x","type":"user","message":{"role":"user","cont'
            g.stats.corrupt_lines += 1
        with open(path, "wb") as f:
            f.write(data)
        mtime = self.t.timestamp()
        os.utime(path, (mtime, mtime))
        g.stats.files += 1
        g.stats.bytes += len(data)
        g.stats.lines += len(lines) + (1 if data.endswith(b"cont") else 0)


def generate(root: Path, target_bytes: int, **kwargs: Any) -> CorpusStats:
    """Generate about `target_bytes` of transcripts below `root/projects`."""
    return Generator(root, **kwargs).generate(target_bytes)
