"""The prompt rubric: seven booleans, an intent class and a grade, per prompt and per arc.

Heuristic on purpose: keyword and shape patterns that a developer can read and predict. An
LLM judge may replace it; this one never needs the network and records `judge_status`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prism.judge.base import PromptRubric, Rubric
from prism.judge.signals import ArcSignals, is_doc_path, is_test_path
from prism.score.thresholds import INTENT_CLASSES, RUBRIC_BOOLEANS, ScoringConfig
from prism.sessions import text as tx
from prism.sessions.arcs import Arc

_POLITE_WORDS = tx.word_set(
    """please pls hey hi ok okay so now next then also and claude can could would will you i want
    need like to let lets s d id we ll"""
)


@dataclass(frozen=True, slots=True)
class _Class:
    """Keywords of one intent class: exact words, word prefixes, phrases, leading verbs."""

    words: frozenset[str]
    prefixes: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    leads: frozenset[str] = frozenset()


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Order matters for ties (INTENT_CLASSES order) and for leads (first class claiming the verb).
_INTENT: dict[str, _Class] = {
    "test": _Class(
        _w("coverage flaky"),
        (),
        (
            "write test",
            "add test",
            "add a test",
            "add tests",
            "write tests",
            "unit test",
            "test suite",
            "tests for",
            "test for",
            "test cases",
            "integration test",
            "e2e test",
            "more tests",
            "missing tests",
            "regression test",
        ),
        _w("test cover"),
    ),
    "docs": _Class(
        _w(
            "doc docs documentation readme docstring docstrings comment comments changelog guide "
            "tutorial jsdoc"
        ),
        ("document",),
        ("api reference",),
        _w("document"),
    ),
    "bugfix": _Class(
        _w(
            "bug bugs buggy broken error errors exception exceptions traceback wrong issue "
            "regression incorrect timeout timeouts"
        ),
        ("fix", "fail", "crash", "hang", "leak", "debug"),
        ("doesn't work", "does not work", "not working"),
        _w("fix debug repair resolve solve patch"),
    ),
    "refactor": _Class(
        _w("tidy cleanup"),
        (
            "refactor",
            "renam",
            "extract",
            "simplif",
            "restructur",
            "reorganiz",
            "deduplicat",
            "modulari",
            "decoupl",
        ),
        ("clean up", "split up", "split into"),
        _w("refactor rename extract clean simplify restructure reorganize move split tidy"),
    ),
    "review": _Class(
        _w("critique"),
        ("review", "audit"),
        ("check my", "feedback on", "look over", "sanity check"),
        _w("review audit critique"),
    ),
    "ops": _Class(
        _w(
            "docker kubernetes k8s helm terraform ci pipeline release bump nginx cron backup "
            "infra infrastructure"
        ),
        ("deploy", "install", "upgrad", "dependenc", "provision", "publish", "container"),
        ("github actions", "env var", "environment variable"),
        _w("deploy install upgrade bump release publish setup configure provision"),
    ),
    "feature": _Class(
        _w(
            "add implement implementing create build introduce support allow enable expose "
            "generate scaffold"
        ),
        ("implement",),
        (
            "new feature",
            "new endpoint",
            "new page",
            "new command",
            "new option",
            "new flag",
            "new field",
            "new column",
            "new api",
            "new route",
            "new screen",
            "new component",
        ),
        _w(
            "add implement create build introduce support make write allow enable generate scaffold"
        ),
    ),
    "explore": _Class(
        _w("explain understand overview summarize summarise investigate"),
        ("explain", "understand"),
        (
            "how does",
            "how do",
            "why does",
            "why is",
            "why do",
            "where is",
            "where are",
            "show me",
            "walk me through",
            "tell me",
            "look at",
            "find out",
        ),
        _w("explain what how why where which who describe summarize summarise tell show walk"),
    ),
}
LEAD_WEIGHT = 2.0
MAX_HITS = 3


def _first_word_index(pairs: list[tuple[str, str]]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Phrases keyed by their first word, so a prompt only tests phrases it could contain."""
    index: dict[str, list[tuple[str, str]]] = {}
    for tag, phrase in pairs:
        first = tx.lower_words(phrase.split()[0])
        for w in first:
            index.setdefault(w, []).append((tag, phrase))
            break
    return {k: tuple(v) for k, v in index.items()}


_INTENT_PHRASES = _first_word_index(
    [(cls, p) for cls, spec in _INTENT.items() for p in spec.phrases]
)
_INTENT_PHRASE_KEYS = frozenset(_INTENT_PHRASES)
_ORDERED_WORD = re.compile(r"[a-z0-9_']+")

