"""The LLM judge: an LLM decides the outcome and the rubric; the heuristic judge decides the rest.

Substance, rework, integrity and tokens are counted facts, so they stay the heuristic judge's.
The LLM reads a compact transcript of the arc (prompts, tool trail, signals, last answer) and
answers one JSON object validated against `JudgeAnswer`. Whatever goes wrong (no key, timeout,
429 past the retries, a refusal, a cut stream, invalid JSON) the heuristic verdict stands with
`judge_status = "failed"` and `judge_note` saying why. Trivia arcs are not sent at all.

Registered as `llm:anthropic` and `llm:openai` (usable by POST /v1/score_v3/insight/backfill);
the version stored with each verdict is the prompt version plus the model.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from prism.judge import rubric as rubric_rules
from prism.judge.base import (
    ArcVerdict,
    Evidence,
    Judge,
    JudgeContext,
    Outcome,
    is_crushed,
    register,
)
from prism.judge.base import get as get_judge
from prism.judge.heuristic import HeuristicJudge
from prism.judge.signals import ArcSignals, extract
from prism.llm import prompts
from prism.llm.client import LLMClient, client_for, task_enabled
from prism.llm.provider import LLMError, NotConfigured, Unavailable
from prism.sessions.arcs import Arc
from prism.settings import Settings, load_settings

MAX_PROMPTS = 20
MAX_PROMPT_CHARS = 1500
MAX_TOOL_LINES = 40

Intent = Literal[
    "feature", "bugfix", "refactor", "test", "docs", "explore", "ops", "review", "unclear"
]
OutcomeLabel = Literal["goal_complete", "partial", "failed", "abandoned", "unclear"]


class JudgeAnswer(BaseModel):
    """What the LLM must answer for one arc."""

    outcome: OutcomeLabel
    outcome_confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list, max_length=5)
    intent_class: Intent
    intent_confidence: float = Field(ge=0, le=1)
    goal_explicit: bool
    scope_bounded: bool
    references_concrete: bool
    context_sufficient: bool
    verification_requested: bool
    root_cause_oriented: bool
    plan_first: bool


def _cut(text: str | None, n: int) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def transcript(arc: Arc, sig: ArcSignals | None = None) -> dict[str, str]:
    """The arc as the prompt files' placeholders (prompts, tools, signals, last_answer)."""
    sig = sig or extract(arc)
    prompts_txt = []
    for i, p in enumerate(arc.prompts[:MAX_PROMPTS], 1):
        text = _cut(p.text, MAX_PROMPT_CHARS) if p.text else f"(not logged, {p.length or 0} chars)"
        prompts_txt.append(f"{i}. {text}")
    tools: list[str] = []
    last_answer = ""
    for e in arc.events:
        if e.event_name == "tool_result" and len(tools) < MAX_TOOL_LINES:
            what = e.tool_name or "tool"
            detail = ""
            try:
                params = json.loads(e.tool_input or e.tool_parameters or "{}")
            except ValueError:
                params = {}
            if isinstance(params, dict):
                detail = str(
                    params.get("file_path") or params.get("command") or params.get("pattern") or ""
                )
            ok = "ok" if e.success is not False else "FAILED"
            tools.append(f"- {what} {ok} {_cut(detail, 120)}".rstrip())
        elif e.event_name == "assistant_response" and e.is_main_loop and e.response:
            last_answer = e.response
    signals = [
        f"work actions: {sig.work_actions}, edits: {sig.edits}, files: {len(sig.edit_files)}",
        f"test/build runs: {sig.verify_runs}, last after the last edit: "
        + {True: "passed", False: "failed", None: "none"}[sig.last_verify_after_edit],
        f"commits: {sig.commits}, pull requests: {sig.pull_requests}",
        f"rejected tool calls: {sig.rejects}, API errors: {sig.api_errors}",
        f"interrupted: {sig.interrupted}, agent stopped mid-work: {sig.ended_mid_work}",
    ]
    if arc.next_start_reason:
        signals.append(f"the next arc started ({arc.next_start_reason})")
    minutes = arc.duration_seconds / 60
    return {
        "arc_id": arc.id,
        "duration": f"{minutes:.1f} min",
        "prompt_count": str(len(arc.prompts)),
        "prompts": "\n".join(prompts_txt) or "(none)",
        "tools": "\n".join(tools) or "(no tools used)",
        "signals": "\n".join(f"- {s}" for s in signals),
        "last_answer": _cut(last_answer, 800) or "(none)",
    }


