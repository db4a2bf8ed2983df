"""A library of known Claude Code stories, each a timed list of `EventRow`.

Every scenario carries the attributes Claude Code really sends (api_request tokens and cost,
tool_decision + tool_result with `tool_parameters` JSON, Edit `tool_input` with a file_path,
the session-title side call), so the same stories can later be replayed through the real
ingest endpoint (`event_dicts` gives plain dicts). Ids and times are deterministic.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from prism.sessions.model import REDACTED, EventRow, MetricSignal

MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
MODEL = "claude-sonnet-4-5"
_NS = uuid.UUID("0b9f6a3e-8c1d-4f7a-9e2b-5d4c3b2a1f00")


class Story:
    """Builds one session's events step by step; each step advances a realistic amount of time."""

    def __init__(
        self,
        name: str,
        *,
        developer_id: str = "dev-alice",
        start: datetime = MONDAY,
        log_prompts: bool = True,
    ) -> None:
        self.developer_id = developer_id
        self.session_id = str(uuid.uuid5(_NS, f"{developer_id}|{name}|{start.isoformat()}"))
        self.t = start
        self.seq = 0
        self.log_prompts = log_prompts
        self.prompt_id: str | None = None
        self.events: list[EventRow] = []
        self.signals: list[MetricSignal] = []
        self._n = 0

    # --- plumbing --------------------------------------------------------------------------
    def _emit(self, event_name: str, *, advance: float = 0.0, **fields: Any) -> EventRow:
        self.t += timedelta(seconds=advance)
        fields.setdefault("prompt_id", self.prompt_id)
        row = EventRow(
            time=self.t,
            developer_id=self.developer_id,
            session_id=self.session_id,
            event_name=event_name,
            event_sequence=self.seq,
            attributes={"terminal.type": "xterm-256color", "user.id": "a1b2c3" * 10},
            **fields,
        )
        self.seq += 1
        self.events.append(row)
        return row

    def _id(self, kind: str) -> str:
        self._n += 1
        return str(uuid.uuid5(_NS, f"{self.session_id}|{kind}|{self._n}"))

    def wait(self, seconds: float) -> Story:
        self.t += timedelta(seconds=seconds)
        return self

    # --- steps -----------------------------------------------------------------------------
    def title(self, text: str) -> Story:
        """Claude Code's side call that names the session (no prompt id, before the prompt)."""
        saved, self.prompt_id = self.prompt_id, None
        req = "req_" + self._id("req")[:12]
        self._emit(
            "api_request",
            advance=0.2,
            model="claude-haiku-4-5",
            input_tokens=420,
            output_tokens=12,
            cache_read_tokens=0,
            cache_creation_tokens=0,
            cost_micro_usd=480,
            duration_ms=610.0,
            request_id=req,
            query_source="generate_session_title",
        )
        body = json.dumps({"title": text})
        self._emit(
            "assistant_response",
            response=body,
            response_length=len(body),
            request_id=req,
            model="claude-haiku-4-5",
            query_source="generate_session_title",
        )
        self.prompt_id = saved
        return self

    def prompt(self, text: str, *, advance: float = 5.0) -> Story:
        self.prompt_id = self._id("prompt")
        self._emit(
            "user_prompt",
            advance=advance,
            prompt=text if self.log_prompts else REDACTED,
            prompt_length=len(text),
        )
        return self

    def think(self, output_tokens: int = 320, response: str = "Working on it.") -> Story:
        """One main-loop model call and its answer."""
        req = "req_" + self._id("req")[:12]
        self._emit(
            "api_request",
            advance=15.0,
            model=MODEL,
            input_tokens=2400,
            output_tokens=output_tokens,
            cache_read_tokens=18000,
            cache_creation_tokens=1200,
            cost_micro_usd=2400 * 3 + output_tokens * 15 + 18000 * 3 // 10 + 1200 * 375 // 100,
            duration_ms=7400.0,
            request_id=req,
            query_source="repl_main_thread",
        )
        self._emit(
            "assistant_response",
            response=response,
            response_length=len(response),
            request_id=req,
            model=MODEL,
            query_source="repl_main_thread",
        )
        return self

    def tool(
        self,
        tool: str,
        params: dict[str, Any] | None = None,
        tool_input: dict[str, Any] | None = None,
        *,
        success: bool = True,
        reject: bool = False,
        error: str | None = None,
        seconds: float = 3.0,
    ) -> Story:
        use_id = "toolu_" + self._id("tool")[:12]
        p = json.dumps(params) if params is not None else None
        i = json.dumps(tool_input) if tool_input is not None else None
        self._emit(
            "tool_decision",
            advance=1.0,
            tool_name=tool,
            tool_use_id=use_id,
            decision="reject" if reject else "accept",
            decision_source="user_reject" if reject else "config",
            tool_parameters=p,
        )
        if reject:
            return self
        self._emit(
            "tool_result",
            advance=seconds,
            tool_name=tool,
            tool_use_id=use_id,
            success=success,
            duration_ms=seconds * 1000,
            error=error,
            error_type="ShellError" if error else None,
            decision="accept",
            decision_source="config",
            tool_parameters=p,
            tool_input=i,
        )
        return self

    def edit(self, path: str, *, success: bool = True, reject: bool = False) -> Story:
        return self.tool(
            "Edit",
            None,
            {"file_path": path, "old_string": "return None", "new_string": "return value"},
            success=success,
            reject=reject,
        )

    def write(self, path: str) -> Story:
        return self.tool("Write", None, {"file_path": path, "content": "def f():\n    return 1\n"})

    def read(self, path: str) -> Story:
        return self.tool("Read", None, {"file_path": path}, seconds=0.2)

    def grep(self, pattern: str) -> Story:
        return self.tool("Grep", None, {"pattern": pattern}, seconds=0.4)

    def bash(self, command: str, *, success: bool = True, seconds: float = 6.0) -> Story:
        params = {
            "bash_command": command.split()[0],
            "full_command": command,
            "description": "run " + command.split()[0],
        }
        return self.tool(
            "Bash",
            params,
            {"command": command, "description": params["description"]},
            success=success,
            error=None if success else "Command failed with exit code 1",
            seconds=seconds,
        )

    def api_error(self, status: int = 529) -> Story:
        self._emit(
            "api_error",
            advance=2.0,
            model=MODEL,
            error="Overloaded",
            status_code=status,
            duration_ms=1200.0,
            attempt=11,
            query_source="repl_main_thread",
        )
        return self

    def commit_metric(self, value: float = 1.0) -> Story:
        self.signals.append(
            MetricSignal(
                self.t + timedelta(seconds=30),
                self.session_id,
                "claude_code.commit.count",
                value,
                self.developer_id,
            )
        )
        return self