_ACTION = _w(
    "add fix implement create write update change remove delete rename refactor explain review "
    "deploy make build migrate convert replace document test investigate optimize optimise "
    "improve extract move split configure upgrade debug find show generate support handle "
    "return describe summarize summarise want need goal"
)
_LIMIT = _w("only just scope single minimal small")
_LIMIT_PHRASES = (
    "without changing",
    "without touching",
    "without modifying",
    "limit to",
    "limited to",
    "don't change",
    "don't touch",
    "do not change",
    "do not touch",
    "as is",
    "alone",
)
_SWEEP = _w("everything entire anything")
_SWEEP_PHRASES = (
    "whole codebase",
    "whole project",
    "whole repo",
    "whole app",
    "whole thing",
    "all files",
    "all the files",
    "all the code",
    "all code",
    "make it better",
    "rewrite everything",
)
_CODE_EXT = tx.word_set(
    """py pyi ts tsx js jsx mjs go rs java kt rb php c h cc cpp hpp cs md rst json yaml yml toml
    ini cfg sql sh css scss html vue svelte swift proto tf lock"""
)
_CONCRETE_RE = re.compile(r"`[^`]+`|\w\(\)|\bline \d+|:\d+\b|[a-z][A-Z]|https?://|\b[1-5]\d\d\b")
_CONTEXT = _w(
    "error errors exception traceback expected actual actually currently because instead "
    "reproduce steps returns return should happens output log logs given raises raise"
)
_CONTEXT_PHRASES = ("stack trace", "so that", "when i")
_VERIFY_GATE = _w(
    "run rerun verify make ensure check confirm add with test tests pytest npm go "
    "cargo passes pass passing"
)
_VERIFY_RE = re.compile(
    r"\b(?:re)?run (?:the |all )?(?:unit |integration )?(?:tests?|test suite|specs?|build|"
    r"checks?|linter|type ?check\w*)\b|\bverify\b|\bmake sure\b|\bensure (?:that|it|the)\b|"
    r"\bcheck (?:that|it|whether)\b|\bconfirm (?:that|it)\b|\badd (?:a |some )?tests?\b|"
    r"\bwith (?:a )?tests?\b|\btests? (?:pass|passes|passing|still pass)\b|\bpytest\b|"
    r"\bnpm test\b|\bgo test\b|\bcargo test\b|\btest it\b"
)
_ROOT_GATE = _w(
    "root why underlying investigate investigating investigation diagnose diagnosis "
    "figure understand instead real bottom causes cause"
)
_ROOT_RE = re.compile(
    r"\broot cause\b|\bwhy (?:does|is|did|do|are)\b|\bunderlying\b|\binvestigat\w*|"
    r"\bdiagnos\w*|\bfigure out\b|\bunderstand (?:why|what|how)\b|\binstead of "
    r"(?:patching|a workaround|hacking|papering)|\breal (?:cause|problem|issue)\b|"
    r"\bget to the bottom\b|\bwhat causes\b"
)
_PLAN_GATE = _w("plan outline propose design approach step before don first think strategy options")
_PLAN_RE = re.compile(
    r"\bplan\b|\boutline\b|\bpropose\b|\bdesign\b|\bapproach\b|\bstep[- ]by[- ]step\b|"
    r"\bbefore (?:you )?(?:code|coding|implement\w*|writing|changing|making)\b|"
    r"\bdon'?t (?:write|change|code|implement|edit) (?:any )?(?:code|anything)? ?yet\b|"
    r"\bfirst,? (?:think|explain|list|describe|read|look)\b|\bthink (?:it )?through\b|"
    r"\bstrategy\b|\boptions\b"
)


CODE_INTENTS = frozenset({"feature", "bugfix", "refactor", "test"})
PLAN_INTENTS = frozenset({"feature", "refactor"})


def applicability(intent: str) -> dict[str, bool]:
    """Which booleans count for an intent; the first four always do."""
    return {
        "goal_explicit": True,
        "scope_bounded": True,
        "references_concrete": True,
        "context_sufficient": True,
        "verification_requested": intent in CODE_INTENTS,
        "root_cause_oriented": intent == "bugfix",
        "plan_first": intent in PLAN_INTENTS,
    }


