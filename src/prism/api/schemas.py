"""Request and response models of the engine API (they make /openapi.json real)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: int = Field(description="HTTP status")
    message: str = Field(description="What went wrong, as a sentence")


class TelemetryPage(BaseModel):
    logs: list[dict[str, Any]] | None = None
    metrics: list[dict[str, Any]] | None = None
    spans: list[dict[str, Any]] | None = None
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class KeyCreate(BaseModel):
    developer: str = Field(min_length=1, max_length=320, description="developer email or name")
    org: str | None = Field(None, max_length=200, description="defaults to the caller's org")
    scope: Literal["admin", "developer"] = "developer"
    name: str | None = Field(None, max_length=200)


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="the secret: shown this once, stored only as a hash")
    developer: str
    org: str
    scope: str


class KeyItem(BaseModel):
    id: str
    prefix: str
    developer: str
    developer_id: str
    org: str
    scope: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyList(BaseModel):
    keys: list[KeyItem]


class Health(BaseModel):
    status: str
    service: str
    version: str
    checks: dict[str, Any] = {}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request"},
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key"},
    404: {"model": ErrorBody, "description": "Not found (also other developers' objects)"},
}


# --- PRISM Score v3.0 (seed 004: seed-shaped models carry exactly the seed's fields) -----------

WindowKind = Literal["daily", "weekly", "monthly"]


class ScoreResponse(BaseModel):
    window: WindowKind
    prism_score: float | None = Field(
        description="100 * crushed / qualifying arcs, one decimal; null without qualifying arcs"
    )
    letter_grade: str | None = Field(description="A >= 80, B >= 60, C >= 40, D >= 20, else F")
    personal_tier: str = Field(description="warming_up | exploring | building | scaling | crushing")
    crushed_count: int
    total_count: int = Field(description="qualifying arcs (passed the substance floor)")
    crush_weight: float | None = Field(
        description="billed tokens in crushed arcs / billed tokens in qualifying arcs"
    )
    sparkline: list[float | None] = Field(
        description="prism_score of the last 4 windows, oldest first"
    )


class SpeedResponse(BaseModel):
    window: WindowKind
    cspw: float = Field(description="crushed arcs per working day (Mon-Fri) elapsed")
    delta_cspw: float | None = Field(description="cspw minus the previous window's cspw")
    ttc_median_seconds: float | None = Field(description="median time-to-crush, seconds")
    sparkline: list[float | None] = Field(description="cspw of the last 4 windows, oldest first")


class TokenBreakdown(BaseModel):
    input: int
    output: int
    cache_read: int
    cache_write: int


class TokensResponse(BaseModel):
    window: WindowKind
    crush_weight: float | None
    tet: float | None = Field(description="baseline tpt / tpt (> 1: cheaper than usual)")
    tpt: float | None = Field(description="billed tokens of qualifying arcs per crushed arc")
    cpcs_estimate: float | None = Field(description="USD of qualifying arcs per crushed arc")
    sparkline: list[float | None] = Field(description="crush_weight of the last 4 windows")
    breakdown: TokenBreakdown


class PerBoolean(BaseModel):
    goal_explicit: float | None
    scope_bounded: float | None
    references_concrete: float | None
    context_sufficient: float | None
    verification_requested: float | None
    root_cause_oriented: float | None
    plan_first: float | None


class SkillResponse(BaseModel):
    window: WindowKind
    apg: float | None = Field(description="mean arc prompt grade (0..1)")
    delta_apg: float | None
    per_boolean: PerBoolean = Field(description="share true among arcs where it applies")
    worst_pillar: str | None = Field(description="the boolean with the lowest share")


class SpeedSessionItem(BaseModel):
    """One scored sub-session of the window (Speed page rows)."""

    id: str
    claude_session_id: str
    title: str | None
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    outcome: str | None = Field(
        description="goal_complete | partial | failed | abandoned | unclear"
    )
    outcome_confidence: float | None
    crushed: bool
    qualifying: bool
    intent_class: str | None
    letter_grade: str | None
    prompt_grade: float | None
    judge_status: str | None
    is_rework: bool
    reworked_later: bool
    flags: list[str] = Field(description="integrity flag kinds raised on the arc")
    tokens: TokenBreakdown
    cost_usd: float = Field(description="client-side list-price estimate")


class PromptItem(BaseModel):
    """A captured prompt LEFT JOIN its prompt-level rubric (rubric fields null when absent)."""

    prompt_id: str | None
    time: datetime
    event_sequence: int | None
    prompt: str | None = Field(description="the text; null when prompt logging was off")
    prompt_length: int | None
    has_rubric: bool
    intent_class: str | None = None
    confidence: float | None = None
    grade: float | None = None
    letter_grade: str | None = None
    judge_status: str | None = None
    goal_explicit: bool | None = None
    scope_bounded: bool | None = None
    references_concrete: bool | None = None
    context_sufficient: bool | None = None
    verification_requested: bool | None = None
    root_cause_oriented: bool | None = None
    plan_first: bool | None = None


class SubSessionPrompts(BaseModel):
    score_v3_sub_session_id: str
    claude_session_id: str
    started_at: datetime
    ended_at: datetime
    prompts: list[PromptItem] = Field(description="oldest first")


class TokensTrendPoint(BaseModel):
    label: str = Field(description="2026-11-16 (daily), 2026-W47 (weekly), 2026-11 (monthly)")
    from_: datetime = Field(alias="from", description="window start (developer's zone)")
    to: datetime = Field(description="window end, exclusive")
    crushed_count: int
    total_count: int
    billed_tokens: int = Field(description="input + output + cache_write of qualifying arcs")
    crush_weight: float | None
    tpt: float | None
    tet: float | None = Field(description="against the median tpt of the 4 windows before")
    cpcs_estimate: float | None
    breakdown: TokenBreakdown

    model_config = {"populate_by_name": True}


class TokensTrendResponse(BaseModel):
    window: WindowKind
    periods: list[TokensTrendPoint] = Field(description="oldest first, the current window last")


class RubricItem(BaseModel):
    score_v3_sub_session_id: str
    intent_class: str
    letter_grade: str | None
    confidence: float
    goal_explicit: bool | None
    scope_bounded: bool | None
    references_concrete: bool | None
    context_sufficient: bool | None
    verification_requested: bool | None
    root_cause_oriented: bool | None
    plan_first: bool | None
    applicability: dict[str, bool]
    judge_status: str
    title: str | None
    summary: str | None
    title_source: str | None


class InsightSummary(BaseModel):
    window: WindowKind
    from_: datetime = Field(alias="from")
    to: datetime
    total: int = Field(description="scored sub-sessions of the window with a rubric")
    apg: float | None = Field(description="as /skill: mean grade of qualifying graded arcs")
    per_boolean: PerBoolean
    by_intent: dict[str, int]
    by_letter: dict[str, int] = Field(description="A..F; ungraded arcs are counted apart")
    ungraded: int = Field(description="arcs without a grade (no prompt text)")
    by_judge_status: dict[str, int]

    model_config = {"populate_by_name": True}


class BackfillRequest(BaseModel):
    from_: str = Field(alias="from", description="ISO 8601; arcs that ended at or after it")
    to: str = Field(description="ISO 8601, exclusive")
    user_id: str | None = Field(None, description="one developer; default every one of the org")
    judge: str = Field("heuristic", max_length=64, description="judge name from the registry")

    model_config = {"populate_by_name": True}


class BackfillResponse(BaseModel):
    rejudged: int
    judge: str
    version: str = Field(description="the judge's version stored with each new verdict")


class TriviaItem(BaseModel):
    score_v3_sub_session_id: str
    reason: str = Field(description="no_prompts | too_short | no_work | errors_only")
    created_at: datetime
    title: str | None
    summary: str | None


class TriviaTrendPoint(BaseModel):
    label: str
    from_: datetime = Field(alias="from")
    to: datetime
    total: int
    by_reason: dict[str, int]

    model_config = {"populate_by_name": True}


class TriviaTrendResponse(BaseModel):
    window: WindowKind
    periods: list[TriviaTrendPoint] = Field(description="oldest first, the current window last")


class IntegrityByKind(BaseModel):
    kind: str
    count: int


class IntegrityResponse(BaseModel):
    by_kind: list[IntegrityByKind]


class IntegrityBucket(BaseModel):
    start: datetime
    end: datetime
    total: int
    by_kind: list[IntegrityByKind] = Field(description="every kind, zero included")


class IntegrityTrendResponse(BaseModel):
    period: Literal["day", "week"]
    from_: datetime = Field(alias="from")
    to: datetime
    buckets: list[IntegrityBucket]

    model_config = {"populate_by_name": True}


class IntegrityFlagItem(BaseModel):
    id: str
    score_v3_sub_session_id: str
    kind: str
    blocking: bool
    detail: str | None
    at: datetime
    title: str | None


class SubSessionPatch(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    summary: str | None = Field(None, max_length=10_000, description="omitted: unchanged")


class SubSessionItem(BaseModel):
    """A v3 sub-session, open or scored, with its parent session's claude_session_id."""

    id: str
    score_v3_session_id: str
    claude_session_id: str
    status: Literal["open", "scored"]
    title: str | None
    summary: str | None
    title_source: str | None
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    prompt_count: int
    event_count: int
    qualifying: bool | None
    crushed: bool | None
    outcome: str | None
    outcome_confidence: float | None
    intent_class: str | None
    letter_grade: str | None
    prompt_grade: float | None
    judge_status: str | None
    is_rework: bool | None
    reworked_later: bool
    trivia_reason: str | None
    tokens: TokenBreakdown
    cost_usd: float
    scored_at: datetime | None
    updated_at: datetime


class TogglePref(BaseModel):
    pref: Literal["v2", "v3"] | None = Field(description="null: the org default")
