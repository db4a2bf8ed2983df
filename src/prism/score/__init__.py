"""Scoring: thresholds, calendar windows and the window metrics of PRISM Score v3.0."""

from __future__ import annotations

from prism.score.metrics import ScoredArc, WindowReport, history_start, window_report
from prism.score.thresholds import DEFAULT_CONFIG, ScoringConfig
from prism.score.windows import KINDS, Window, parse_kind, window_at

__all__ = [
    "DEFAULT_CONFIG",
    "KINDS",
    "ScoredArc",
    "ScoringConfig",
    "Window",
    "WindowReport",
    "history_start",
    "parse_kind",
    "window_at",
    "window_report",
]