def _lead(low: str) -> tuple[str, list[str]]:
    words = _ORDERED_WORD.findall(low, 0, 120)
    i = 0
    while i < len(words) and words[i] in _POLITE_WORDS:
        i += 1
    return (words[i] if i < len(words) else ""), words[i + 1 : i + 4]


_WORD_CLASSES: dict[str, tuple[str, ...]] = {}


def _word_classes(w: str) -> tuple[str, ...]:
    # Vocabulary repeats across prompts: classify each distinct word once.
    hit = _WORD_CLASSES.get(w)
    if hit is None:
        hit = tuple(
            cls
            for cls, spec in _INTENT.items()
            if w in spec.words or (spec.prefixes and w.startswith(spec.prefixes))
        )
        if len(_WORD_CLASSES) > 50_000:
            _WORD_CLASSES.clear()
        _WORD_CLASSES[w] = hit
    return hit


def intent_scores(text: str) -> dict[str, float]:
    """Keyword hits per class (capped), plus a bonus for the class of the leading verb."""
    low = text.lower()
    lead, after = _lead(low)
    lead_class: str | None = None
    if lead in ("write", "add", "create") and any(w.startswith("test") for w in after):
        lead_class = "test"
    elif lead in ("write", "update") and any(
        w in ("docs", "readme", "documentation") for w in after
    ):
        lead_class = "docs"
    hits: dict[str, float] = {}
    words = tx.lower_words(text)
    for w in words:
        for cls in _word_classes(w):
            hits[cls] = hits.get(cls, 0.0) + 1.0
    for w in words & _INTENT_PHRASE_KEYS:
        for cls, p in _INTENT_PHRASES[w]:
            if p in low:
                hits[cls] = hits.get(cls, 0.0) + 1.0
    scores: dict[str, float] = {}
    for cls, spec in _INTENT.items():
        n = hits.get(cls, 0.0)
        if n > MAX_HITS:
            n = float(MAX_HITS)
        if lead_class is None and lead in spec.leads:
            lead_class = cls
        if lead_class == cls:
            n += LEAD_WEIGHT
        if n:
            scores[cls] = n
    if low.rstrip().endswith("?"):
        scores["explore"] = scores.get("explore", 0.0) + 1.0
    return scores


def classify(scores: Mapping[str, float]) -> tuple[str, float]:
    """Best class and a confidence that grows with its share and its absolute evidence."""
    if not scores:
        return "unclear", 0.2
    total = sum(scores.values())
    order = {c: i for i, c in enumerate(INTENT_CLASSES)}
    best = min(scores, key=lambda c: (-scores[c], order[c]))
    top = scores[best]
    conf = 0.3 + 0.6 * (top / total) * min(1.0, top / LEAD_WEIGHT)
    return best, round(min(0.95, conf), 3)


_CONCRETE_BIT, _CONTEXT_BIT = 1, 2
_WORD_BITS: dict[str, int] = {}


def _word_bits(w: str) -> int:
    bits = _WORD_BITS.get(w)
    if bits is None:
        core = w.strip("_")
        bits = 0
        if "/" in w or "_" in core or ("." in w and w.rsplit(".", 1)[1] in _CODE_EXT):
            bits |= _CONCRETE_BIT
        if w in _CONTEXT or w.endswith(("error", "exception")):
            bits |= _CONTEXT_BIT
        if len(_WORD_BITS) > 50_000:
            _WORD_BITS.clear()
        _WORD_BITS[w] = bits
    return bits


_BOOL_PHRASES = _first_word_index(
    [("sweep", p) for p in _SWEEP_PHRASES]
    + [("limit", p) for p in _LIMIT_PHRASES]
    + [("context", p) for p in _CONTEXT_PHRASES]
)
_BOOL_PHRASE_KEYS = frozenset(_BOOL_PHRASES)


def booleans(text: str) -> dict[str, bool]:
    """The seven rubric booleans of one prompt."""
    low = text.lower()
    words = tx.lower_words(text)
    bits = 0
    for w in words:
        bits |= _word_bits(w)
    found: set[str] = set()
    for w in words & _BOOL_PHRASE_KEYS:
        for tag, p in _BOOL_PHRASES[w]:
            if p in low:
                found.add(tag)
    concrete = bool(bits & _CONCRETE_BIT) or _CONCRETE_RE.search(text) is not None
    context = bool(bits & _CONTEXT_BIT) or "context" in found
    sweeping = bool(words & _SWEEP) or "sweep" in found
    limited = bool(words & _LIMIT) or "limit" in found
    return {
        "goal_explicit": bool(words & _ACTION) and len(text.split()) >= 4,
        "scope_bounded": (concrete or limited) and not sweeping,
        "references_concrete": concrete,
        "context_sufficient": len(text) >= 160
        or (len(text) >= 50 and context)
        or text.count("\n") >= 2,
        "verification_requested": bool(words & _VERIFY_GATE) and _VERIFY_RE.search(low) is not None,
        "root_cause_oriented": bool(words & _ROOT_GATE) and _ROOT_RE.search(low) is not None,
        "plan_first": bool(words & _PLAN_GATE) and _PLAN_RE.search(low) is not None,
    }


