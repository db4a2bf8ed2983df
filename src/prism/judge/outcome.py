"""Outcome of an arc: goal_complete | partial | failed | abandoned | unclear, with evidence.

Each signal of scoring.md carries a weight (positive for completion, negative against); the
label follows from the two sums, and every signal that fired is kept as evidence. The weights
live here, next to the rules that read them, and are listed in docs/scoring.md.
"""

from __future__ import annotations

from prism.judge.base import Evidence, Outcome
from prism.judge.signals import ArcSignals
from prism.score.thresholds import ScoringConfig
from prism.sessions import text as tx
from prism.sessions.arcs import MOVING_ON_REASONS, START_GAP, Arc

# Completion evidence.
W_VERIFY_PASS = 0.35
W_COMMIT = 0.30
W_PULL_REQUEST = 0.35
W_APPROVAL = 0.35
W_MOVED_ON = 0.20
W_CLEAN_FINISH = 0.10
# Evidence against.
W_FRUSTRATION = 0.45
W_REPEATED_FRUSTRATION = 0.15
W_VERIFY_FAIL = 0.35
W_FINAL_TOOL_FAIL = 0.15
W_REJECTED_EDIT = 0.15
W_REJECTED_EDITS_CAP = 0.30
W_API_ERROR_END = 0.30
W_INTERRUPTED = 0.20
W_MID_WORK = 0.20

STRONG_AGAINST = frozenset({"frustrated_final_prompt", "verification_failed", "api_error_at_end"})


def _moved_on(arc: Arc, sig: ArcSignals, config: ScoringConfig) -> str | None:
    reason = arc.next_start_reason
    if reason in MOVING_ON_REASONS:
        return f"next arc started on a {reason.replace('_', ' ')}"
    nxt = arc.next_first_prompt
    if reason == START_GAP and nxt and not tx.has_fix_cue(nxt) and not tx.has_frustration(nxt):
        toks = tx.content_tokens(nxt)
        known = sig.goal_tokens | frozenset().union(*(tx.content_tokens(f) for f in sig.edit_files))
        if (
            len(toks) >= config.new_task_min_tokens
            and tx.containment(toks, known) < config.new_task_max_similarity
        ):
            return "after a break the developer started another task"
    return None


def collect(arc: Arc, sig: ArcSignals, config: ScoringConfig) -> list[Evidence]:
    """Every outcome signal that fired, with its weight."""
    ev: list[Evidence] = []
    later = sig.later_texts
    final = later[-1] if later else None
    if sig.last_verify_after_edit is True:
        ev.append(
            Evidence(
                "verification_passed",
                "last test/build run after the last edit passed",
                W_VERIFY_PASS,
            )
        )
    if sig.commits:
        ev.append(Evidence("commit", f"{sig.commits} commit(s)", W_COMMIT))
    if sig.pull_requests:
        ev.append(Evidence("pull_request", f"{sig.pull_requests} pull request(s)", W_PULL_REQUEST))
    approved = sig.final_approval
    if approved:
        ev.append(Evidence("approving_final_prompt", _quote(final), W_APPROVAL))
    elif (
        arc.next_start_reason in MOVING_ON_REASONS
        and arc.next_first_prompt
        and tx.is_approval(arc.next_first_prompt)
    ):
        approved = True
        ev.append(
            Evidence(
                "approving_final_prompt",
                "next prompt opened with approval: " + _quote(arc.next_first_prompt),
                W_APPROVAL,
            )
        )
    moved = _moved_on(arc, sig, config)
    if moved:
        ev.append(Evidence("next_arc_moved_on", moved, W_MOVED_ON))
    if sig.final_response and not sig.last_tool_failed and sig.last_verify_after_edit is not False:
        ev.append(Evidence("clean_finish", "the agent finished with an answer", W_CLEAN_FINISH))

    if sig.final_frustration and not approved:
        ev.append(Evidence("frustrated_final_prompt", _quote(final), -W_FRUSTRATION))
    frustrated = sig.frustrated_prompts
    if frustrated >= 2 and not approved:
        ev.append(
            Evidence(
                "repeated_frustration", f"{frustrated} frustrated prompts", -W_REPEATED_FRUSTRATION
            )
        )
    if sig.last_verify_after_edit is False:
        ev.append(
            Evidence(
                "verification_failed",
                "last test/build run after the last edit failed",
                -W_VERIFY_FAIL,
            )
        )
    elif sig.last_tool_failed:
        ev.append(Evidence("final_tool_failed", "the last tool call failed", -W_FINAL_TOOL_FAIL))
    if sig.rejected_edits:
        ev.append(
            Evidence(
                "rejected_edits",
                f"{sig.rejected_edits} edit(s) rejected",
                -min(W_REJECTED_EDITS_CAP, W_REJECTED_EDIT * sig.rejected_edits),
            )
        )
    if sig.api_error_at_end:
        ev.append(Evidence("api_error_at_end", "the arc ended on an API error", -W_API_ERROR_END))
    if sig.interrupted:
        ev.append(Evidence("interrupted", "the developer interrupted the agent", -W_INTERRUPTED))
    if sig.ended_mid_work or sig.unanswered_prompt:
        what = (
            "the agent was still working" if sig.ended_mid_work else "the last prompt got no answer"
        )
        ev.append(Evidence("ended_mid_work", what, -W_MID_WORK))
    return ev


def decide(arc: Arc, sig: ArcSignals, closed: bool, config: ScoringConfig) -> Outcome:
    """Label the arc from its evidence (see docs/scoring.md for the decision table)."""
    ev = collect(arc, sig, config)
    pos = sum(e.weight for e in ev if e.weight > 0)
    neg = -sum(e.weight for e in ev if e.weight < 0)
    kinds = {e.signal for e in ev}
    stopped = bool(kinds & {"ended_mid_work", "interrupted"}) and (
        sig.ended_mid_work or sig.unanswered_prompt or sig.interrupted_at_end
    )
    if kinds & STRONG_AGAINST and neg > pos:
        label, conf = "failed", 0.5 + (neg - pos) / 2
    elif pos >= config.complete_min_evidence and pos - neg >= config.complete_margin:
        label, conf = "goal_complete", 0.5 + (pos - neg) / 2
    elif stopped and pos < config.complete_min_evidence:
        if closed:
            label, conf = "abandoned", 0.6 if arc.next_start_reason else 0.7
        else:
            label, conf = "unclear", 0.2
    elif pos > 0 and neg > 0:
        label, conf = "partial", 0.5
    elif neg >= config.complete_min_evidence:
        label, conf = "failed", 0.5 + neg / 4
    else:
        label, conf = "unclear", 0.3 if ev else 0.2
    return Outcome(label=label, confidence=round(min(0.95, conf), 3), evidence=tuple(ev))


def _quote(text: str | None, limit: int = 80) -> str:
    t = " ".join((text or "").split())
    return f'"{t[:limit]}…"' if len(t) > limit else f'"{t}"'
