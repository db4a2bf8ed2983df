"""Rework: an arc that redoes a goal the same developer completed recently.

Needs a fix cue in the arc's goal prompt ("still", "again", "regression", "didn't work",
"broke") and a match with an earlier completed arc: the same files (Jaccard) or a similar goal.
The earlier arc is then marked `reworked_later` (shown, and revoked only if configured).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from prism.judge.base import ArcDigest, ArcVerdict, Evidence, Rework
from prism.score.thresholds import ScoringConfig
from prism.sessions import text as tx


def _eligible(d: ArcDigest, developer_id: str, start: datetime, horizon: timedelta) -> bool:
    return (
        d.developer_id == developer_id
        and d.outcome == "goal_complete"
        and d.qualifying
        and d.ended_at <= start
        and start - d.ended_at <= horizon
    )


def detect(
    *,
    developer_id: str,
    started_at: datetime,
    goal_text: str | None,
    files: frozenset[str],
    goal_tokens: frozenset[str],
    prior: Sequence[ArcDigest],
    config: ScoringConfig,
) -> Rework:
    """Find the most recent earlier completed arc this one redoes, if any."""
    if not goal_text or not tx.has_fix_cue(goal_text) or not prior:
        return Rework()
    horizon = timedelta(days=config.rework_window_days)
    best: tuple[datetime, str, list[Evidence]] | None = None
    for d in prior:
        if not _eligible(d, developer_id, started_at, horizon):
            continue
        why: list[Evidence] = []
        if files and d.files:
            j = tx.jaccard(files, d.files)
            if j >= config.rework_file_jaccard:
                why.append(Evidence("files_overlap", f"Jaccard {j:.2f} with arc {d.arc_id}", 1.0))
        shared = goal_tokens & d.goal_tokens
        sim = tx.overlap(goal_tokens, d.goal_tokens)
        if len(shared) >= 2 and sim >= config.rework_text_similarity:
            why.append(
                Evidence(
                    "similar_goal", f"{sim:.2f} word overlap: {', '.join(sorted(shared))}", 1.0
                )
            )
        if not why:
            continue
        key = (d.ended_at, d.arc_id)
        if best is None or key > (best[0], best[1]):
            best = (d.ended_at, d.arc_id, why)
    if best is None:
        return Rework()
    cue = Evidence("fix_cue", _cue(goal_text), 1.0)
    return Rework(is_rework=True, reworks_arc_id=best[1], evidence=(cue, *best[2]))


def _cue(text: str) -> str:
    m = tx.FIX_CUE_RE.search(text)
    return f'"{m.group(0)}" in the goal prompt' if m else "fix cue in the goal prompt"


def links(verdicts: Iterable[ArcVerdict]) -> dict[str, tuple[str, ...]]:
    """Earlier arc id -> ids of the later arcs that rework it (sorted)."""
    out: dict[str, list[str]] = {}
    for v in verdicts:
        if v.rework.is_rework and v.rework.reworks_arc_id:
            out.setdefault(v.rework.reworks_arc_id, []).append(v.arc_id)
    return {k: tuple(sorted(set(ids))) for k, ids in out.items()}


def mark_reworked_later(v: ArcVerdict, later_ids: Sequence[str]) -> ArcVerdict:
    """The same verdict with `reworked_by` extended by `later_ids`."""
    ids = tuple(sorted(set(v.rework.reworked_by) | set(later_ids)))
    return replace(v, rework=replace(v.rework, reworked_by=ids))