def grade(values: Mapping[str, bool], applies: Mapping[str, bool]) -> float | None:
    """Applicable booleans that hold / applicable booleans."""
    n = hold = 0
    for k in RUBRIC_BOOLEANS:
        if applies.get(k):
            n += 1
            if values.get(k):
                hold += 1
    return hold / n if n else None


def intent_from_tools(sig: ArcSignals) -> tuple[str, float]:
    """Intent when no prompt carries text: only where the tool trail is telling."""
    if sig.edits:
        files = sig.edit_files
        if files and all(is_test_path(f) for f in files):
            return "test", 0.7
        if files and all(is_doc_path(f) for f in files):
            return "docs", 0.7
        if sig.fail_then_pass:
            return "bugfix", 0.6
        writes, edits = sig.tool_counts.get("Write", 0), sig.tool_counts.get("Edit", 0)
        if writes > edits:
            return "feature", 0.55
        return "unclear", 0.3
    if sig.ops_commands:
        return "ops", 0.6
    if sig.read_only:
        return "explore", 0.6
    return "unclear", 0.2


def _skipped(p_id: str | None, time: Any) -> PromptRubric:
    return PromptRubric(
        p_id,
        time,
        dict.fromkeys(RUBRIC_BOOLEANS, False),
        "unclear",
        0.0,
        None,
        None,
        "skipped_no_text",
    )


def assess(arc: Arc, sig: ArcSignals, config: ScoringConfig) -> Rubric:
    """Per-prompt rubric and the arc's roll-up (booleans OR-ed over its goal prompts).

    Goal prompts are those with text that do more than approve or ask to go on; the first goal
    prompt counts double for the arc's intent.
    """
    prompts = arc.prompts
    with_text = [i for i, p in enumerate(prompts) if p.text]
    if not with_text:
        intent, conf = ("unclear", 0.2)
        if config.infer_intent_without_text:
            intent, conf = intent_from_tools(sig)
        return Rubric(
            booleans=dict.fromkeys(RUBRIC_BOOLEANS, False),
            applicability=applicability(intent),
            intent_class=intent,
            confidence=conf,
            grade=None,
            letter_grade=None,
            judge_status="skipped_no_text",
            prompts=tuple(_skipped(p.prompt_id, p.time) for p in prompts),
            intent_source="tools" if intent != "unclear" else "none",
        )
    goal = [i for i in with_text if not sig.continuation[i]] or with_text
    goal_set = set(goal)
    total: dict[str, float] = {}
    per_prompt: dict[int, tuple[dict[str, bool], str, float]] = {}
    for i in with_text:
        text = prompts[i].text or ""
        sc = intent_scores(text)
        per_prompt[i] = (booleans(text), *classify(sc))
        if i in goal_set:
            weight = 2.0 if i == goal[0] else 1.0
            for cls, v in sc.items():
                total[cls] = total.get(cls, 0.0) + weight * v
    intent, conf = classify(total)
    applies = applicability(intent)
    rolled = dict.fromkeys(RUBRIC_BOOLEANS, False)
    for i in goal:
        for k, v in per_prompt[i][0].items():
            if v:
                rolled[k] = True
    arc_grade = grade(rolled, applies)
    rows: list[PromptRubric] = []
    for i, p in enumerate(prompts):
        if i not in per_prompt:
            rows.append(_skipped(p.prompt_id, p.time))
            continue
        b, p_intent, p_conf = per_prompt[i]
        g = grade(b, applies)
        rows.append(
            PromptRubric(
                p.prompt_id, p.time, b, p_intent, p_conf, g, config.prompt_letter(g), "heuristic"
            )
        )
    return Rubric(
        booleans=rolled,
        applicability=applies,
        intent_class=intent,
        confidence=conf,
        grade=arc_grade,
        letter_grade=config.prompt_letter(arc_grade),
        judge_status="heuristic",
        prompts=tuple(rows),
        intent_source="text",
    )
