"""Claude Code stories as event sequences: the scoring scenarios, made varied and realistic.

`SessionBuilder` plays one Claude Code process: each step emits the events Claude Code 2.1.x
really sends (api_request with tokens and list-price cost, assistant_response, tool_decision +
tool_result with `tool_parameters`/`tool_input`, user_prompt, api_error, the session-title side
call, subagent runs) and advances the clock by a plausible amount. Token counts follow prompt
caching the way the API reports it: a few uncached input tokens, the conversation so far as
cache reads, what was added since the previous call as cache writes.

Each story function writes one goal arc (or a pair, for rework) into a builder and declares
its intended verdict with `SessionBuilder.begin`. The verdicts follow docs/scoring.md with its
default thresholds; `clear_cut` is False where the label rests on a fine margin of the outcome
weights rather than on a decisive signal.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from prism.demo import catalog as cat
from prism.sessions.model import REDACTED, EventRow

_NS = uuid.UUID("3c2f9d7e-4a1b-4e8c-b7d2-9f0e1a2b3c4d")

OPUS = "claude-opus-4-8"
SONNET = "claude-sonnet-4-5"
HAIKU = "claude-haiku-4-5"
EXPLORE = "agent:builtin:Explore"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """List prices in USD per million tokens, which is also micro-USD per token."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write_5m: Decimal


# Anthropic list prices (standard context, 5-minute cache writes = 1.25 x input,
# cache reads = 0.1 x input).
MODEL_PRICES: dict[str, ModelPrice] = {
    OPUS: ModelPrice(Decimal("5"), Decimal("25"), Decimal("0.50"), Decimal("6.25")),
    SONNET: ModelPrice(Decimal("3"), Decimal("15"), Decimal("0.30"), Decimal("3.75")),
    HAIKU: ModelPrice(Decimal("1"), Decimal("5"), Decimal("0.10"), Decimal("1.25")),
}
# Output tokens per second (thinking included), for plausible request durations.
_SPEED = {OPUS: 24.0, SONNET: 32.0, HAIKU: 60.0}


_RUNTIMES = {"cargo": (12.0, 75.0), "go": (4.0, 30.0), "npx": (5.0, 25.0), "npm": (6.0, 30.0),
             "uv": (3.0, 20.0), "git": (0.3, 1.5)}  # fmt: skip


