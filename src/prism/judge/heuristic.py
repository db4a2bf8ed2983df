"""The default judge, and `judge_arcs`, which judges a developer's arcs together.

The heuristic judge composes the pieces (signals -> substance, outcome, rework, rubric,
integrity -> crushed). It is deterministic, offline and fast. Cross-arc facts (an earlier arc
reworked later, arc splitting) need the other arcs, so `judge_arcs` settles them after judging.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from prism.judge import integrity, outcome, rework, rubric, substance
from prism.judge.base import (
    ArcDigest,
    ArcVerdict,
    Judge,
    JudgeContext,
    barely_over,
    is_crushed,
    register,
)
from prism.judge.signals import extract
from prism.score.thresholds import DEFAULT_CONFIG, ScoringConfig
from prism.sessions.arcs import Arc, heuristic_summary


class HeuristicJudge:
    """Keyword, shape and tool-trail rules; every decision carries its evidence."""

    name = "heuristic"
    version = "3.0.0"

    def judge(self, arc: Arc, context: JudgeContext | None = None) -> ArcVerdict:
        ctx = context or JudgeContext()
        cfg = ctx.config
        sig = extract(arc)
        sub = substance.assess(sig, cfg)
        closed = ctx.now is None or arc.is_closed(ctx.now)
        out = outcome.decide(arc, sig, closed, cfg)
        rw = rework.detect(
            developer_id=arc.developer_id,
            started_at=arc.started_at,
            goal_text=sig.goal_text,
            files=sig.edit_files,
            goal_tokens=sig.goal_tokens,
            prior=ctx.prior,
            config=cfg,
        )
        rub = rubric.assess(arc, sig, cfg)
        flags = integrity.arc_flags(arc, sig, cfg)
        if ctx.neighbors and barely_over(sub, cfg):
            me = ArcDigest(
                arc.id,
                arc.developer_id,
                arc.started_at,
                arc.ended_at,
                out.label,
                sub.passed,
                True,
            )
            hit = integrity.splitting_ids((*ctx.neighbors, me), cfg).get(arc.id)
            if hit is not None:
                flags.append(integrity.splitting_flag(hit, cfg))
        flag_tuple = tuple(flags)
        top = max(out.evidence, key=lambda e: abs(e.weight), default=None)
        return ArcVerdict(
            arc_id=arc.id,
            developer_id=arc.developer_id,
            session_id=arc.session_id,
            started_at=arc.started_at,
            ended_at=arc.ended_at,
            judge=self.name,
            judge_version=self.version,
            substance=sub,
            outcome=out,
            rework=rw,
            rubric=rub,
            flags=flag_tuple,
            crushed=is_crushed(sub, out, rw, rub, flag_tuple, cfg),
            tokens=sig.tokens,
            title=arc.title,
            title_source=arc.title_source,
            summary=heuristic_summary(
                arc,
                out.label if sub.passed else f"trivia, {sub.reason}",
                top.detail if top and sub.passed else None,
                sig.tool_counts,
            ),
            files=sig.edit_files,
            goal_tokens=sig.goal_tokens,
            has_correction_after_first=sig.correction_after_first,
            closed=closed,
        )


register(HeuristicJudge.name, HeuristicJudge)


def judge_arcs(
    arcs: Iterable[Arc],
    judge: Judge | None = None,
    *,
    config: ScoringConfig | None = None,
    now: datetime | None = None,
    history: Sequence[ArcDigest] = (),
) -> list[ArcVerdict]:
    """Judge arcs in time order, each knowing the developer's earlier arcs; then link them.

    Args:
        arcs: arcs of one or many developers (any order).
        judge: defaults to the heuristic judge.
        config: thresholds (also handed to the judge through its context).
        now: judging time; arcs still open at `now` are judged but not declared abandoned.
        history: digests of already stored, earlier arcs (rework targets and splitting peers).

    Returns:
        One verdict per arc, in the order of `arcs` sorted by start, with `reworked_by` set on
        reworked arcs of this batch and arc_splitting flags applied. Rework links that point
        into `history` are in `rework.links(verdicts)` for the caller to store.
    """
    cfg = config or DEFAULT_CONFIG
    j: Judge = judge or HeuristicJudge()
    ordered = sorted(arcs, key=lambda a: (a.started_at, a.developer_id, a.session_id, a.index))
    horizon = timedelta(days=cfg.rework_window_days)
    pools: dict[str, list[ArcDigest]] = {}
    for d in sorted(history, key=lambda d: (d.ended_at, d.arc_id)):
        if d.outcome == "goal_complete" and d.qualifying:
            pools.setdefault(d.developer_id, []).append(d)
    verdicts: list[ArcVerdict] = []
    for arc in ordered:
        pool = pools.setdefault(arc.developer_id, [])
        cutoff = arc.started_at - horizon
        if pool and pool[0].ended_at < cutoff:
            pool[:] = [d for d in pool if d.ended_at >= cutoff]
        ctx = JudgeContext(now=now, prior=tuple(pool), config=cfg)
        v = j.judge(arc, ctx)
        verdicts.append(v)
        if v.outcome.label == "goal_complete" and v.substance.passed:
            pool.append(ArcDigest.of(v, cfg))
    return settle(verdicts, history=history, config=cfg)


def settle(
    verdicts: Sequence[ArcVerdict],
    *,
    history: Sequence[ArcDigest] = (),
    config: ScoringConfig = DEFAULT_CONFIG,
) -> list[ArcVerdict]:
    """Apply the cross-arc facts: reworked_later back-links, arc_splitting, then crushed."""
    back = rework.links(verdicts)
    digests = [*history, *(ArcDigest.of(v, config) for v in verdicts)]
    split = integrity.splitting_ids(digests, config)
    out: list[ArcVerdict] = []
    for v in verdicts:
        if v.arc_id in back:
            v = rework.mark_reworked_later(v, back[v.arc_id])
        if v.arc_id in split and not any(f.kind == "arc_splitting" for f in v.flags):
            v = replace(v, flags=(*v.flags, integrity.splitting_flag(split[v.arc_id], config)))
        crushed = is_crushed(v.substance, v.outcome, v.rework, v.rubric, v.flags, config)
        if crushed != v.crushed:
            v = replace(v, crushed=crushed)
        out.append(v)
    return out