class LLMJudge:
    """Judge protocol over an `LLMClient`; see the module doc for what it decides."""

    def __init__(
        self,
        client: LLMClient,
        *,
        outcome: bool = True,
        rubric: bool = True,
        fallback: Judge | None = None,
    ) -> None:
        self.client = client
        self.name = client.label
        prompt = prompts.load("judge")
        self.version = f"{prompt.version}/{client.provider.model}"[:32]
        self.do_outcome = outcome
        self.do_rubric = rubric
        self.fallback = fallback or HeuristicJudge()

    def judge(self, arc: Arc, context: JudgeContext | None = None) -> ArcVerdict:
        ctx = context or JudgeContext()
        cfg = ctx.config
        base = self.fallback.judge(arc, ctx)
        mine = replace(base, judge=self.name, judge_version=self.version)
        if not base.substance.passed:
            return replace(mine, judge_note="trivia: not sent to the LLM")
        if not base.closed:
            return replace(mine, judge_note="open arc: not sent to the LLM")
        system, user = prompts.load("judge").render(**transcript(arc))
        try:
            answer = self.client.ask(system, user, JudgeAnswer, ref=arc.id, tool_name="judge_arc")
        except LLMError as exc:
            return replace(
                mine,
                rubric=replace(base.rubric, judge_status="failed"),
                judge_note=exc.note,
            )
        a = answer.value
        out = base.outcome
        if self.do_outcome:
            evidence = tuple(Evidence("llm", _cut(r, 200), 0.0) for r in a.reasons)
            out = Outcome(a.outcome, round(a.outcome_confidence, 3), evidence)
        rub = base.rubric
        if self.do_rubric and arc.has_text:
            booleans = {b: bool(getattr(a, b)) for b in rubric_rules.RUBRIC_BOOLEANS}
            applies = rubric_rules.applicability(a.intent_class)
            grade = rubric_rules.grade(booleans, applies)
            rub = replace(
                rub,
                booleans=booleans,
                applicability=applies,
                intent_class=a.intent_class,
                confidence=round(a.intent_confidence, 3),
                grade=grade,
                letter_grade=cfg.prompt_letter(grade),
                intent_source="llm",
            )
        if rub.judge_status != "skipped_no_text":
            rub = replace(rub, judge_status="judged")
        crushed = is_crushed(base.substance, out, base.rework, rub, base.flags, cfg)
        return replace(mine, outcome=out, rubric=rub, crushed=crushed, judge_note=None)


_CONFIGURED: Settings | None = None
_SESSIONS: sessionmaker[Session] | None = None
_LOCK = threading.Lock()


def configure(settings: Settings, sessions: sessionmaker[Session] | None = None) -> None:
    """Settings (and the store, to record usage) that the registered LLM judges use."""
    global _CONFIGURED, _SESSIONS
    with _LOCK:
        _CONFIGURED, _SESSIONS = settings, sessions


def _factory(provider: str) -> LLMJudge:
    settings = _CONFIGURED or load_settings()
    task = "rubric" if "rubric" in settings.llm_tasks else "outcome"
    try:
        client = client_for(settings, task, sessions=_SESSIONS, provider=provider)
    except NotConfigured as exc:  # every arc falls back and says so; the backfill still runs
        client = LLMClient(
            Unavailable(provider, settings.llm_model or "unset", exc.detail),
            task=task,
            settings=settings,
            sessions=_SESSIONS,
        )
    tasks = set(settings.llm_tasks) & {"outcome", "rubric"}
    # Asked for by name (a backfill) with no judge task configured: judge both.
    return LLMJudge(
        client, outcome=not tasks or "outcome" in tasks, rubric=not tasks or "rubric" in tasks
    )


register("llm:anthropic", lambda: _factory("anthropic"))
register("llm:openai", lambda: _factory("openai"))


def judge_for(settings: Settings, sessions: sessionmaker[Session] | None = None) -> Judge:
    """The worker's judge: the LLM judge when outcome or rubric is an LLM task, else heuristic."""
    configure(settings, sessions)
    if task_enabled(settings, "outcome") or task_enabled(settings, "rubric"):
        task = "rubric" if task_enabled(settings, "rubric") else "outcome"
        return LLMJudge(
            client_for(settings, task, sessions=sessions),
            outcome=task_enabled(settings, "outcome"),
            rubric=task_enabled(settings, "rubric"),
        )
    return get_judge()
