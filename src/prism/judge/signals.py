"""One pass over an arc's events that collects every signal the heuristic judge weighs.

Kept separate from the decisions so that an LLM judge, a report or a test can read the same
facts; a single loop with precompiled patterns keeps it cheap (no per-arc heavy work).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prism.judge.base import TokenUsage
from prism.sessions import text as tx
from prism.sessions.arcs import EDIT_TOOLS, Arc
from prism.sessions.model import COMMIT_METRIC, PULL_REQUEST_METRIC

READ_ONLY_TOOLS = frozenset(
    {"Read", "Grep", "Glob", "LS", "WebFetch", "WebSearch", "TodoWrite", "NotebookRead"}
)
TEST_PATH_HINTS = ("test", "spec")
DOC_SUFFIXES = (".md", ".rst", ".txt", ".adoc")


@dataclass(frozen=True, slots=True)
class ArcSignals:
    """Facts about one arc, in the order the judge reads them."""

    texts: tuple[str | None, ...]
    prompt_lengths: tuple[int, ...]
    prompt_times: tuple[datetime, ...]
    work_actions: int
    tool_successes: int
    tool_failures: int
    tool_counts: Mapping[str, int]
    edits: int
    edit_files: frozenset[str]
    verify_runs: int
    last_verify_after_edit: bool | None
    """Success of the last test/build run after the last edit; None when there is none."""
    edits_unverified: bool
    fail_then_pass: bool
    commits: int
    pull_requests: int
    rejects: int
    rejected_edits: int
    api_errors: int
    api_error_times: tuple[datetime, ...]
    api_error_at_end: bool
    interrupted: bool
    interrupted_at_end: bool
    ended_mid_work: bool
    unanswered_prompt: bool
    final_response: bool
    last_tool_failed: bool
    ops_commands: int
    read_only: bool
    tokens: TokenUsage
    seconds: float
    goal_tokens: frozenset[str] = field(default_factory=frozenset)
    goal_text: str | None = None
    """The first prompt text that does more than approve or ask to go on."""
    continuation: tuple[bool, ...] = ()
    """Per prompt: only approves, thanks, confirms or asks to go on."""
    later_texts: tuple[str, ...] = ()
    """Texts of prompts after the first: the ones that can react to the agent's work."""
    final_approval: bool = False
    """The last of `later_texts` approves."""
    final_frustration: bool = False
    frustrated_prompts: int = 0
    """How many of `later_texts` complain."""
    correction_after_first: bool = False

    @property
    def prompt_count(self) -> int:
        return len(self.texts)

    @property
    def has_text(self) -> bool:
        return any(self.texts)

    @property
    def first_text(self) -> str | None:
        return next((t for t in self.texts if t), None)


def _is_edit_tool(name: str) -> bool:
    return name in EDIT_TOOLS


