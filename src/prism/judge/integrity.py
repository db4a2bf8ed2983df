"""Anti-gaming flags. Each is a sliding-window count over timestamps, cheap and explainable.

`auto_retry_storm`, `arc_splitting` and `self_grading` block a crush by default (the set is
`ScoringConfig.blocking_flags`); `tiny_prompt_burst` is only shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from prism.judge.base import ArcDigest, IntegrityFlag
from prism.judge.signals import ArcSignals
from prism.score.thresholds import ScoringConfig
from prism.sessions import text as tx
from prism.sessions.arcs import MOVING_ON_REASONS, Arc


def _burst(times: Sequence[datetime], count: int, window_s: float) -> tuple[int, datetime] | None:
    """Largest number of `times` (sorted) inside any window, if it reaches `count`."""
    if count <= 0 or len(times) < count:
        return None
    best, at, lo = 0, times[0], 0
    for hi, t in enumerate(times):
        while (t - times[lo]).total_seconds() > window_s:
            lo += 1
        n = hi - lo + 1
        if n > best:
            best, at = n, times[lo]
    return (best, at) if best >= count else None


def _flag(kind: str, detail: str, at: datetime, config: ScoringConfig) -> IntegrityFlag:
    return IntegrityFlag(kind=kind, blocking=kind in config.blocking_flags, detail=detail, at=at)


def arc_flags(arc: Arc, sig: ArcSignals, config: ScoringConfig) -> list[IntegrityFlag]:
    """The flags one arc shows on its own: retry storms, tiny-prompt bursts, self-grading."""
    flags: list[IntegrityFlag] = []
    by_text: dict[str, list[datetime]] = {}
    if len(arc.prompts) >= config.storm_identical_prompts:
        for p in arc.prompts:
            if p.text:
                by_text.setdefault(tx.normalize(p.text), []).append(p.time)
    for norm, times in sorted(by_text.items()):
        hit = _burst(times, config.storm_identical_prompts, config.storm_identical_window_seconds)
        if hit:
            flags.append(
                _flag(
                    "auto_retry_storm",
                    f'{hit[0]} identical prompts "{norm[:40]}" within '
                    f"{config.storm_identical_window_seconds // 60} min",
                    hit[1],
                    config,
                )
            )
            break
    else:
        hit = _burst(
            sig.api_error_times, config.storm_api_errors, config.storm_api_errors_window_seconds
        )
        if hit:
            flags.append(
                _flag(
                    "auto_retry_storm",
                    f"{hit[0]} API errors within "
                    f"{config.storm_api_errors_window_seconds // 60} min",
                    hit[1],
                    config,
                )
            )
    tiny = [
        t
        for t, n in zip(sig.prompt_times, sig.prompt_lengths, strict=True)
        if 0 < n < config.tiny_prompt_max_chars
    ]
    hit = _burst(tiny, config.tiny_prompt_count, config.tiny_prompt_window_seconds)
    if hit:
        flags.append(
            _flag(
                "tiny_prompt_burst",
                f"{hit[0]} prompts under {config.tiny_prompt_max_chars} characters within "
                f"{config.tiny_prompt_window_seconds // 60} min",
                hit[1],
                config,
            )
        )
    approved = sig.final_approval
    if not approved and arc.next_start_reason in MOVING_ON_REASONS:
        # "thanks! next, ..." closes this arc even though it opens the next one.
        approved = tx.is_approval(arc.next_first_prompt)
    if approved and sig.edits == 0 and sig.verify_runs == 0:
        flags.append(
            _flag(
                "self_grading",
                "approving closing prompt with no edits and no test/build run",
                arc.prompts[-1].time if arc.prompts else arc.ended_at,
                config,
            )
        )
    return flags


def splitting_ids(digests: Iterable[ArcDigest], config: ScoringConfig) -> dict[str, datetime]:
    """Arc ids caught in an arc_splitting window -> start of that window.

    A window is `splitting_window_seconds` long and holds at least `splitting_arc_count` arcs of
    one developer that each passed the substance floor only barely.
    """
    by_dev: dict[str, list[ArcDigest]] = {}
    for d in digests:
        if d.barely_over:
            by_dev.setdefault(d.developer_id, []).append(d)
    out: dict[str, datetime] = {}
    need, span = config.splitting_arc_count, config.splitting_window_seconds
    for arcs in by_dev.values():
        arcs.sort(key=lambda d: (d.started_at, d.arc_id))
        lo = 0
        for hi, d in enumerate(arcs):
            while (d.started_at - arcs[lo].started_at).total_seconds() > span:
                lo += 1
            if hi - lo + 1 >= need:
                for member in arcs[lo : hi + 1]:
                    out.setdefault(member.arc_id, arcs[lo].started_at)
    return out


def splitting_flag(at: datetime, config: ScoringConfig) -> IntegrityFlag:
    return _flag(
        "arc_splitting",
        f">= {config.splitting_arc_count} arcs barely over the substance floor within "
        f"{config.splitting_window_seconds // 60} min",
        at,
        config,
    )
