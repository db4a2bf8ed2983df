"""Sessions and goal arcs: turning a developer's agent events into the units Prism scores."""

from __future__ import annotations

from prism.sessions.arcs import Arc, Prompt, build_arcs, heuristic_summary, heuristic_title
from prism.sessions.model import EventRow, MetricSignal

__all__ = [
    "Arc",
    "EventRow",
    "MetricSignal",
    "Prompt",
    "build_arcs",
    "heuristic_summary",
    "heuristic_title",
]
