"""Response models of the report families, session insights and v2.1 intelligence (issue 4).

Kept apart from `schemas.py` (shared by many routes) so this family can grow on its own. A
report keeps every section it was generated with (`extra="allow"`): the models name the
contract, the content may carry more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["pending", "running", "completed", "failed", "cancelled"]


class ReportWindow(BaseModel):
    kind: str = Field(description="daily | weekly | monthly | custom")
    from_: datetime = Field(alias="from")
    to: datetime
    time_zone: str | None = None

    model_config = ConfigDict(populate_by_name=True)


class ReportJob(BaseModel):
    """Where a generation stands (pending, status, cancel)."""

    id: str
    status: JobStatus
    family: Literal["v2", "v3"]
    scope: str
    step: str | None = Field(description="the step running or last done")
    progress: float = Field(ge=0, le=1)
    language: str
    from_: datetime = Field(alias="from")
    to: datetime
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None

    model_config = ConfigDict(populate_by_name=True)


class ReportAccepted(BaseModel):
    """`?async=true`: poll /status/{id}."""

    id: str
    status: JobStatus


class Kpi(BaseModel):
    key: str
    label: str = Field(description="in the report's language")
    value: float | int | None
    previous: float | int | None
    change: float | None = Field(description="value - previous; null when either is null")
    format: str = Field(description="points | int | ratio2 | share | money | duration")


class WriterInfo(BaseModel):
    name: str = Field(description="heuristic, or llm:<provider>")
    version: str
    status: str = Field(description="heuristic | judged | failed (LLM fell back)")
    note: str | None = Field(description="why the LLM's prose was not used")


class LlmUsageInfo(BaseModel):
    input_tokens: int
    output_tokens: int
    cost_usd: float


class PromptAdvice(BaseModel):
    boolean: str
    label: str
    advice: str


class WorstPrompt(BaseModel):
    score_v3_sub_session_id: str
    claude_session_id: str | None
    prompt_id: str | None
    time: datetime
    prompt: str | None = Field(description="excerpt; null when prompt logging was off")
    title: str | None
    intent_class: str | None
    grade: float
    letter_grade: str | None
    judge_status: str | None
    booleans: dict[str, bool]
    missing: list[str] = Field(description="applicable rubric booleans the prompt misses")
    advice: list[PromptAdvice] | None = None


class Report(BaseModel):
    """A generated report: structured sections plus the rendered Markdown."""

    id: str
    status: Literal["completed"]
    family: Literal["v2", "v3"]
    scope: str
    language: str
    requested_language: str | None
    language_fallback: bool = Field(description="the requested language is not available")
    language_note: str | None
    generated_at: datetime
    window: ReportWindow
    previous_window: dict[str, datetime]
    writer: WriterInfo
    llm_usage: LlmUsageInfo
    headline: str
    summary: str
    advice: list[str]
    kpis: list[Kpi]
    top_crushed: list[dict[str, Any]]
    breakdown: dict[str, Any] = Field(description="by_model (lake), by_intent (arcs), totals")
    rubric: dict[str, Any]
    trivia: dict[str, Any]
    integrity: dict[str, Any]
    worst_prompts: list[WorstPrompt]
    markdown: str

    model_config = ConfigDict(extra="allow")


class ReportHistoryItem(BaseModel):
    id: str
    family: Literal["v2", "v3"]
    scope: str
    status: JobStatus
    language: str
    window: ReportWindow
    headline: str | None
    writer: str | None
    created_at: datetime
    finished_at: datetime | None


class ReportHistory(BaseModel):
    reports: list[ReportHistoryItem]


class ReportDeleted(BaseModel):
    id: str
    deleted: bool


# --- session insights ----------------------------------------------------------------------------


class SessionStat(BaseModel):
    intent_class: str = Field(
        description="intent class, or trivia for sub-sessions below the floor"
    )
    outcome: str = Field(description="outcome, or the trivia reason")
    count: int
    crushed: int
    qualifying: int
    total_seconds: float
    avg_seconds: float
    avg_prompt_grade: float | None
    billed_tokens: int
    cost_usd: float


class SessionStats(BaseModel):
    stats: list[SessionStat]


class SessionRef(BaseModel):
    score_v3_sub_session_id: str
    claude_session_id: str
    title: str | None
    summary: str | None
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    outcome: str | None
    crushed: bool
    qualifying: bool
    intent_class: str | None
    letter_grade: str | None
    prompt_grade: float | None
    billed_tokens: int
    cost_usd: float
    reason: str | None = Field(description="why this session is highlighted")

    model_config = ConfigDict(extra="allow")


class SessionHighlights(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    best: SessionRef | None
    worst: SessionRef | None
    longest: SessionRef | None
    costliest: SessionRef | None
    most_reworked: SessionRef | None
    flagged: list[SessionRef]

    model_config = ConfigDict(populate_by_name=True)


class SubSessionSummary(BaseModel):
    score_v3_sub_session_id: str
    title: str | None
    summary: str | None
    title_source: str | None
    status: str
    outcome: str | None
    crushed: bool


class SessionSummary(BaseModel):
    session_id: str
    claude_session_id: str
    title: str | None
    title_source: str | None
    summary: str | None
    summary_source: str
    started_at: datetime
    ended_at: datetime
    sub_session_count: int
    crushed_count: int
    sub_sessions: list[SubSessionSummary]


class SessionSummaries(BaseModel):
    summaries: list[SessionSummary]


class SessionDetails(BaseModel):
    session: dict[str, Any]
    sub_sessions: list[dict[str, Any]]
    turns: list[dict[str, Any]] = Field(description="one per prompt: tokens, cost, tools, errors")
    tools: list[dict[str, Any]] = Field(description="per tool: calls, failures, seconds")
    totals: dict[str, Any]


class DailySummary(BaseModel):
    date: str
    time_zone: str
    language: str
    sessions: int
    sub_sessions: int
    qualifying: int
    crushed: int
    trivia: int
    prism_score: float | None
    billed_tokens: int
    cost_usd: float
    seconds: float
    by_intent: dict[str, int]
    top: list[SessionRef]
    summary: str


# --- v2.1 intelligence -------------------------------------------------------------------------


class IntelligenceComponents(BaseModel):
    sse: float | None = Field(description="Session Success Estimate")
    pes: float | None = Field(description="Prompt Effectiveness Score (= apg)")
    ie: float | None = Field(description="Iteration Efficiency")
    crr: float | None = Field(description="Clean Resolution Rate")
    fc: float | None = Field(description="First-try Completion")


class IntelligenceScore(BaseModel):
    window: str
    composite: float | None = Field(description="mean of Speed, Skill, Efficiency (0-100)")
    speed: float | None
    skill: float | None
    efficiency: float | None
    components: IntelligenceComponents
    sparkline: list[float | None] = Field(description="composite of the last 4 windows")


class IntelligenceSpeed(BaseModel):
    window: str
    speed: float | None
    ie: float | None
    ttc_median_seconds: float | None
    ttc_component: float | None = Field(description="min(1, ttc_target / ttc_median)")
    mean_prompts_per_completed: float | None
    sparkline: list[float | None]


class IntelligenceSkill(BaseModel):
    window: str
    skill: float | None
    pes: float | None
    fc: float | None
    sparkline: list[float | None]


class IntelligenceEfficiency(BaseModel):
    window: str
    efficiency: float | None
    crr: float | None
    tet: float | None
    tet_component: float | None = Field(description="min(1, tet)")
    sparkline: list[float | None]


class WorstPrompts(BaseModel):
    prompts: list[WorstPrompt]
    total: int
