"""Window metrics of PRISM Score v3.0 and the legacy v2.1 composite, as pure functions.

Input is a list of `ScoredArc` (one per closed, judged arc); an arc belongs to the window that
holds its `ended_at`, the moment its outcome was reached. Ratios are None when their
denominator is empty, never a made-up zero.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from prism.score.thresholds import (
    DEFAULT_CONFIG,
    FLAG_KINDS,
    RUBRIC_BOOLEANS,
    ScoringConfig,
)
from prism.score.windows import Window, last_windows, previous, working_days_elapsed

if TYPE_CHECKING:
    from prism.judge.base import ArcVerdict

TRIVIA_REASONS: tuple[str, ...] = ("no_prompts", "too_short", "no_work", "errors_only")


@dataclass(frozen=True, slots=True)
class ScoredArc:
    """What window metrics need to know about one judged arc (a row the store can keep)."""

    arc_id: str
    started_at: datetime
    ended_at: datetime
    qualifying: bool
    crushed: bool
    outcome: str
    is_rework: bool = False
    reworked_later: bool = False
    prompt_count: int = 0
    has_correction_after_first: bool = False
    grade: float | None = None
    booleans: Mapping[str, bool] = field(default_factory=dict)
    applicability: Mapping[str, bool] = field(default_factory=dict)
    intent_class: str = "unclear"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_micro_usd: int = 0
    trivia_reason: str | None = None
    flags: tuple[str, ...] = ()
    seconds: float | None = None
    """First prompt to last activity; falls back to ended_at - started_at."""

    @classmethod
    def from_verdict(cls, v: ArcVerdict) -> ScoredArc:
        return cls(
            arc_id=v.arc_id,
            started_at=v.started_at,
            ended_at=v.ended_at,
            qualifying=v.substance.passed,
            crushed=v.crushed,
            outcome=v.outcome.label,
            is_rework=v.rework.is_rework,
            reworked_later=v.rework.reworked_later,
            prompt_count=v.substance.prompt_count,
            has_correction_after_first=v.has_correction_after_first,
            grade=v.rubric.grade,
            booleans=dict(v.rubric.booleans),
            applicability=dict(v.rubric.applicability),
            intent_class=v.rubric.intent_class,
            input_tokens=v.tokens.input,
            output_tokens=v.tokens.output,
            cache_read_tokens=v.tokens.cache_read,
            cache_write_tokens=v.tokens.cache_write,
            cost_micro_usd=v.tokens.cost_micro_usd,
            trivia_reason=v.substance.reason,
            flags=tuple(f.kind for f in v.flags),
            seconds=v.substance.seconds,
        )

    @property
    def billed_tokens(self) -> int:
        """input + output + cache writes (cache reads are not billed as new work)."""
        return self.input_tokens + self.output_tokens + self.cache_write_tokens

    @property
    def wall_seconds(self) -> float:
        if self.seconds is not None:
            return self.seconds
        return (self.ended_at - self.started_at).total_seconds()


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def in_window(arcs: Sequence[ScoredArc], w: Window) -> list[ScoredArc]:
    return [a for a in arcs if w.contains(a.ended_at)]


def qualifying(arcs: Sequence[ScoredArc]) -> list[ScoredArc]:
    return [a for a in arcs if a.qualifying]


# --- headline ------------------------------------------------------------------------------------


def prism_score(arcs: Sequence[ScoredArc]) -> float | None:
    """100 * crushed / qualifying, one decimal; None without qualifying arcs."""
    q = qualifying(arcs)
    if not q:
        return None
    return round(100.0 * sum(1 for a in q if a.crushed) / len(q), 1)


def personal_tier(score: float | None, total: int, config: ScoringConfig = DEFAULT_CONFIG) -> str:
    if total < config.tier_min_qualifying or score is None:
        return "warming_up"
    if score < config.tier_exploring_below:
        return "exploring"
    if score < config.tier_building_below:
        return "building"
    if score < config.tier_scaling_below:
        return "scaling"
    return "crushing"


def crush_weight(arcs: Sequence[ScoredArc]) -> float | None:
    """Billed tokens in crushed arcs / billed tokens in all qualifying arcs."""
    q = qualifying(arcs)
    return _ratio(sum(a.billed_tokens for a in q if a.crushed), sum(a.billed_tokens for a in q))


@dataclass(frozen=True, slots=True)
class ScoreStats:
    prism_score: float | None
    letter_grade: str | None
    personal_tier: str
    crushed_count: int
    total_count: int
    crush_weight: float | None


def score_stats(arcs: Sequence[ScoredArc], config: ScoringConfig = DEFAULT_CONFIG) -> ScoreStats:
    q = qualifying(arcs)
    s = prism_score(q)
    return ScoreStats(
        prism_score=s,
        letter_grade=config.score_letter(s),
        personal_tier=personal_tier(s, len(q), config),
        crushed_count=sum(1 for a in q if a.crushed),
        total_count=len(q),
        crush_weight=crush_weight(q),
    )


# --- speed ---------------------------------------------------------------------------------------


def cspw(arcs: Sequence[ScoredArc], w: Window, now: datetime) -> float:
    """Crushed arcs per working day (Mon-Fri) elapsed in the window (at least 1)."""
    crushed = sum(1 for a in arcs if a.qualifying and a.crushed)
    return crushed / working_days_elapsed(w, now)


def ttc_median_seconds(arcs: Sequence[ScoredArc]) -> float | None:
    """Median wall time from first prompt to last activity of crushed arcs."""
    times = [a.wall_seconds for a in arcs if a.qualifying and a.crushed]
    return float(statistics.median(times)) if times else None


@dataclass(frozen=True, slots=True)
class SpeedStats:
    cspw: float
    delta_cspw: float
    ttc_median_seconds: float | None


# --- tokens --------------------------------------------------------------------------------------


def tpt(arcs: Sequence[ScoredArc]) -> float | None:
    """Tokens per ticket: billed tokens of qualifying arcs / crushed arcs."""
    q = qualifying(arcs)
    return _ratio(sum(a.billed_tokens for a in q), sum(1 for a in q if a.crushed))


def tet(current_tpt: float | None, baseline_tpts: Sequence[float | None]) -> float | None:
    """baseline / tpt with baseline = median tpt of earlier windows (> 1: cheaper than usual)."""
    base = [t for t in baseline_tpts if t is not None]
    if current_tpt is None or not current_tpt or not base:
        return None
    return float(statistics.median(base)) / current_tpt


def cpcs_estimate(arcs: Sequence[ScoredArc]) -> float | None:
    """Cost in USD of qualifying arcs / crushed arcs (client-side list-price estimate)."""
    q = qualifying(arcs)
    crushed = sum(1 for a in q if a.crushed)
    if not crushed:
        return None
    return sum(a.cost_micro_usd for a in q) / 1_000_000 / crushed


def breakdown(arcs: Sequence[ScoredArc]) -> dict[str, int]:
    """Token sums of qualifying arcs by kind."""
    q = qualifying(arcs)
    return {
        "input": sum(a.input_tokens for a in q),
        "output": sum(a.output_tokens for a in q),
        "cache_read": sum(a.cache_read_tokens for a in q),
        "cache_write": sum(a.cache_write_tokens for a in q),
    }


@dataclass(frozen=True, slots=True)
class TokenStats:
    crush_weight: float | None
    tet: float | None
    tpt: float | None
    cpcs_estimate: float | None
    breakdown: Mapping[str, int]


# --- skill ---------------------------------------------------------------------------------------


def _graded(arcs: Sequence[ScoredArc]) -> list[ScoredArc]:
    return [a for a in arcs if a.qualifying and a.grade is not None]


def apg(arcs: Sequence[ScoredArc]) -> float | None:
    """Mean arc prompt grade over qualifying arcs that have one (prompt text logged)."""
    g = _graded(arcs)
    return _mean([a.grade for a in g])


def per_boolean(arcs: Sequence[ScoredArc]) -> dict[str, float | None]:
    """Share of graded qualifying arcs where each boolean holds, among those it applies to."""
    g = _graded(arcs)
    out: dict[str, float | None] = {}
    for k in RUBRIC_BOOLEANS:
        applies = [a for a in g if a.applicability.get(k)]
        out[k] = _ratio(sum(1 for a in applies if a.booleans.get(k)), len(applies))
    return out


def worst_pillar(shares: Mapping[str, float | None]) -> str | None:
    """The boolean with the lowest share (ties: the earlier one in rubric order)."""
    present = [(v, i, k) for i, k in enumerate(RUBRIC_BOOLEANS) if (v := shares.get(k)) is not None]
    return min(present)[2] if present else None


@dataclass(frozen=True, slots=True)
class SkillStats:
    apg: float | None
    delta_apg: float | None
    per_boolean: Mapping[str, float | None]
    worst_pillar: str | None


# --- trivia and integrity ------------------------------------------------------------------------


def trivia_counts(arcs: Sequence[ScoredArc]) -> dict[str, int]:
    """Trivia arcs per reason (every reason present, zero when none)."""
    c = Counter(a.trivia_reason for a in arcs if not a.qualifying)
    return {r: c.get(r, 0) for r in TRIVIA_REASONS}


def integrity_by_kind(arcs: Sequence[ScoredArc]) -> list[dict[str, Any]]:
    """[{kind, count}] over every arc of the window, kinds with no flag left out."""
    c = Counter(k for a in arcs for k in set(a.flags))
    return [{"kind": k, "count": c[k]} for k in FLAG_KINDS if c.get(k)]


# --- v2.1 composite ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegacyStats:
    sse: float | None
    pes: float | None
    ie: float | None
    crr: float | None
    fc: float | None
    speed: float | None
    skill: float | None
    efficiency: float | None
    composite: float | None


def legacy(
    arcs: Sequence[ScoredArc],
    *,
    ttc_seconds: float | None,
    tet_value: float | None,
    config: ScoringConfig = DEFAULT_CONFIG,
) -> LegacyStats:
    """SSE, PES, IE, CRR, FC and the Speed / Skill / Efficiency composite of v2.1."""
    q = qualifying(arcs)
    done = [a for a in q if a.outcome == "goal_complete"]
    sse = _ratio(len(done), len(q))
    pes = apg(q)
    mean_prompts = _mean([float(a.prompt_count) for a in done])
    ie = min(1.0, config.ie_target_prompts / mean_prompts) if mean_prompts else None
    crr = _ratio(sum(1 for a in done if not a.reworked_later), len(done))
    fc = _ratio(sum(1 for a in done if not a.has_correction_after_first), len(done))
    if ttc_seconds is None:
        ttc_part = None
    elif ttc_seconds <= 0:
        ttc_part = 1.0
    else:
        ttc_part = min(1.0, config.ttc_target_seconds / ttc_seconds)
    speed = _scaled(_mean([ie, ttc_part]))
    skill = _scaled(_mean([pes, fc]))
    efficiency = _scaled(_mean([crr, None if tet_value is None else min(1.0, tet_value)]))
    return LegacyStats(
        sse=sse,
        pes=pes,
        ie=ie,
        crr=crr,
        fc=fc,
        speed=speed,
        skill=skill,
        efficiency=efficiency,
        composite=_mean([speed, skill, efficiency]),
    )


def _scaled(v: float | None) -> float | None:
    return None if v is None else 100.0 * v


# --- one window, every metric --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowReport:
    """Every v3 metric of one window plus the v2.1 composite and the sparklines."""

    window: Window
    score: ScoreStats
    speed: SpeedStats
    tokens: TokenStats
    skill: SkillStats
    trivia: Mapping[str, int]
    integrity: list[dict[str, Any]]
    legacy: LegacyStats
    sparklines: Mapping[str, list[float | None]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready sections shaped like the v3 endpoints (rounded for display)."""
        kind = self.window.kind
        s, sp, t, sk, lg = self.score, self.speed, self.tokens, self.skill, self.legacy
        return {
            "window": kind,
            "from": self.window.start.isoformat(),
            "to": self.window.end.isoformat(),
            "score": {
                "window": kind,
                "prism_score": s.prism_score,
                "letter_grade": s.letter_grade,
                "personal_tier": s.personal_tier,
                "crushed_count": s.crushed_count,
                "total_count": s.total_count,
                "crush_weight": _r(s.crush_weight, 3),
                "sparkline": [_r(v, 1) for v in self.sparklines["prism_score"]],
            },
            "speed": {
                "window": kind,
                "cspw": _r(sp.cspw, 2),
                "delta_cspw": _r(sp.delta_cspw, 2),
                "ttc_median_seconds": _r(sp.ttc_median_seconds, 1),
                "sparkline": [_r(v, 2) for v in self.sparklines["cspw"]],
            },
            "tokens": {
                "window": kind,
                "crush_weight": _r(t.crush_weight, 3),
                "tet": _r(t.tet, 3),
                "tpt": _r(t.tpt, 1),
                "cpcs_estimate": _r(t.cpcs_estimate, 4),
                "sparkline": [_r(v, 3) for v in self.sparklines["crush_weight"]],
                "breakdown": dict(t.breakdown),
            },
            "skill": {
                "window": kind,
                "apg": _r(sk.apg, 3),
                "delta_apg": _r(sk.delta_apg, 3),
                "per_boolean": {k: _r(v, 3) for k, v in sk.per_boolean.items()},
                "worst_pillar": sk.worst_pillar,
                "sparkline": [_r(v, 3) for v in self.sparklines["apg"]],
            },
            "trivia": {
                "window": kind,
                "by_reason": dict(self.trivia),
                "total": sum(self.trivia.values()),
            },
            "integrity": {"window": kind, "by_kind": list(self.integrity)},
            "v2": {f.name: _r(getattr(lg, f.name), 3) for f in fields(LegacyStats)},
        }


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


