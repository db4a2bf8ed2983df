"""Judges: turn a goal arc into a verdict (substance, outcome, rework, rubric, integrity).

`judge_arcs(arcs, now=...)` is the entry point; `get(name)` returns a registered judge.
"""

from __future__ import annotations

from prism.judge.base import (
    ArcDigest,
    ArcVerdict,
    Evidence,
    IntegrityFlag,
    Judge,
    JudgeContext,
    Outcome,
    PromptRubric,
    Rework,
    Rubric,
    Substance,
    TokenUsage,
    get,
    is_crushed,
    names,
    register,
)
from prism.judge.heuristic import HeuristicJudge, judge_arcs, settle

__all__ = [
    "ArcDigest",
    "ArcVerdict",
    "Evidence",
    "HeuristicJudge",
    "IntegrityFlag",
    "Judge",
    "JudgeContext",
    "Outcome",
    "PromptRubric",
    "Rework",
    "Rubric",
    "Substance",
    "TokenUsage",
    "get",
    "is_crushed",
    "judge_arcs",
    "names",
    "register",
    "settle",
]
