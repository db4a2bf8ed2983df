"""Every threshold of PRISM Score v3.0 (spec/scoring.md), declared once with its default.

Sessionizing, judging and scoring all read this one frozen object, so an operator who changes a
number in settings changes it everywhere at once. `docs/scoring.md` lists each field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# Canonical order of the seven rubric booleans; reports and ties follow it.
RUBRIC_BOOLEANS: tuple[str, ...] = (
    "goal_explicit",
    "scope_bounded",
    "references_concrete",
    "context_sufficient",
    "verification_requested",
    "root_cause_oriented",
    "plan_first",
)

INTENT_CLASSES: tuple[str, ...] = (
    "feature",
    "bugfix",
    "refactor",
    "test",
    "docs",
    "explore",
    "ops",
    "review",
    "unclear",
)

FLAG_KINDS: tuple[str, ...] = (
    "auto_retry_storm",
    "tiny_prompt_burst",
    "arc_splitting",
    "self_grading",
)


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """Thresholds of arcs, judging and window metrics; defaults are scoring.md's.

    Build it from settings with `ScoringConfig.from_settings(settings)`: any attribute of the
    settings object named like a field here overrides the default.
    """

    # --- goal arcs ---------------------------------------------------------------------------
    arc_gap_seconds: int = 1200
    """Idle gap (end of last activity -> next prompt) that starts a new arc and closes one."""
    new_task_min_tokens: int = 3
    """Content words a prompt needs before low similarity may start a new arc."""
    new_task_max_similarity: float = 0.2
    """Share of a prompt's content words already seen in the arc below which it is a new goal."""

    # --- substance floor -----------------------------------------------------------------------
    min_prompts: int = 1
    min_work_actions: int = 2
    min_seconds: float = 60.0
    min_output_tokens: int = 500

    # --- outcome -------------------------------------------------------------------------------
    complete_min_evidence: float = 0.3
    """Summed weight of completion evidence needed for goal_complete."""
    complete_margin: float = 0.2
    """How much completion evidence must exceed evidence against it for goal_complete."""

    # --- rework --------------------------------------------------------------------------------
    rework_window_days: int = 7
    rework_file_jaccard: float = 0.5
    rework_text_similarity: float = 0.5
    """Overlap coefficient of goal words that makes two goals "similar text"."""
    revoke_reworked: bool = False
    """When true, an arc marked reworked_later loses its crush (spec default: shown only)."""

    # --- rubric --------------------------------------------------------------------------------
    intent_min_confidence: float = 0.5
    infer_intent_without_text: bool = True
    """Infer intent from tool activity when prompts carry no text (see docs/scoring.md)."""
    grade_a: float = 0.85
    grade_b: float = 0.70
    grade_c: float = 0.55
    grade_d: float = 0.40

    # --- integrity -----------------------------------------------------------------------------
    storm_identical_prompts: int = 5
    storm_identical_window_seconds: int = 600
    storm_api_errors: int = 10
    storm_api_errors_window_seconds: int = 300
    tiny_prompt_count: int = 8
    tiny_prompt_max_chars: int = 15
    """A prompt is tiny when shorter than this many characters."""
    tiny_prompt_window_seconds: int = 300
    splitting_arc_count: int = 6
    splitting_window_seconds: int = 3600
    splitting_margin: float = 2.0
    """An arc is "barely over the floor" when work, seconds and output tokens are all within
    this factor of their floor."""
    blocking_flags: frozenset[str] = frozenset(
        {"auto_retry_storm", "arc_splitting", "self_grading"}
    )

    # --- window metrics ------------------------------------------------------------------------
    score_grade_a: float = 80.0
    score_grade_b: float = 60.0
    score_grade_c: float = 40.0
    score_grade_d: float = 20.0
    tier_min_qualifying: int = 3
    tier_exploring_below: float = 40.0
    tier_building_below: float = 60.0
    tier_scaling_below: float = 80.0
    sparkline_windows: int = 4
    tet_baseline_windows: int = 4
    ie_target_prompts: float = 2.0
    ttc_target_seconds: float = 1800.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if value < 0:
                raise ValueError(f"ScoringConfig.{f.name} must be >= 0, got {value}")
        if self.arc_gap_seconds <= 0:
            raise ValueError("ScoringConfig.arc_gap_seconds must be > 0")
        if not (self.grade_a >= self.grade_b >= self.grade_c >= self.grade_d):
            raise ValueError("prompt grade cut-offs must satisfy a >= b >= c >= d")
        if not (
            self.score_grade_a >= self.score_grade_b >= self.score_grade_c >= self.score_grade_d
        ):
            raise ValueError("score grade cut-offs must satisfy a >= b >= c >= d")
        unknown = set(self.blocking_flags) - set(FLAG_KINDS)
        if unknown:
            raise ValueError(f"unknown blocking flags: {sorted(unknown)}")

    @classmethod
    def from_settings(cls, settings: Any) -> ScoringConfig:
        """Take every field that `settings` also has (same name); keep defaults for the rest."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if hasattr(settings, f.name):
                value = getattr(settings, f.name)
                if f.name == "blocking_flags":
                    value = frozenset(value)
                values[f.name] = value
        return cls(**values)

    def prompt_letter(self, grade: float | None) -> str | None:
        """Letter of a prompt grade (0..1): A >= .85, B >= .70, C >= .55, D >= .40, else F."""
        if grade is None:
            return None
        eps = 1e-9  # 0.7 computed as 7/10 must still be a B
        if grade >= self.grade_a - eps:
            return "A"
        if grade >= self.grade_b - eps:
            return "B"
        if grade >= self.grade_c - eps:
            return "C"
        if grade >= self.grade_d - eps:
            return "D"
        return "F"

    def score_letter(self, score: float | None) -> str | None:
        """Letter of a prism_score (0..100): A >= 80, B >= 60, C >= 40, D >= 20, else F."""
        if score is None:
            return None
        for letter, cut in (
            ("A", self.score_grade_a),
            ("B", self.score_grade_b),
            ("C", self.score_grade_c),
            ("D", self.score_grade_d),
        ):
            if score >= cut:
                return letter
        return "F"


DEFAULT_CONFIG = ScoringConfig()