def history_start(
    kind: str,
    now: datetime,
    tz: str | ZoneInfo | None = "UTC",
    config: ScoringConfig = DEFAULT_CONFIG,
) -> datetime:
    """Earliest `ended_at` that `window_report` reads: load scored arcs from here to `now`."""
    n = max(config.sparkline_windows, config.tet_baseline_windows + 1)
    return last_windows(kind, now, tz, n)[0].start


def window_report(
    arcs: Sequence[ScoredArc],
    kind: str,
    now: datetime,
    tz: str | ZoneInfo | None = "UTC",
    config: ScoringConfig = DEFAULT_CONFIG,
) -> WindowReport:
    """All metrics of the `kind` window holding `now`, for one developer's scored arcs.

    `arcs` may span any range; only those ending in the windows used are read (see
    `history_start`). Previous-window deltas compare against the full previous window.
    """
    n = max(config.sparkline_windows, config.tet_baseline_windows + 1)
    wins = last_windows(kind, now, tz, n)
    cur = wins[-1]
    per = {w: in_window(arcs, w) for w in wins}
    prev_w = previous(cur)
    a, prev = per[cur], per.get(prev_w) or in_window(arcs, prev_w)
    cur_tpt = tpt(a)
    baseline = [tpt(per[w]) for w in wins[-1 - config.tet_baseline_windows : -1]]
    tet_value = tet(cur_tpt, baseline)
    ttc = ttc_median_seconds(a)
    cur_cspw = cspw(a, cur, now)
    prev_cspw = cspw(prev, prev_w, now)
    cur_apg, prev_apg = apg(a), apg(prev)
    shares = per_boolean(a)
    spark = wins[-config.sparkline_windows :]
    return WindowReport(
        window=cur,
        score=score_stats(a, config),
        speed=SpeedStats(cur_cspw, cur_cspw - prev_cspw, ttc),
        tokens=TokenStats(
            crush_weight=crush_weight(a),
            tet=tet_value,
            tpt=cur_tpt,
            cpcs_estimate=cpcs_estimate(a),
            breakdown=breakdown(a),
        ),
        skill=SkillStats(
            apg=cur_apg,
            delta_apg=None if cur_apg is None or prev_apg is None else cur_apg - prev_apg,
            per_boolean=shares,
            worst_pillar=worst_pillar(shares),
        ),
        trivia=trivia_counts(a),
        integrity=integrity_by_kind(a),
        legacy=legacy(a, ttc_seconds=ttc, tet_value=tet_value, config=config),
        sparklines={
            "prism_score": [prism_score(per[w]) for w in spark],
            "cspw": [cspw(per[w], w, now) for w in spark],
            "crush_weight": [crush_weight(per[w]) for w in spark],
            "apg": [apg(per[w]) for w in spark],
        },
    )