def event_dicts(rows: list[EventRow]) -> list[dict[str, Any]]:
    """Plain dicts (lake column names) for replaying a scenario through ingest."""
    return [asdict(r) for r in rows]


# --- the stories -------------------------------------------------------------------------------


def feature_crushed(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """A feature built, tests pass after the last edit, and the developer says thanks."""
    s = Story("feature", developer_id=developer_id, start=start)
    s.title("Add health endpoint")
    s.prompt(
        'Add a /health endpoint to src/app.py that returns {"status": "ok"} and add a test '
        "in tests/test_app.py; run pytest to verify it passes."
    )
    s.think(450, "I'll look at the app first.").read("src/app.py")
    s.think(600, "Adding the endpoint.").edit("src/app.py")
    s.think(500, "Now the test.").write("tests/test_app.py")
    s.think(200, "Running the tests.").bash("pytest -q tests/")
    s.think(250, "Done: /health returns ok and the test passes.")
    s.wait(40).prompt("thanks, that works!").think(40, "You're welcome.")
    return s.events


def bug_failed(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """A bug still failing after three attempts; the developer gives up, frustrated."""
    s = Story("bug", developer_id=developer_id, start=start)
    s.prompt(
        "Fix the failing test test_parse_dates in tests/test_parser.py: it raises ValueError "
        "on ISO dates with a Z suffix."
    )
    s.think(400).read("src/parser.py").think(500).edit("src/parser.py")
    s.think(150).bash("pytest tests/test_parser.py", success=False).think(200, "Still failing.")
    s.wait(30).prompt("still failing, same error").think(450).edit("src/parser.py")
    s.think(150).bash("pytest tests/test_parser.py", success=False).think(200)
    s.wait(30).prompt("it still doesn't work, this is wrong").think(450).edit("src/parser.py")
    s.think(150).bash("pytest tests/test_parser.py", success=False).think(200)
    s.wait(20).prompt("ugh, forget it. revert everything").think(120, "Reverted.")
    return s.events


def question_trivia(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """A question answered with no tool work: trivia, reason no_work."""
    s = Story("question", developer_id=developer_id, start=start)
    s.prompt("What does the --frozen flag of uv sync do?")
    s.think(380, "It installs exactly what the lock file says without updating it.")
    return s.events


def fix_then_rework(
    start: datetime = MONDAY, developer_id: str = "dev-alice"
) -> tuple[list[EventRow], list[EventRow]]:
    """A fix completed (tests pass, commit), then redone two days later: "still broken"."""
    a = Story("fix-1", developer_id=developer_id, start=start)
    a.prompt(
        "Fix the CSV export in src/export.py: rows with commas in the name are split into "
        "two columns. Add a regression test in tests/test_export.py."
    )
    a.think(420).read("src/export.py").think(600).edit("src/export.py")
    a.think(400).edit("tests/test_export.py").think(150).bash("pytest tests/test_export.py")
    a.think(120).bash('git commit -am "Quote CSV fields"').think(200, "Fixed and committed.")
    b = Story("fix-2", developer_id=developer_id, start=start + timedelta(days=2))
    b.prompt(
        "The CSV export is still broken: names with commas split into two columns again "
        "in src/export.py"
    )
    b.think(420).read("src/export.py").think(600).edit("src/export.py")
    b.think(400).edit("tests/test_export.py").think(150).bash("pytest tests/test_export.py")
    b.think(200, "Fixed: quoting now also covers the header row.")
    b.wait(30).prompt("thanks, works now")
    return a.events, b.events


def retry_storm(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """Five identical prompts within a minute, then work that would otherwise crush."""
    s = Story("storm", developer_id=developer_id, start=start)
    for _ in range(5):
        s.prompt("Fix the flaky login test in tests/test_login.py", advance=10.0)
    s.think(500).read("tests/test_login.py").think(600).edit("tests/test_login.py")
    s.think(300).bash("pytest tests/test_login.py").think(200, "The test is stable now.")
    s.wait(20).prompt("thanks")
    return s.events


def tiny_burst(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """A real goal, then eight two-letter prompts within two minutes."""
    s = Story("tiny", developer_id=developer_id, start=start)
    s.prompt("Add input validation to create_user in src/users.py and run the tests")
    s.think(600).read("src/users.py").think(600).edit("src/users.py")
    for word in ("ok", "go", "ok", "go", "ya", "ok", "go", "ok"):
        s.prompt(word, advance=12.0)
    s.think(300).bash("pytest -q").think(200, "Validation added; tests pass.")
    return s.events


def two_goals(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """Two unrelated goals in one session: the second begins with a new-task cue."""
    s = Story("two-goals", developer_id=developer_id, start=start)
    s.prompt("Add a --verbose flag to the CLI in src/cli.py and make sure the tests pass")
    s.think(500).edit("src/cli.py").think(400).bash("pytest -q tests/test_cli.py")
    s.think(200, "Added --verbose; tests pass.")
    s.wait(20).prompt("great")
    s.wait(30).prompt("Now let's write documentation for the billing webhooks in docs/billing.md")
    s.think(700).read("src/billing/webhooks.py").think(800).write("docs/billing.md")
    s.think(250, "Documented the webhook payloads.")
    s.wait(40).prompt("looks good, thanks")
    return s.events


def idle_gap(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """One session with a 45-minute break between two pieces of work."""
    s = Story("gap", developer_id=developer_id, start=start)
    s.prompt("Rename the helper parse_cfg to parse_config in src/config.py and update callers")
    s.think(500).edit("src/config.py").think(300).edit("src/main.py")
    s.think(200).bash("pytest -q").think(150, "Renamed.")
    s.wait(45 * 60)
    s.prompt("Add pagination to the /orders endpoint in src/orders.py with a page size of 50")
    s.think(600).read("src/orders.py").think(600).edit("src/orders.py")
    s.think(400).bash("pytest -q").think(200, "Paginated.")
    return s.events


def no_text(
    start: datetime = MONDAY, developer_id: str = "dev-alice"
) -> tuple[list[EventRow], list[MetricSignal]]:
    """Prompt logging off: outcome from the tool trail (failing test, fix, pass, commit)."""
    s = Story("no-text", developer_id=developer_id, start=start, log_prompts=False)
    s.prompt("Fix the off-by-one in src/pager.py; tests/test_pager.py fails")
    s.think(400).bash("pytest tests/test_pager.py", success=False)
    s.think(600).edit("src/pager.py").think(200).bash("pytest tests/test_pager.py")
    s.think(150).bash('git commit -am "Fix pager bounds"').commit_metric()
    s.think(200, "Fixed and committed.")
    return s.events, s.signals


def self_grading(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """Reading and explaining, then "perfect, thanks": no edits, nothing verified."""
    s = Story("self-grade", developer_id=developer_id, start=start)
    s.prompt("Explain how the cache invalidation works in src/cache.py and where it is called")
    s.think(450).read("src/cache.py").think(300).grep("invalidate(")
    s.think(900, "Invalidation happens on write, through invalidate() called from save().")
    s.wait(30).prompt("perfect, thanks!")
    return s.events


def abandoned(start: datetime = MONDAY, developer_id: str = "dev-alice") -> list[EventRow]:
    """Refactoring under way when the developer walks away: the agent never answers."""
    s = Story("abandoned", developer_id=developer_id, start=start)
    s.prompt("Refactor src/payments.py: extract the retry logic into its own function")
    s.think(500).read("src/payments.py").think(700).edit("src/payments.py")
    s.think(400).edit("src/payments.py").think(300).edit("src/payments.py")
    return s.events


SCENARIOS: dict[str, Callable[..., Any]] = {
    "feature_crushed": feature_crushed,
    "bug_failed": bug_failed,
    "question_trivia": question_trivia,
    "fix_then_rework": fix_then_rework,
    "retry_storm": retry_storm,
    "tiny_burst": tiny_burst,
    "two_goals": two_goals,
    "idle_gap": idle_gap,
    "no_text": no_text,
    "self_grading": self_grading,
    "abandoned": abandoned,
}