def extract(arc: Arc) -> ArcSignals:
    """Read every signal of `arc` in one loop over its events."""
    tin = tout = tcr = tcw = cost = 0
    work = succ = fail = edits = verify_runs = commits = prs = 0
    rejects = rejected_edits = api_errors = accepted = ops = 0
    files: set[str] = set()
    counts: Counter[str] = Counter()
    err_times: list[datetime] = []
    last_edit = last_verify = -1
    last_verify_ok = False
    saw_verify_fail = fail_then_pass = False
    interrupted = False
    interrupt_pos = last_prompt_pos = last_answer_pos = -1
    last_main: str | None = None
    last_tool_failed = False
    read_only = True

    for i, ev in enumerate(arc.events):
        name = ev.event_name
        if name == "api_request":
            tin += ev.input_tokens or 0
            tout += ev.output_tokens or 0
            tcr += ev.cache_read_tokens or 0
            tcw += ev.cache_creation_tokens or 0
            cost += ev.cost_micro_usd or 0
            if ev.is_main_loop:
                last_main = name
                last_answer_pos = i
        elif name == "assistant_response":
            if ev.is_main_loop:
                last_main = name
                last_answer_pos = i
        elif name in ("api_error", "api_retries_exhausted", "api_refusal"):
            if name != "api_refusal":
                api_errors += 1
                err_times.append(ev.time)
            if ev.is_main_loop:
                last_main = "api_error"
        elif name == "tool_decision":
            tool = ev.tool_name or ""
            if (ev.decision or "").lower() == "reject":
                rejects += 1
                if _is_edit_tool(tool):
                    rejected_edits += 1
                if (ev.decision_source or "") == "user_abort":
                    interrupted, interrupt_pos = True, i
                last_main = "tool_reject"
            else:
                accepted += 1
                last_main = name
        elif name == "tool_result":
            tool = ev.tool_name or ""
            work += 1
            counts[tool] += 1
            last_main = name
            ok = ev.success is not False
            if ok:
                succ += 1
            else:
                fail += 1
                if tx.is_interrupt(ev.error) or tx.is_interrupt(ev.error_type):
                    interrupted, interrupt_pos = True, i
            last_tool_failed = not ok
            if tool not in READ_ONLY_TOOLS:
                read_only = False
            if _is_edit_tool(tool):
                if ok:
                    edits += 1
                    last_edit = i
                path = tx.edited_path(ev.tool_parameters, ev.tool_input)
                if path:
                    files.add(path)
            elif tool == "Bash":
                kinds = tx.command_kinds(tx.bash_command(ev.tool_parameters, ev.tool_input))
                if "verify" in kinds:
                    verify_runs += 1
                    last_verify, last_verify_ok = i, ok
                    if not ok:
                        saw_verify_fail = True
                    elif saw_verify_fail:
                        fail_then_pass = True
                if ok and ("commit" in kinds or "git_commit_id" in (ev.tool_parameters or "")):
                    commits += 1
                if ok and "pr" in kinds:
                    prs += 1
                if "ops" in kinds:
                    ops += 1
            elif ok and tx.mentions_pull_request(f"{tool} {ev.tool_parameters or ''}"):
                prs += 1
        elif name == "user_prompt":
            # Local slash commands (/cost, /exit) expect no answer from the model,
            # and approvals ("thanks") need no answer either.
            txt = ev.text
            if (
                not (txt or "").startswith("/")
                and "command_name" not in ev.attributes
                and not tx.is_continuation(txt)
            ):
                last_prompt_pos = i
            if tx.is_interrupt(ev.text):
                interrupted, interrupt_pos = True, i

    for sig in arc.metric_signals:
        if sig.name == COMMIT_METRIC and sig.value > 0:
            commits += int(sig.value)
        elif sig.name == PULL_REQUEST_METRIC and sig.value > 0:
            prs += int(sig.value)

    if work == 0:
        # Older emitters and rejected calls send no tool_result; accepted decisions still
        # show the agent acting.
        work = accepted
    texts = tuple(p.text for p in arc.prompts)
    lengths = tuple(
        len(p.text) if p.text else (p.length if p.length is not None else 0) for p in arc.prompts
    )
    if last_verify > last_edit:
        last_verify_after_edit: bool | None = last_verify_ok
    else:
        last_verify_after_edit = None
    first_time = arc.prompts[0].time if arc.prompts else arc.started_at
    continuation = tuple(tx.is_continuation(t) for t in texts)
    goal = next((t for t, c in zip(texts, continuation, strict=True) if t and not c), None)
    later = tuple(t for t in texts[1:] if t)
    frustrated = tuple(tx.has_frustration(t) for t in later)
    final_approval = bool(later) and tx.is_approval(later[-1])
    return ArcSignals(
        texts=texts,
        prompt_lengths=lengths,
        prompt_times=tuple(p.time for p in arc.prompts),
        work_actions=work,
        tool_successes=succ,
        tool_failures=fail,
        tool_counts=dict(counts),
        edits=edits,
        edit_files=frozenset(files),
        verify_runs=verify_runs,
        last_verify_after_edit=last_verify_after_edit,
        edits_unverified=edits > 0 and last_verify < last_edit,
        fail_then_pass=fail_then_pass,
        commits=commits,
        pull_requests=prs,
        rejects=rejects,
        rejected_edits=rejected_edits,
        api_errors=api_errors,
        api_error_times=tuple(err_times),
        api_error_at_end=last_main == "api_error",
        interrupted=interrupted,
        interrupted_at_end=interrupted and interrupt_pos > last_prompt_pos,
        ended_mid_work=last_main in ("tool_result", "tool_decision", "tool_reject"),
        unanswered_prompt=last_prompt_pos > last_answer_pos and last_prompt_pos >= 0,
        final_response=last_main == "assistant_response",
        last_tool_failed=last_tool_failed,
        ops_commands=ops,
        read_only=read_only and work > 0 and edits == 0,
        tokens=TokenUsage(tin, tout, tcr, tcw, cost),
        seconds=max(0.0, (arc.ended_at - first_time).total_seconds()),
        goal_tokens=_goal_tokens(goal),
        goal_text=goal,
        continuation=continuation,
        later_texts=later,
        final_approval=final_approval,
        final_frustration=bool(frustrated) and frustrated[-1] and not final_approval,
        frustrated_prompts=sum(frustrated),
        correction_after_first=any(tx.has_correction(t) for t in later),
    )


def _goal_tokens(text: str | None) -> frozenset[str]:
    """Content words of the goal prompt, without the cue words that only say "again"."""
    toks = tx.content_tokens(text)
    return frozenset(t for t in toks if t not in _CUE_WORDS)


_CUE_WORDS = frozenset(
    {
        "still",
        "again",
        "broke",
        "broken",
        "regression",
        "regress",
        "didn",
        "doesn",
        "work",
        "fix",
        "fail",
        "failing",
        "thank",
        "thanks",
    }
)


def is_test_path(path: str) -> bool:
    low = path.lower()
    return any(h in low.rsplit("/", 1)[-1] or f"/{h}" in low for h in TEST_PATH_HINTS)


def is_doc_path(path: str) -> bool:
    return path.lower().endswith(DOC_SUFFIXES)
