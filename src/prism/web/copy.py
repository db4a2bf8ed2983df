"""The dashboard's words: what each rubric boolean means and how to raise it, tiers, reasons."""

from __future__ import annotations

BOOLEANS: dict[str, tuple[str, str]] = {
    # name: (label, advice)
    "goal_explicit": (
        "Goal explicit",
        'Open with the outcome you want in one sentence ("Make the export endpoint return '
        'CSV"), not only the activity ("look at the export code").',
    ),
    "scope_bounded": (
        "Scope bounded",
        "Name the boundary: which files, module or behaviour may change, and what must not. "
        "Small, fenced goals finish more often.",
    ),
    "references_concrete": (
        "References concrete",
        "Point at real things: file paths, function names, the failing test, the exact error "
        "text. The agent then starts where the problem is.",
    ),
    "context_sufficient": (
        "Context sufficient",
        "Give what the agent cannot see: why the change is needed, constraints, what you "
        "already tried, and how it should behave.",
    ),
    "verification_requested": (
        "Verification requested",
        "Ask for proof in the prompt: run the tests, build, or reproduce the bug before and "
        "after. A verified arc is one the judge can see crushed.",
    ),
    "root_cause_oriented": (
        "Root cause oriented",
        'For bugs, ask for the cause before the fix ("find why the timeout happens, then fix '
        'it") rather than a patch over the symptom.',
    ),
    "plan_first": (
        "Plan first",
        "For features and refactors, ask for a short plan first and approve it before edits "
        "start; it keeps large changes on one goal.",
    ),
}

TIERS: dict[str, str] = {
    "warming_up": "Warming up: fewer than 3 qualifying arcs in this window.",
    "exploring": "Exploring: under 40% of qualifying arcs crushed.",
    "building": "Building: 40–60% of qualifying arcs crushed.",
    "scaling": "Scaling: 60–80% of qualifying arcs crushed.",
    "crushing": "Crushing: 80% or more of qualifying arcs crushed.",
}

TRIVIA_REASONS: dict[str, str] = {
    "no_prompts": "No prompts: activity without a prompt.",
    "too_short": "Too short: under the minimum time or output.",
    "no_work": "No work: fewer work actions (edits, commands, tool results) than the floor.",
    "errors_only": "Errors only: nothing but failed calls.",
}

FLAGS: dict[str, str] = {
    "auto_retry_storm": "The same prompt sent again and again, or a burst of API retries.",
    "tiny_prompt_burst": "Many very short prompts in a few minutes.",
    "arc_splitting": "Many arcs in an hour, each barely over the substance floor.",
    "self_grading": "An approving closing prompt with no edits and no verification.",
}

OUTCOMES: dict[str, str] = {
    "goal_complete": "Goal complete",
    "partial": "Partial",
    "failed": "Failed",
    "abandoned": "Abandoned",
    "unclear": "Unclear",
}

WINDOWS = ("daily", "weekly", "monthly")
WINDOW_LABELS = {"daily": "Today", "weekly": "This week", "monthly": "This month"}

# The languages the report writer speaks (others fall back to English, and the report says so).
REPORT_LANGUAGES: tuple[tuple[str, str], ...] = (
    ("en", "English"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("ja", "日本語"),
    ("zh", "中文"),
)
