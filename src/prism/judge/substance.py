"""The substance floor: did enough real work happen for the arc to count?

Arcs below the floor are *trivia*: listed with a reason, never scored. The reasons are checked
in a fixed order so each trivia arc gets exactly one, the most telling.
"""

from __future__ import annotations

from prism.judge.base import Substance
from prism.judge.signals import ArcSignals
from prism.score.thresholds import ScoringConfig


def assess(sig: ArcSignals, config: ScoringConfig) -> Substance:
    """Floor = prompts, work actions, seconds and output tokens all at their minimum.

    Order of reasons: `no_prompts`; `errors_only` (something failed and nothing succeeded);
    `no_work`; `too_short` (too little time or too little output).
    """
    out = sig.tokens.output
    reason: str | None = None
    if sig.prompt_count < config.min_prompts:
        reason = "no_prompts"
    elif (
        sig.api_errors + sig.tool_failures > 0
        and sig.tool_successes == 0
        and out < config.min_output_tokens
    ):
        reason = "errors_only"
    elif sig.work_actions < config.min_work_actions:
        reason = "no_work"
    elif sig.seconds < config.min_seconds or out < config.min_output_tokens:
        reason = "too_short"
    return Substance(
        passed=reason is None,
        reason=reason,
        prompt_count=sig.prompt_count,
        work_actions=sig.work_actions,
        seconds=sig.seconds,
        output_tokens=out,
    )
