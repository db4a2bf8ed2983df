"""What a judge is and what it returns: a protocol, a registry, and frozen verdict values.

A verdict keeps its evidence (which signals fired) and the judge's name and version, so a
developer can see why an arc crushed or not, and re-judging with a newer judge is a backfill
rather than an overwrite of history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from prism.score.thresholds import DEFAULT_CONFIG, ScoringConfig
from prism.sessions.arcs import Arc

OUTCOMES = ("goal_complete", "partial", "failed", "abandoned", "unclear")
TRIVIA_REASONS = ("no_prompts", "too_short", "no_work", "errors_only")
JUDGE_STATUSES = ("judged", "heuristic", "skipped_no_text", "pending", "failed")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One signal that pushed a decision; positive weight for, negative against."""

    signal: str
    detail: str
    weight: float


@dataclass(frozen=True, slots=True)
class Substance:
    """The substance floor: `passed`, or trivia with a `reason`; the measured amounts."""

    passed: bool
    reason: str | None
    prompt_count: int
    work_actions: int
    seconds: float
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    confidence: float
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Rework:
    """`is_rework`: this arc redoes `reworks_arc_id`. `reworked_by`: later arcs redoing it."""

    is_rework: bool = False
    reworks_arc_id: str | None = None
    evidence: tuple[Evidence, ...] = ()
    reworked_by: tuple[str, ...] = ()

    @property
    def reworked_later(self) -> bool:
        return bool(self.reworked_by)


@dataclass(frozen=True, slots=True)
class PromptRubric:
    """The rubric of one prompt (the per-prompt rows of the insight pages)."""

    prompt_id: str | None
    time: datetime
    booleans: Mapping[str, bool]
    intent_class: str
    confidence: float
    grade: float | None
    letter_grade: str | None
    judge_status: str


@dataclass(frozen=True, slots=True)
class Rubric:
    """The arc's rolled-up rubric; `grade` is None when nothing could be graded (no text)."""

    booleans: Mapping[str, bool]
    applicability: Mapping[str, bool]
    intent_class: str
    confidence: float
    grade: float | None
    letter_grade: str | None
    judge_status: str
    prompts: tuple[PromptRubric, ...] = ()
    intent_source: str = "text"

    def committed(self, config: ScoringConfig = DEFAULT_CONFIG) -> bool:
        """Committed to an intent: a class other than unclear, held with enough confidence."""
        return self.intent_class != "unclear" and self.confidence >= config.intent_min_confidence


@dataclass(frozen=True, slots=True)
class IntegrityFlag:
    kind: str
    blocking: bool
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token sums over the arc's api_request events; cost in integer micro-dollars."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost_micro_usd: int = 0

    @property
    def billed(self) -> int:
        """Billed tokens as scoring.md counts them: input + output + cache writes."""
        return self.input + self.output + self.cache_write


@dataclass(frozen=True, slots=True)
class ArcVerdict:
    """Everything a judge decided about one arc."""

    arc_id: str
    developer_id: str
    session_id: str
    started_at: datetime
    ended_at: datetime
    judge: str
    judge_version: str
    substance: Substance
    outcome: Outcome
    rework: Rework
    rubric: Rubric
    flags: tuple[IntegrityFlag, ...]
    crushed: bool
    tokens: TokenUsage
    title: str
    title_source: str
    summary: str
    files: frozenset[str] = frozenset()
    goal_tokens: frozenset[str] = frozenset()
    has_correction_after_first: bool = False
    closed: bool = True
    judge_note: str | None = None
    """Why a judge's own answer was not used (an LLM judge that fell back: "timeout: ...")."""

    @property
    def qualifying(self) -> bool:
        return self.substance.passed

    @property
    def blocking_flags(self) -> tuple[IntegrityFlag, ...]:
        return tuple(f for f in self.flags if f.blocking)


def is_crushed(
    substance: Substance,
    outcome: Outcome,
    rework: Rework,
    rubric: Rubric,
    flags: tuple[IntegrityFlag, ...],
    config: ScoringConfig = DEFAULT_CONFIG,
) -> bool:
    """Crushed = floor passed, goal_complete, not rework, committed intent, no blocking flag."""
    return (
        substance.passed
        and outcome.label == "goal_complete"
        and not rework.is_rework
        and not (config.revoke_reworked and rework.reworked_later)
        and rubric.committed(config)
        and not any(f.blocking for f in flags)
    )


@dataclass(frozen=True, slots=True)
class ArcDigest:
    """What judging one arc needs to know about another arc of the same developer."""

    arc_id: str
    developer_id: str
    started_at: datetime
    ended_at: datetime
    outcome: str
    qualifying: bool
    barely_over: bool
    files: frozenset[str] = frozenset()
    goal_tokens: frozenset[str] = frozenset()

    @classmethod
    def of(cls, v: ArcVerdict, config: ScoringConfig = DEFAULT_CONFIG) -> ArcDigest:
        return cls(
            arc_id=v.arc_id,
            developer_id=v.developer_id,
            started_at=v.started_at,
            ended_at=v.ended_at,
            outcome=v.outcome.label,
            qualifying=v.substance.passed,
            barely_over=barely_over(v.substance, config),
            files=v.files,
            goal_tokens=v.goal_tokens,
        )


def barely_over(s: Substance, config: ScoringConfig = DEFAULT_CONFIG) -> bool:
    """Passed the floor, but work, time and output are all within `splitting_margin` of it."""
    m = config.splitting_margin
    return (
        s.passed
        and s.work_actions <= m * config.min_work_actions
        and s.seconds <= m * config.min_seconds
        and s.output_tokens <= m * config.min_output_tokens
    )


@dataclass(frozen=True, slots=True)
class JudgeContext:
    """What a judge may know beyond the arc itself.

    Attributes:
        now: the judging time; arcs still open at `now` are not declared abandoned.
        prior: the developer's earlier arcs (for rework); the judge keeps those that completed
            within `rework_window_days` before this arc.
        neighbors: the developer's other arcs (for arc_splitting).
        config: thresholds.
    """

    now: datetime | None = None
    prior: tuple[ArcDigest, ...] = ()
    neighbors: tuple[ArcDigest, ...] = ()
    config: ScoringConfig = field(default_factory=ScoringConfig)


@runtime_checkable
class Judge(Protocol):
    """Anything that turns an arc into a verdict."""

    name: str
    version: str

    def judge(self, arc: Arc, context: JudgeContext) -> ArcVerdict: ...


_REGISTRY: dict[str, Callable[[], Judge]] = {}
DEFAULT_JUDGE = "heuristic"


def register(name: str, factory: Callable[[], Judge]) -> None:
    """Make a judge available by name (an LLM judge registers itself the same way)."""
    _REGISTRY[name] = factory


def get(name: str = DEFAULT_JUDGE) -> Judge:
    """A new instance of the named judge; KeyError lists the known names."""
    if name == DEFAULT_JUDGE and name not in _REGISTRY:
        from prism.judge import heuristic  # noqa: F401  (registers itself)
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown judge {name!r}; known: {sorted(_REGISTRY)}") from None
    return factory()


def names() -> list[str]:
    return sorted(_REGISTRY)