def cost_micro_usd(
    model: str, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> int:
    """Exact list-price cost in integer micro-USD (half-even rounding of the exact sum)."""
    p = MODEL_PRICES[model]
    total = (
        p.input * input_tokens
        + p.output * output_tokens
        + p.cache_read * cache_read
        + p.cache_write_5m * cache_write
    )
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# --- intended verdicts -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expect:
    """The verdict a story intends; None fields are not checked. `flags` must all be present."""

    qualifying: bool | None = None
    outcome: str | None = None
    crushed: bool | None = None
    trivia_reason: str | None = None
    flags: tuple[str, ...] = ()
    is_rework: bool | None = None
    reworked_later: bool | None = None
    judge_status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is None or value == ():
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


CRUSHED = Expect(qualifying=True, outcome="goal_complete", crushed=True)


@dataclass
class ArcIntent:
    """One arc a story writes: its anchor (first prompt), story and intended verdict."""

    story: str
    expect: Expect
    clear_cut: bool = True
    role: str = "goal"
    first_prompt_id: str | None = None
    started_at: datetime | None = None
    pair: str | None = None
    """Links the two arcs of a rework story."""


@dataclass(frozen=True, slots=True)
class Persona:
    """Who sends the telemetry: identity attributes Claude Code puts on every record."""

    email: str
    user_id: str
    """Claude Code's installation id (64 hex)."""
    account_uuid: str
    organization_id: str
    accept_edits: bool = False
    """Runs in acceptEdits mode: edit tools need no permission prompt."""


# --- the builder -----------------------------------------------------------------------------


class SessionBuilder:
    """One Claude Code session (one process): events, metric increments and the arcs in it."""

    def __init__(
        self,
        *,
        persona: Persona,
        session_id: str,
        start: datetime,
        model: str,
        rng: random.Random,
        log_prompts: bool = True,
    ) -> None:
        self.persona = persona
        self.session_id = session_id
        self.t = start
        self.model = model
        self.rng = rng
        self.log_prompts = log_prompts
        self.events: list[EventRow] = []
        self.arcs: list[ArcIntent] = []
        self.counters: list[tuple[datetime, str, dict[str, str], float]] = []
        self.signal_points: list[tuple[datetime, str]] = []
        self.prompt_id: str | None = None
        self.titled = False
        self._seq = 0
        self._n = 0
        self._context = 0
        self._pending = 0
        self._pending_arc: ArcIntent | None = None
        self._base = {
            "user.email": persona.email,
            "user.account_uuid": persona.account_uuid,
            "organization.id": persona.organization_id,
        }
        self._count("claude_code.session.count", 1, {"start_type": "fresh"})

    # --- plumbing ------------------------------------------------------------------------------
    def _id(self, kind: str) -> str:
        self._n += 1
        return str(uuid.uuid5(_NS, f"{self.session_id}|{kind}|{self._n}"))

    def _emit(self, event_name: str, *, advance: float = 0.0, **fields: Any) -> EventRow:
        self.t += timedelta(seconds=advance)
        fields.setdefault("prompt_id", self.prompt_id)
        extra = fields.pop("attributes", None) or {}
        row = EventRow(
            time=self.t,
            developer_id=self.persona.email,
            session_id=self.session_id,
            event_name=event_name,
            event_sequence=self._seq,
            attributes={**self._base, **extra},
            **fields,
        )
        self._seq += 1
        self.events.append(row)
        return row

    def _count(self, name: str, value: float, attrs: dict[str, str] | None = None) -> None:
        self.counters.append((self.t, name, attrs or {}, value))

    def _jitter(self, n: int, spread: float = 0.25) -> int:
        return max(1, round(n * self.rng.uniform(1 - spread, 1 + spread)))

    def begin(
        self,
        story: str,
        expect: Expect,
        *,
        clear_cut: bool = True,
        role: str = "goal",
        pair: str | None = None,
    ) -> ArcIntent:
        """Declare that the next prompt opens an arc of `story`."""
        intent = ArcIntent(story, expect, clear_cut, role, pair=pair)
        self.arcs.append(intent)
        self._pending_arc = intent
        return intent

    def wait(self, seconds: float) -> SessionBuilder:
        self.t += timedelta(seconds=seconds)
        return self

    @property
    def end(self) -> datetime:
        return self.events[-1].time if self.events else self.t

    # --- steps ---------------------------------------------------------------------------------
    def title(self, text: str) -> SessionBuilder:
        """The side call that names the session: Haiku, no prompt id, just before the prompt."""
        if self.titled:
            return self
        self.titled = True
        saved, self.prompt_id = self.prompt_id, None
        req = "req_011C" + self._id("req").replace("-", "")[:20]
        body = json.dumps({"title": text})
        inp, out = self._jitter(380, 0.2), self._jitter(14, 0.3)
        self._emit(
            "api_request",
            advance=0.3,
            model=HAIKU,
            input_tokens=inp,
            output_tokens=out,
            cache_read_tokens=0,
            cache_creation_tokens=0,
            cost_micro_usd=cost_micro_usd(HAIKU, inp, out, 0, 0),
            duration_ms=float(self.rng.randint(450, 900)),
            request_id=req,
            query_source="generate_session_title",
        )
        self._emit(
            "assistant_response",
            response=body,
            response_length=len(body),
            request_id=req,
            model=HAIKU,
            query_source="generate_session_title",
        )
        self._usage(HAIKU, inp, out, 0, 0)
        self.prompt_id = saved
        self.t += timedelta(seconds=self.rng.uniform(1.0, 4.0))
        return self

    def prompt(self, text: str, *, advance: float | None = None) -> SessionBuilder:
        self.prompt_id = self._id("prompt")
        self._emit(
            "user_prompt",
            advance=self.rng.uniform(0.5, 2.0) if advance is None else advance,
            prompt=text if self.log_prompts else REDACTED,
            prompt_length=len(text),
        )
        if self._pending_arc is not None:
            self._pending_arc.first_prompt_id = self.prompt_id
            self._pending_arc.started_at = self.t
            self._pending_arc = None
        self._pending += max(4, len(text) // 4)
        return self

    def _usage(self, model: str, inp: int, out: int, read: int, write: int) -> None:
        cost = cost_micro_usd(model, inp, out, read, write)
        qs = {"model": model}
        for kind, n in (
            ("input", inp),
            ("output", out),
            ("cacheRead", read),
            ("cacheCreation", write),
        ):
            if n:
                self._count("claude_code.token.usage", n, {**qs, "type": kind})
        self._count("claude_code.cost.usage", cost / 1_000_000, qs)

    def _request(
        self, model: str, out: int, *, query_source: str, response: str | None
    ) -> EventRow:
        if self._context == 0:
            # The first call writes the system prompt and tool definitions to the cache.
            write = self.rng.randint(18_000, 32_000) + self._pending
            read = 0
        else:
            write, read = self._pending, self._context
        inp = self.rng.randint(1, 9)
        # Time to first token grows with the prompt; the answer streams at the model's pace.
        ttft = self.rng.uniform(1.5, 5.0) + (read + write) / 40_000
        seconds = ttft + out / _SPEED[model]
        req = "req_011C" + self._id("req").replace("-", "")[:20]
        row = self._emit(
            "api_request",
            advance=seconds,
            model=model,
            input_tokens=inp,
            output_tokens=out,
            cache_read_tokens=read,
            cache_creation_tokens=write,
            cost_micro_usd=cost_micro_usd(model, inp, out, read, write),
            duration_ms=round(seconds * 1000, 1),
            request_id=req,
            query_source=query_source,
        )
        if response is not None:
            self._emit(
                "assistant_response",
                response=response,
                response_length=len(response),
                request_id=req,
                model=model,
                query_source=query_source,
            )
        self._usage(model, inp, out, read, write)
        self._context += write + inp
        self._pending = out
        if self._context > 150_000:
            self._compact()
        return row

    def _compact(self) -> None:
        pre = self._context
        self._emit(
            "compaction",
            advance=self.rng.uniform(8, 20),
            attributes={"trigger": "auto", "success": "true", "pre_tokens": str(pre)},
        )
        self._context = self.rng.randint(18_000, 30_000)

    def think(
        self, output_tokens: int, response: str = "Working on it.", *, jitter: bool = True
    ) -> SessionBuilder:
        """One main-loop model call and its answer."""
        out = self._jitter(output_tokens) if jitter else output_tokens
        self._request(self.model, out, query_source="repl_main_thread", response=response)
        return self

    def tool(
        self,
        tool: str,
        params: dict[str, Any] | None = None,
        tool_input: dict[str, Any] | None = None,
        *,
        success: bool = True,
        error: str | None = None,
        seconds: float = 1.0,
        result_tokens: int = 300,
    ) -> SessionBuilder:
        use_id = "toolu_01" + self._id("tool").replace("-", "")[:22]
        p = json.dumps(params) if params is not None else None
        i = json.dumps(tool_input) if tool_input is not None else None
        needs_ok = tool in ("Bash", "Edit", "Write", "MultiEdit") and not (
            self.persona.accept_edits and tool != "Bash"
        )
        source = "user_temporary" if needs_ok and self.rng.random() < 0.5 else "config"
        self._emit(
            "tool_decision",
            advance=self.rng.uniform(1.5, 6.0) if source == "user_temporary" else 0.05,
            tool_name=tool,
            tool_use_id=use_id,
            decision="accept",
            decision_source=source,
            tool_parameters=p,
        )
        self._emit(
            "tool_result",
            advance=seconds,
            tool_name=tool,
            tool_use_id=use_id,
            success=success,
            duration_ms=round(seconds * 1000, 1),
            error=error,
            error_type="ShellError" if error else None,
            decision="accept",
            decision_source=source,
            tool_parameters=p,
            tool_input=i,
        )
        self._pending += result_tokens
        return self

    def read(self, path: str) -> SessionBuilder:
        return self.tool(
            "Read",
            None,
            {"file_path": path},
            seconds=self.rng.uniform(0.05, 0.3),
            result_tokens=self.rng.randint(1_200, 7_000),
        )

    def grep(self, pattern: str) -> SessionBuilder:
        return self.tool(
            "Grep",
            None,
            {"pattern": pattern, "output_mode": "content", "-n": True},
            seconds=self.rng.uniform(0.1, 0.6),
            result_tokens=self.rng.randint(150, 900),
        )

    def edit(self, path: str) -> SessionBuilder:
        added, removed = self.rng.randint(2, 45), self.rng.randint(0, 18)
        self._count("claude_code.lines_of_code.count", added, {"type": "added"})
        self._count("claude_code.lines_of_code.count", removed, {"type": "removed"})
        self._count(
            "claude_code.code_edit_tool.decision",
            1,
            {"tool_name": "Edit", "decision": "accept", "source": "config"},
        )
        return self.tool(
            "Edit",
            None,
            {
                "file_path": path,
                "old_string": "    return result\n",
                "new_string": "    if result is None:\n        return default\n    return result\n",
            },
            seconds=self.rng.uniform(0.05, 0.2),
            result_tokens=self.rng.randint(120, 400),
        )

    def write(self, path: str) -> SessionBuilder:
        added = self.rng.randint(20, 160)
        self._count("claude_code.lines_of_code.count", added, {"type": "added"})
        self._count(
            "claude_code.code_edit_tool.decision",
            1,
            {"tool_name": "Write", "decision": "accept", "source": "config"},
        )
        return self.tool(
            "Write",
            None,
            {"file_path": path, "content": f"// {path}\n" + "x = 1\n" * 6},
            seconds=self.rng.uniform(0.05, 0.2),
            result_tokens=self.rng.randint(60, 160),
        )

    def bash(
        self,
        command: str,
        *,
        success: bool = True,
        seconds: float | None = None,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> SessionBuilder:
        params: dict[str, Any] = {
            "bash_command": command.split()[0],
            "full_command": command,
            "timeout": 120000,
            "description": "Run " + " ".join(command.split()[:2]),
            **(extra or {}),
        }
        return self.tool(
            "Bash",
            params,
            {"command": command, "description": params["description"]},
            success=success,
            error=None if success else (error or "Exit code 1"),
            seconds=self._runtime(command) if seconds is None else seconds,
            result_tokens=self.rng.randint(150, 2500),
        )

    def _runtime(self, command: str) -> float:
        """How long a test or build takes, by toolchain (cargo compiles, pytest is quick)."""
        low, high = _RUNTIMES.get(command.split()[0], (2.0, 12.0))
        return self.rng.uniform(low, high)

    def commit(self, message: str) -> SessionBuilder:
        sha = uuid.uuid5(_NS, f"{self.session_id}|commit|{self._n}").hex[:7]
        self.bash(
            f'git add -A && git commit -m "{message}"',
            seconds=self.rng.uniform(0.3, 1.5),
            extra={"git_commit_id": sha},
        )
        self._count("claude_code.commit.count", 1)
        self.signal_points.append((self.t, "claude_code.commit.count"))
        return self

    def pull_request(self, title: str) -> SessionBuilder:
        self.bash("git push -u origin HEAD", seconds=self.rng.uniform(1.0, 3.0))
        self.bash(
            f'gh pr create --title "{title}" --body "Summary of the change and how it was tested."',
            seconds=self.rng.uniform(1.5, 4.0),
        )
        self._count("claude_code.pull_request.count", 1)
        self.signal_points.append((self.t, "claude_code.pull_request.count"))
        return self

    def subagent(self, description: str, reads: tuple[str, ...], pattern: str) -> SessionBuilder:
        """A Task call running the built-in Explore agent on Haiku (side work of the prompt)."""
        params = {"subagent_type": "Explore", "description": description}
        use_id = "toolu_01" + self._id("tool").replace("-", "")[:22]
        self._emit(
            "tool_decision",
            advance=0.05,
            tool_name="Task",
            tool_use_id=use_id,
            decision="accept",
            decision_source="config",
            tool_parameters=json.dumps(params),
        )
        started = self.t
        saved_ctx, saved_pending = self._context, self._pending
        self._context, self._pending = 0, 400
        self._request(HAIKU, self.rng.randint(60, 220), query_source=EXPLORE, response=None)
        self.grep(pattern)
        for path in reads:
            self._request(HAIKU, self.rng.randint(60, 220), query_source=EXPLORE, response=None)
            self.read(path)
        self._request(HAIKU, self.rng.randint(200, 500), query_source=EXPLORE, response=None)
        calls = len(reads) + 2
        self._context, self._pending = saved_ctx, saved_pending
        total = calls * 12_000
        self._emit(
            "subagent_completed",
            attributes={
                "agent_type": "Explore",
                "is_built_in": "true",
                "total_tool_uses": str(len(reads)),
                "total_tokens": str(total),
                "duration_ms": str(int((self.t - started).total_seconds() * 1000)),
                "model": HAIKU,
            },
        )
        self._emit(
            "tool_result",
            advance=0.05,
            tool_name="Task",
            tool_use_id=use_id,
            success=True,
            duration_ms=round((self.t - started).total_seconds() * 1000, 1),
            decision="accept",
            decision_source="config",
            tool_parameters=json.dumps(params),
        )
        self._pending += self.rng.randint(300, 900)
        return self

    def api_error(self, status: int = 529) -> SessionBuilder:
        self._emit(
            "api_error",
            advance=self.rng.uniform(1.0, 3.0),
            model=self.model,
            error="Overloaded" if status == 529 else "Internal server error",
            status_code=status,
            duration_ms=float(self.rng.randint(900, 2600)),
            attempt=11,
            query_source="repl_main_thread",
        )
        return self

    def human(self, low: float = 15.0, high: float = 90.0) -> SessionBuilder:
        """The developer reads the answer before typing again."""
        return self.wait(self.rng.uniform(low, high))


# --- the stories -----------------------------------------------------------------------------
# Each takes (builder, project, rng, lead) and writes one arc; `lead` is the new-task cue
# ("Next, ") when the story continues a session whose previous goal is complete.


def _lead(lead: str, text: str) -> str:
    if not lead:
        return text
    if text.startswith("Explain") and lead not in cat.EXPLAIN_CUES:
        lead = cat.EXPLAIN_CUES[len(lead) % len(cat.EXPLAIN_CUES)]
    return lead + text[0].lower() + text[1:]


def _close_with_approval(s: SessionBuilder, rng: random.Random) -> None:
    s.human(15, 120).prompt(rng.choice(cat.APPROVALS))
    s.think(rng.randint(12, 45), rng.choice(("Glad it works.", "You're welcome!", "Great.")))


COMMIT_ASKS = ("commit it", "great, commit this", "ok, commit", "thanks, commit and push")
PR_ASKS = ("great, open a PR", "thanks, open a pr for this", "perfect, create a PR")


def _close_code_change(s: SessionBuilder, rng: random.Random, title: str) -> None:
    """How a finished change ends: approval, a commit, a pull request, or nothing more."""
    way = rng.choices(("thanks", "commit", "pr", "none"), (0.42, 0.25, 0.15, 0.18))[0]
    if way == "thanks":
        _close_with_approval(s, rng)
    elif way == "commit":
        s.human(10, 90).prompt(rng.choice(COMMIT_ASKS))
        s.think(rng.randint(60, 140), "Committing.").commit(title)
        s.think(rng.randint(30, 80), f"Committed: {title}.")
    elif way == "pr":
        s.human(10, 90).prompt(rng.choice(PR_ASKS))
        s.think(rng.randint(80, 160), "Committing and opening a pull request.").commit(title)
        s.pull_request(title)
        s.think(rng.randint(40, 90), "Opened the pull request.")


def feature(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """A feature built with tests that pass after the last edit: crushed."""
    task = rng.choice(p.features)
    s.begin("feature_crushed", CRUSHED)
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    s.think(rng.randint(180, 420), "I'll look at the current code first.").read(task.src)
    _look_around(s, rng, task.src)
    if rng.random() < 0.2:
        s.subagent("Find related code", (task.test,), task.src.rsplit("/", 1)[-1].split(".")[0])
    elif rng.random() < 0.4:
        s.grep(task.src.rsplit("/", 1)[-1].split(".")[0])
    s.think(rng.randint(600, 1200), "Implementing the change.").edit(task.src)
    if rng.random() < 0.5:
        s.think(rng.randint(200, 500), "One more place needs it.").edit(task.src)
    s.think(rng.randint(400, 900), "Now the tests.")
    if rng.random() < 0.5:
        s.write(task.test)
    else:
        s.edit(task.test)
    if rng.random() < 0.3:
        s.think(rng.randint(100, 220), "Running the tests.")
        s.bash(p.test_cmd(task.test), success=False)
        s.think(rng.randint(250, 500), "One case fails; fixing the boundary.").edit(task.src)
    s.think(rng.randint(100, 220), "Running the tests.").bash(p.test_cmd(task.test))
    if rng.random() < 0.35:
        s.think(rng.randint(60, 140), "And the build.").bash(p.build_cmd)
    s.think(rng.randint(150, 350), task.done)
    _close_code_change(s, rng, task.title)


def bugfix(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """Reproduce with the failing test, fix, test passes: crushed."""
    task = rng.choice(p.bugs)
    s.begin("bugfix_crushed", CRUSHED)
    _fix(s, p, rng, task, lead, commit=rng.random() < 0.5)


def _fix(
    s: SessionBuilder,
    p: cat.Project,
    rng: random.Random,
    task: cat.BugTask,
    lead: str,
    *,
    commit: bool,
    add_test: bool | None = None,
) -> None:
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    s.think(rng.randint(150, 350), "Let me reproduce it first.")
    s.bash(p.test_cmd(task.test), success=False)
    s.think(rng.randint(200, 400), "Reading the code.").read(task.src)
    if rng.random() < 0.4:
        s.grep(task.test_name)
    _look_around(s, rng, task.src)
    s.think(rng.randint(500, 1000), "Found the cause.").edit(task.src)
    if add_test if add_test is not None else rng.random() < 0.4:
        s.think(rng.randint(250, 500), "Adding a regression test.").edit(task.test)
    s.think(rng.randint(80, 180), "Running the test again.").bash(p.test_cmd(task.test))
    if rng.random() < 0.3:
        s.think(rng.randint(60, 140), "And the whole suite.").bash(p.test_all_cmd)
    s.think(rng.randint(150, 300), task.done)
    if commit:
        s.human(10, 80).prompt(rng.choice(COMMIT_ASKS))
        s.think(rng.randint(60, 140), "Committing.").commit(f"Fix: {task.title.lower()}")
        s.think(rng.randint(30, 80), "Committed.")
    elif rng.random() < 0.6:
        _close_with_approval(s, rng)


def rework_original(
    s: SessionBuilder, p: cat.Project, rng: random.Random, task: cat.BugTask, pair: str
) -> ArcIntent:
    """A fix, tested and committed: crushed, and later marked reworked (shown, not revoked)."""
    intent = s.begin(
        "fix_then_rework",
        Expect(qualifying=True, outcome="goal_complete", crushed=True, reworked_later=True),
        role="original",
        pair=pair,
    )
    _fix(s, p, rng, task, "", commit=True, add_test=True)
    return intent


def rework_redo(
    s: SessionBuilder, p: cat.Project, rng: random.Random, task: cat.BugTask, pair: str
) -> None:
    """Days later the same bug is back ("still", "again"): rework, which never crushes."""
    s.begin(
        "fix_then_rework",
        Expect(qualifying=True, outcome="goal_complete", crushed=False, is_rework=True),
        role="rework",
        pair=pair,
    )
    s.title(task.title + " (again)")
    s.prompt(task.rework_prompt)
    s.think(rng.randint(200, 400), "Looking at the earlier fix.").read(task.src)
    s.think(rng.randint(600, 1100), "The earlier fix missed a path.").edit(task.src)
    s.think(rng.randint(250, 450), "Extending the regression test.").edit(task.test)
    s.think(rng.randint(80, 180), "Running the tests.").bash(p.test_cmd(task.test))
    s.think(rng.randint(150, 300), task.done)
    s.human(20, 90).prompt(rng.choice(("thanks, works now", "ok that works, thanks")))
    s.think(rng.randint(12, 40), "Glad it's fixed.")


def bug_failed(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """Three attempts, the test keeps failing, the developer gives up: failed."""
    task = rng.choice(p.bugs)
    s.begin("bug_failed", Expect(qualifying=True, outcome="failed", crushed=False))
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    s.think(rng.randint(300, 500), "Reading the code.").read(task.src)
    s.think(rng.randint(400, 800), "Trying a fix.").edit(task.src)
    s.think(rng.randint(100, 200)).bash(p.test_cmd(task.test), success=False)
    s.think(rng.randint(120, 250), "The test still fails.")
    complaints = rng.choice(cat.FRUSTRATIONS)
    for text in complaints[: rng.randint(1, 2)]:
        s.human(20, 60).prompt(text)
        s.think(rng.randint(350, 700), "Trying another approach.").edit(task.src)
        s.think(rng.randint(100, 200)).bash(p.test_cmd(task.test), success=False)
        s.think(rng.randint(120, 250), "Still failing.")
    s.human(15, 40).prompt(rng.choice(cat.GIVE_UPS))
    s.think(rng.randint(80, 160), "Reverted.")


def question(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """A question answered without any tool: trivia (no_work)."""
    q = rng.choice(p.questions)
    s.begin(
        "question_trivia",
        Expect(qualifying=False, trivia_reason="no_work", crushed=False),
    )
    s.title(q.prompt.rstrip("?")[:40])
    s.prompt((rng.choice(cat.QUESTION_CUES) + q.prompt) if lead else q.prompt)
    s.think(rng.randint(90, 380), q.answer)
    if q.follow_up and rng.random() < 0.4:
        s.human(15, 50).prompt(q.follow_up)
        s.think(rng.randint(50, 200), q.follow_answer or "Yes.")


_NEIGHBOURS = ("README.md", "CLAUDE.md", "pyproject.toml", "package.json", "go.mod", "Cargo.toml")


def _look_around(s: SessionBuilder, rng: random.Random, path: str) -> None:
    """What the agent does before changing code: a few reads and searches around `path`."""
    folder = path.rsplit("/", 1)[0] if "/" in path else "."
    stem = path.rsplit("/", 1)[-1].split(".")[0]
    for _ in range(rng.randint(1, 4)):
        step = rng.random()
        s.think(rng.randint(80, 260), "Looking around.")
        if step < 0.35:
            s.grep(stem)
        elif step < 0.6:
            s.tool("Glob", None, {"pattern": f"{folder}/**/*"}, seconds=0.1, result_tokens=150)
        elif step < 0.8:
            s.read(path)
        else:
            s.read(rng.choice(_NEIGHBOURS))


def _keep_reading(
    s: SessionBuilder, rng: random.Random, since: datetime, seconds: float, path: str
) -> None:
    """More reading until the arc has lasted `seconds` (a fast model answers sooner)."""
    while (s.t - since).total_seconds() < seconds:
        s.think(rng.randint(200, 400), "Reading further.").read(path)


def _explore_steps(s: SessionBuilder, task: cat.ExploreTask, rng: random.Random) -> None:
    asked = s.t
    s.think(rng.randint(200, 400), "Let me read the code.").read(task.reads[0])
    s.think(rng.randint(150, 300), "Searching for the call sites.").grep(task.grep)
    for path in task.reads[1:]:
        s.think(rng.randint(150, 300)).read(path)
    s.think(rng.randint(200, 400), "Checking the tests.").tool(
        "Glob", None, {"pattern": "**/*test*"}, seconds=0.2, result_tokens=200
    )
    s.think(rng.randint(150, 300), "Checking one more place.").grep(task.grep.rstrip("("))
    s.think(rng.randint(200, 400), "Reading the caller.").read(task.reads[-1])
    _keep_reading(s, rng, asked, 75.0, task.reads[-1])
    s.think(rng.randint(700, 1300), task.answer)


def explore(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """Reading and explaining, no verdict from the developer: qualifies, outcome unclear."""
    task = rng.choice(p.explores)
    s.begin(
        "explore",
        Expect(qualifying=True, outcome="unclear", crushed=False),
        clear_cut=False,
    )
    s.title("Explain " + task.reads[0].rsplit("/", 1)[-1])
    s.prompt(_lead(lead, task.prompt))
    _explore_steps(s, task, rng)


def self_grading(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """An explanation closed with "perfect, thanks": no edit, no test: self_grading blocks."""
    task = rng.choice(p.explores)
    s.begin("self_grading", Expect(qualifying=True, crushed=False, flags=("self_grading",)))
    s.title("Explain " + task.reads[0].rsplit("/", 1)[-1])
    s.prompt(_lead(lead, task.prompt))
    _explore_steps(s, task, rng)
    s.human(20, 60).prompt(rng.choice(cat.SELF_GRADE_APPROVALS))
    s.think(rng.randint(12, 40), "Glad it helped.")


def abandoned(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """A refactor under way when the developer walks away; the agent never answers."""
    task = rng.choice(p.refactors)
    s.begin("abandoned", Expect(qualifying=True, outcome="abandoned", crushed=False))
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    asked = s.t
    s.think(rng.randint(300, 600), "Reading the module.").read(task.files[0])
    s.think(rng.randint(200, 400), "Finding the callers.").grep(task.files[0].rsplit("/", 1)[-1])
    _keep_reading(s, rng, asked, 45.0, task.files[-1])
    s.think(rng.randint(700, 1200), "Starting the extraction.")
    if task.new_file:
        s.write(task.new_file)
    for path in task.files:
        s.think(rng.randint(400, 800)).edit(path)
    s.think(rng.randint(300, 600)).edit(task.files[0])


def refactor(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """A refactor with the suite passing at the end: crushed."""
    task = rng.choice(p.refactors)
    s.begin("refactor_crushed", CRUSHED)
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    for path in task.files:
        s.think(rng.randint(150, 300), "Reading.").read(path)
    _look_around(s, rng, task.files[0])
    if task.new_file:
        s.think(rng.randint(700, 1300), "Creating the new module.").write(task.new_file)
    for path in task.files:
        s.think(rng.randint(300, 700), "Updating the callers.").edit(path)
    s.think(rng.randint(80, 180), "Running the suite.").bash(p.test_all_cmd)
    s.think(rng.randint(150, 300), task.done)
    _close_code_change(s, rng, task.title)


def tests(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """New tests written and passing: crushed."""
    task = rng.choice(p.tests)
    s.begin("tests_crushed", CRUSHED)
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    asked = s.t
    s.think(rng.randint(200, 400), "Reading the code under test.").read(task.src)
    _look_around(s, rng, task.test)
    _keep_reading(s, rng, asked, 40.0, task.test)
    s.think(rng.randint(700, 1300), "Writing the tests.").write(task.test)
    if rng.random() < 0.35:
        s.think(rng.randint(80, 160)).bash(p.test_cmd(task.test), success=False)
        s.think(rng.randint(200, 400), "One expectation was wrong in the test.").edit(task.test)
    s.think(rng.randint(80, 160), "Running them.").bash(p.test_cmd(task.test))
    s.think(rng.randint(100, 250), task.done)
    _close_code_change(s, rng, task.title)


def docs(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """Documentation written and approved: crushed (an edit, so not self-grading)."""
    task = rng.choice(p.docs)
    s.begin("docs_crushed", CRUSHED)
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    asked = s.t
    for path in task.reads:
        s.think(rng.randint(150, 300), "Reading the source.").read(path)
    _keep_reading(s, rng, asked, 40.0, task.reads[-1])
    s.think(rng.randint(900, 1800), "Writing the page.").write(task.doc)
    s.think(rng.randint(100, 250), task.done)
    _close_with_approval(s, rng)


def tiny_burst(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """A real feature, with eight one-word nudges in two minutes: flagged, still crushed."""
    task = rng.choice(p.features)
    s.begin("tiny_burst", replace(CRUSHED, flags=("tiny_prompt_burst",)))
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    s.think(rng.randint(400, 700), "Reading.").read(task.src)
    s.think(rng.randint(600, 1000), "Implementing.").edit(task.src)
    for word in rng.sample(cat.TINY_PROMPTS, 8):
        s.prompt(word, advance=rng.uniform(6.0, 16.0))
    s.think(rng.randint(300, 600), "Adding the test.").edit(task.test)
    s.think(rng.randint(80, 160)).bash(p.test_cmd(task.test))
    s.think(rng.randint(150, 300), task.done)


def retry_storm(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """The same prompt sent five times in a minute, then good work: the storm blocks a crush."""
    task = rng.choice(p.bugs)
    s.begin(
        "retry_storm",
        Expect(
            qualifying=True, outcome="goal_complete", crushed=False, flags=("auto_retry_storm",)
        ),
    )
    s.title(task.title)
    text = task.prompt.split(":")[0]
    for _ in range(5):
        s.prompt(text, advance=rng.uniform(5.0, 14.0))
    s.think(rng.randint(400, 700)).read(task.src)
    s.think(rng.randint(500, 900)).edit(task.src)
    s.think(rng.randint(200, 400)).bash(p.test_cmd(task.test))
    s.think(rng.randint(150, 300), task.done)
    s.human(15, 40).prompt("thanks")
    s.think(12, "You're welcome.")


def api_outage(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """An API outage: ten errors in four minutes while the developer keeps retrying."""
    task = rng.choice(p.features)
    s.begin(
        "api_outage",
        Expect(qualifying=True, outcome="failed", crushed=False, flags=("auto_retry_storm",)),
    )
    s.title(task.title)
    s.prompt(_lead(lead, task.prompt))
    s.think(rng.randint(400, 700), "Reading.").read(task.src)
    s.think(rng.randint(600, 1000), "Implementing.").edit(task.src)
    status = rng.choice((529, 500))
    for i in range(10):
        s.wait(rng.uniform(12.0, 20.0)).api_error(status)
        if i < 9:
            s.prompt(rng.choice(("continue", "try again", "go on")), advance=rng.uniform(3, 6))


def push_rejected(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """A version bump committed, but the push is rejected: partial (a fine margin)."""
    task = rng.choice(p.releases)
    s.begin(
        "push_partial",
        Expect(qualifying=True, outcome="partial", crushed=False),
        clear_cut=False,
    )
    s.title(task.message)
    s.prompt(_lead(lead, task.prompt))
    for path in task.files:
        s.think(rng.randint(150, 300), "Reading.").read(path)
    s.think(rng.randint(100, 200), "Checking the last release.").bash(
        "git log --oneline -5", seconds=rng.uniform(0.2, 0.6)
    )
    for path in task.files:
        s.think(rng.randint(250, 500), "Updating.").edit(path)
    s.think(rng.randint(80, 160), "Reviewing the diff.").bash(
        "git diff --stat", seconds=rng.uniform(0.2, 0.6)
    )
    s.think(rng.randint(60, 140), "Committing.").commit(task.message)
    s.think(rng.randint(40, 90), "Pushing.")
    s.bash(
        "git push origin HEAD",
        success=False,
        seconds=rng.uniform(1.0, 3.0),
        error="! [rejected] HEAD -> main (non-fast-forward)",
    )
    s.think(
        rng.randint(120, 250),
        "The push was rejected: origin/main has new commits. Pull with --rebase, then push.",
    )


def no_text(s: SessionBuilder, p: cat.Project, rng: random.Random, lead: str = "") -> None:
    """Prompt logging off: judged from the tool trail (fail, edit, pass, commit): crushed."""
    task = rng.choice(p.bugs)
    s.begin("no_text", replace(CRUSHED, judge_status="skipped_no_text"))
    s.title(task.title)
    s.prompt(task.prompt)
    s.think(rng.randint(200, 400)).bash(p.test_cmd(task.test), success=False)
    s.think(rng.randint(200, 400)).read(task.src)
    s.think(rng.randint(500, 1000)).edit(task.src)
    s.think(rng.randint(80, 180)).bash(p.test_cmd(task.test))
    s.think(rng.randint(60, 140)).commit(f"Fix: {task.title.lower()}")
    s.think(rng.randint(100, 250), "Fixed and committed.")


def splitting_session(s: SessionBuilder, p: cat.Project, rng: random.Random, i: int) -> None:
    """One of six tiny sessions within an hour, each barely over the floor: arc_splitting."""
    task = p.typos[i % len(p.typos)]
    s.begin(
        "arc_splitting",
        Expect(qualifying=True, outcome="goal_complete", crushed=False, flags=("arc_splitting",)),
    )
    s.title("Fix a typo")
    s.prompt(task.prompt)
    asked = s.t
    s.think(rng.randint(200, 240), "Fixing the typo.", jitter=False).edit(task.src)
    s.think(rng.randint(140, 170), "Running the tests.", jitter=False)
    # Between 60 and 120 s from prompt to answer, whatever the model's speed: barely over.
    elapsed = (s.t - asked).total_seconds()
    s.bash(p.test_all_cmd, seconds=max(15.0, rng.uniform(68.0, 74.0) - elapsed))
    s.think(rng.randint(140, 170), "Fixed the typo; tests pass.", jitter=False)


@dataclass(frozen=True, slots=True)
class StoryKind:
    """How a story may be placed in a session."""

    build: Callable[..., None] | None
    weight: float
    ends_complete: bool = False
    """The arc shows a completion signal at its end, so a new-task cue can follow it."""
    follows_cue: bool = True
    """It can open with a new-task cue after a completed goal in the same session."""
    follows_gap: bool = True
    """It can start after an idle gap in the same session."""
    last_in_session: bool = False
    """Its verdict rests on a small margin that a following arc ("moved on") would change."""
    standalone: bool = False
    """Always a session of its own."""
    tags: frozenset[str] = field(default_factory=frozenset)


STORIES: dict[str, StoryKind] = {
    "feature_crushed": StoryKind(feature, 20, ends_complete=True),
    "bugfix_crushed": StoryKind(bugfix, 12, ends_complete=True),
    "refactor_crushed": StoryKind(refactor, 5, ends_complete=True),
    "tests_crushed": StoryKind(tests, 5, ends_complete=True),
    "docs_crushed": StoryKind(docs, 4, ends_complete=True),
    "bug_failed": StoryKind(bug_failed, 8),
    "question_trivia": StoryKind(question, 10),
    "explore": StoryKind(explore, 5, last_in_session=True),
    "abandoned": StoryKind(abandoned, 5, follows_cue=True),
    "push_partial": StoryKind(push_rejected, 1.5, last_in_session=True),
    "self_grading": StoryKind(self_grading, 3, ends_complete=True),
    "tiny_burst": StoryKind(tiny_burst, 2, ends_complete=True),
    "retry_storm": StoryKind(retry_storm, 1.2, ends_complete=True, follows_cue=False),
    "api_outage": StoryKind(api_outage, 0.6),
    "no_text": StoryKind(no_text, 4, standalone=True, tags=frozenset({"no_text"})),
    "fix_then_rework": StoryKind(None, 2.5, standalone=True),
    "arc_splitting": StoryKind(None, 0.35, standalone=True),
}
INTEGRITY_STORIES = ("retry_storm", "tiny_burst", "self_grading", "api_outage", "arc_splitting")
