"""Prompt and command text helpers: normalization, cue lists, lexical similarity.

All patterns are compiled once at import: the judge runs them on every prompt of every arc and
must stay well above 2,000 arcs per second. Cues are English only, like the spec's examples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
_MEMO_MAX_ITEMS = 8192
_MEMO_MAX_LEN = 600


def _memo(fn: Callable[[str | None], T]) -> Callable[[str | None], T]:
    """Remember answers for short texts: the sessionizer and each judge step ask about the
    same prompt several times. Long texts are computed directly to bound memory."""
    cache: dict[str, T] = {}

    def wrapper(text: str | None) -> T:
        if text is None or len(text) > _MEMO_MAX_LEN:
            return fn(text)
        try:
            return cache[text]
        except KeyError:
            if len(cache) >= _MEMO_MAX_ITEMS:
                cache.clear()
            value = cache[text] = fn(text)
            return value

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


_WS = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]+")
_WORD = re.compile(r"[a-z0-9_]+(?:[./-][a-z0-9_]+)*")
_PATH_SPLIT = re.compile(r"[./-]")


def word_set(text: str) -> frozenset[str]:
    """A frozenset of the whitespace-separated words of `text` (keeps cue lists readable)."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """a an the and or but if then than so to of in on at by for with from into onto about as is
    are was were be been being it its this that these those there here i me my we our you your
    he she they them their what which who whom when where why how can could would should will
    shall may might must do does did done doing have has had having not no yes please pls just
    also too very really now then let lets let's ok okay hey hi some any all each every more
    most other such only own same up down out over under again further once make sure get got
    want need like one two use using used thing things stuff way bit lot"""
)


def normalize(text: str) -> str:
    """Lower-case, punctuation removed, whitespace collapsed: "Fix it!!" == "fix it"."""
    return _WS.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()


def _stem(word: str) -> str:
    # A deliberately tiny stemmer: enough to match "tests"/"test", "failing"/"fail".
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@_memo
def content_tokens(text: str | None) -> frozenset[str]:
    """Content words of a text (stop words dropped, light stemming); file paths kept whole."""
    if not text:
        return frozenset()
    out: set[str] = set()
    for tok in _WORD.findall(text.lower()):
        if tok in STOPWORDS or len(tok) < 2 or tok.isdigit():
            continue
        if "." in tok or "/" in tok:
            out.add(tok)
            for part in _PATH_SPLIT.split(tok):
                if len(part) > 2 and part not in STOPWORDS:
                    out.add(_stem(part))
            continue
        out.add(_stem(tok))
    return frozenset(out)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / |A ∪ B|; 0.0 when both are empty."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0


def containment(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of `part` already present in `whole` (1.0 when part is empty)."""
    if not part:
        return 1.0
    return len(part & whole) / len(part)


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient |A ∩ B| / min(|A|, |B|); 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


# --- prompt cues --------------------------------------------------------------------------------
# Each cue is a word gate (a set intersection on the prompt's words, cheap) and a regex run only
# when the gate opens. Patterns match lower-cased text: Python's `re` is several times slower
# with IGNORECASE.


@_memo
def lower_words(text: str | None) -> frozenset[str]:
    """The set of lower-case words of a text (apostrophes split: "doesn't" -> doesn, t)."""
    return frozenset(_WORD.findall(text.lower())) if text else frozenset()


def _cue(gate: frozenset[str], pattern: re.Pattern[str], text: str | None) -> bool:
    if not text or not (lower_words(text) & gate):
        return False
    return pattern.search(text.lower()) is not None


_LEAD_RE = re.compile(
    r"(?:[\W_]*(?:ok(?:ay)?|great|thanks|thank you|cool|nice|perfect|good|alright|right|so)\b)*"
    r"[\W_]*"
)
_NEW_START_RE = re.compile(
    r"next\b(?!\s*\?)|now,? let'?s\b|now,? (?:can|could) you\b|now (?:please )?"
    r"(?:add|fix|implement|write|create|build|make|refactor|update)\b"
)
NEW_TASK_RE = re.compile(
    r"\bnew task\b|\banother (?:thing|task|question)\b|\bswitching to\b|\bswitch(?:ing)? gears\b"
    r"|\bmoving on\b|\blet'?s move on\b|\bunrelated\b|\bdifferent (?:task|topic|question)\b"
)
_NEW_TASK_GATE = word_set(
    """next now new another switching switch moving move unrelated different"""
)

APPROVAL_RE = re.compile(
    r"\b(?:thanks?|thank you|thx|ty|great|perfect|works|worked|working now|lgtm|looks good|"
    r"ship it|awesome|nice|excellent|that did it|all good|well done|good job|fantastic|"
    r"brilliant|amazing|solved|fixed it|exactly)\b"
)
_APPROVAL_GATE = word_set(
    """thanks thank thx ty great perfect works worked working lgtm looks ship awesome nice
    excellent did all well good fantastic brilliant amazing solved fixed exactly"""
)
_APPROVAL_EMOJI = ("👍", "🎉", "✅")

CONTINUE_WORDS = word_set(
    """ok okay yes yep yeah yup sure continue go on ahead proceed keep going do it sounds good
    please carry resume approve approved confirm confirmed y k right correct agree agreed thanks
    thank you thx ty great perfect works work worked working lgtm looks look ship awesome nice
    cool excellent fine alright got makes sense that all well done job for and now so much very
    lets let let's s exactly brilliant amazing fantastic good job solved fixed"""
)

FRUSTRATION_RE = re.compile(
    r"\bstill (?:broken|failing|fails|not|doesn'?t|does not|wrong|the same|getting|erroring|"
    r"crash\w*|an? \w+ error)|\b(?:doesn'?t|does not|didn'?t|did not|isn'?t|is not|won'?t) "
    r"(?:work|help|fix|compile|run|pass|build)\w*|\bnot working\b|\bwrong\b|\brevert\b|\bundo\b|"
    r"\broll ?back\b|\bsame (?:error|problem|issue)\b|\bnope\b|\bugh+\b|\bwtf\b|\bbroke\b|"
    r"\bgive up\b|\bforget it\b|\buseless\b|\bnot what i (?:asked|wanted)\b|"
    r"\bmade it worse\b|\bstill\b.*\b(?:fail\w*|error|broken|crash\w*)"
)
_FRUSTRATION_GATE = word_set(
    """still doesn does didn did isn is won not wrong revert undo roll rollback same nope ugh ughh
    ughhh wtf broke give forget useless made"""
)

FIX_CUE_RE = re.compile(
    r"\bagain\b|\bstill\b|\bregress\w*|\bdidn'?t work\b|\bdid not work\b|\bbroke\b|"
    r"\bre-?(?:fix|open)\w*|\bcame back\b|\bis back\b"
)
_FIX_GATE = word_set(
    """again still regression regressed regressions regress didn did broke refix refixed re reopen
    reopened came back"""
)

CORRECTION_RE = re.compile(
    r"^\W*(?:no|nope|wait|actually|hmm+|stop)\b|\binstead\b|\bthat'?s not\b|\bnot what\b|"
    r"\byou (?:missed|forgot|broke)\b|\bshould(?:n'?t| not)? have\b|\bplease don'?t\b"
)
_CORRECTION_GATE = word_set(
    """no nope wait actually hmm hmmm stop instead that not you should shouldn please"""
)

FOLLOW_UP_RE = re.compile(
    r"(?:also|and|additionally|plus|but|however|btw|oh|then|one more thing|what about|how about|"
    r"(?:can|could|would) you (?:also|now)|make sure|don'?t forget|same for|do the same|"
    r"commit|push|open a pr|create a pr|raise a pr|ship|merge|run the tests|run tests|test it|"
    r"try again|retry|revert|undo|instead|actually|wait|no\b)\b"
)
_FOLLOW_UP_GATE = word_set(
    """also and additionally plus but however btw oh then one what how can could would make don
    same do commit push open create raise ship merge run test try retry revert undo instead
    actually wait no"""
)

INTERRUPT_RE = re.compile(r"interrupted by user|\binterrupt")
CLEAR_RE = re.compile(r"^\s*/(?:clear|new|reset)\b")


@_memo
def has_new_task_cue(text: str | None) -> bool:
    """Says a new task begins: "next, ...", "now let's ...", "new task", "switching to"..."""
    if not text or not (lower_words(text) & _NEW_TASK_GATE):
        return False
    low = text.lower()
    lead = _LEAD_RE.match(low)
    if _NEW_START_RE.match(low, lead.end() if lead else 0):
        return True
    return NEW_TASK_RE.search(low) is not None


@_memo
def is_follow_up(text: str | None) -> bool:
    """Opens like a follow-up on the current work ("also ...", "commit it", "what about ..."):
    such a prompt continues the arc even when its words are new."""
    if not text or not (lower_words(text) & _FOLLOW_UP_GATE):
        return False
    low = text.lower()
    lead = _LEAD_RE.match(low)
    return FOLLOW_UP_RE.match(low, lead.end() if lead else 0) is not None


@_memo
def is_approval(text: str | None) -> bool:
    """An approving prompt ("thanks, that works", "lgtm") with no complaint in it."""
    if not text:
        return False
    if not _cue(_APPROVAL_GATE, APPROVAL_RE, text) and not any(e in text for e in _APPROVAL_EMOJI):
        return False
    return not has_frustration(text) and not text.rstrip().endswith("?")


@_memo
def is_continuation(text: str | None) -> bool:
    """Only approves, thanks, confirms or asks to go on: such prompts never start an arc."""
    if not text or len(text) > 80:
        return False
    rest = [w for w in lower_words(text) if w not in CONTINUE_WORDS and w not in STOPWORDS]
    if len(rest) > 1:
        return False
    return not has_new_task_cue(text) and not has_frustration(text)


@_memo
def has_frustration(text: str | None) -> bool:
    """Negation or frustration: "still broken", "doesn't work", "wrong", "revert", "undo"."""
    return _cue(_FRUSTRATION_GATE, FRUSTRATION_RE, text)


@_memo
def has_fix_cue(text: str | None) -> bool:
    """A rework cue: "again", "still", "regression", "didn't work", "broke"."""
    return _cue(_FIX_GATE, FIX_CUE_RE, text)


@_memo
def has_correction(text: str | None) -> bool:
    """A prompt that corrects the agent (used by v2.1 first-try completion)."""
    if not text or is_continuation(text):
        return False
    return _cue(_CORRECTION_GATE, CORRECTION_RE, text) or has_frustration(text)


def is_clear_command(text: str | None) -> bool:
    return bool(text) and CLEAR_RE.match((text or "").lower()) is not None


def is_interrupt(text: str | None) -> bool:
    return bool(text) and INTERRUPT_RE.search((text or "").lower()) is not None


# --- tool commands ------------------------------------------------------------------------------
# Shell commands are cut into simple commands (at && || ; | and newlines) and each is read by its
# program name and first argument: exact, and far cheaper than one big regex.

_SEGMENT_RE = re.compile(r"&&|\|\||[;|\n()]")
_WRAPPERS = frozenset({"time", "sudo", "env", "exec", "command", "nice", "timeout", "xvfb-run"})
_RUNNERS = {
    "uv": "run", "poetry": "run", "pipenv": "run", "hatch": "run", "pdm": "run", "rye": "run",
    "bundle": "exec", "pnpm": "exec", "yarn": "dlx",
}  # fmt: skip
_VERIFY_PROGRAMS = word_set(
    """pytest py.test tox nox jest vitest mocha ava karma tsc mypy pyright eslint rspec phpunit
    ctest make unittest nosetests behave"""
)
_VERIFY_PAIRS = {
    "npm": frozenset({"test", "t", "build", "lint", "typecheck", "check", "ci", "run"}),
    "pnpm": frozenset({"test", "build", "lint", "typecheck", "check", "run"}),
    "yarn": frozenset({"test", "build", "lint", "typecheck", "check", "run"}),
    "bun": frozenset({"test", "build", "run"}),
    "go": frozenset({"test", "build", "vet"}),
    "cargo": frozenset({"test", "build", "check", "clippy", "nextest"}),
    "mvn": frozenset({"test", "verify", "package", "install"}),
    "mvnw": frozenset({"test", "verify", "package", "install"}),
    "gradle": frozenset({"test", "build", "check"}),
    "gradlew": frozenset({"test", "build", "check"}),
    "dotnet": frozenset({"test", "build"}),
    "bazel": frozenset({"test", "build"}),
    "swift": frozenset({"test", "build"}),
    "mix": frozenset({"test"}),
    "deno": frozenset({"test", "check"}),
    "just": frozenset({"test", "check", "lint"}),
    "ruff": frozenset({"check"}),
    "pre-commit": frozenset({"run"}),
    "playwright": frozenset({"test"}),
    "cypress": frozenset({"run"}),
    "python": frozenset({"-m"}),
}
_RUN_SCRIPTS = ("test", "build", "lint", "typecheck", "type-check", "check", "ci")
_PY_MODULES = frozenset({"pytest", "unittest", "mypy", "tox", "nox", "pyright"})
_OPS_PROGRAMS = word_set(
    """docker docker-compose podman kubectl helm terraform tofu ansible ansible-playbook systemctl
    gcloud aws az fly flyctl heroku vercel netlify pulumi"""
)


def _words(segment: str) -> list[str]:
    words = segment.split()
    while words and (("=" in words[0] and not words[0].startswith("-")) or words[0] in _WRAPPERS):
        words.pop(0)
    if len(words) >= 2 and _RUNNERS.get(words[0].rsplit("/", 1)[-1]) == words[1]:
        words = words[2:]
    elif words and words[0] in ("npx", "bunx", "pnpx"):
        words = words[1:]
    if words:
        words[0] = words[0].rsplit("/", 1)[-1]
        if words[0].startswith("python"):
            words[0] = "python"
    return words


def _is_verify(w: list[str]) -> bool:
    prog = w[0]
    if prog in _VERIFY_PROGRAMS:
        return True
    nxt = w[1] if len(w) > 1 else ""
    allowed = _VERIFY_PAIRS.get(prog)
    if not allowed or nxt not in allowed:
        return False
    if prog == "python":
        return len(w) > 2 and w[2] in _PY_MODULES
    if nxt == "run" and prog in ("npm", "pnpm", "yarn", "bun"):
        return len(w) > 2 and w[2].startswith(_RUN_SCRIPTS)
    return True


_KIND_CACHE: dict[str, frozenset[str]] = {}


def command_kinds(command: str) -> frozenset[str]:
    """What a shell command does, among {"verify", "commit", "pr", "ops"}.

    `verify` = a test, build, lint or type-check run (pytest, npm test, go test, cargo test,
    make, tsc, ...); `commit` = git commit; `pr` = gh pr create and friends; `ops` = deployment
    and infrastructure tools.
    """
    cached = _KIND_CACHE.get(command)
    if cached is not None:
        return cached
    kinds: set[str] = set()
    for segment in _SEGMENT_RE.split(command):
        w = _words(segment)
        if not w:
            continue
        prog = w[0]
        if _is_verify(w):
            kinds.add("verify")
        if prog == "git":
            rest = [x for x in w[1:4] if not x.startswith("-")]
            if "commit" in rest:
                kinds.add("commit")
            if "push" in rest:
                kinds.add("ops")
        elif (prog == "gh" and w[1:3] == ["pr", "create"]) or (
            prog == "glab" and w[1:3] == ["mr", "create"]
        ):
            kinds.add("pr")
        elif prog in _OPS_PROGRAMS or (
            prog in ("npm", "twine") and w[1:2] in (["publish"], ["upload"])
        ):
            kinds.add("ops")
    out = frozenset(kinds)
    if len(command) <= _MEMO_MAX_LEN:
        if len(_KIND_CACHE) >= _MEMO_MAX_ITEMS:
            _KIND_CACHE.clear()
        _KIND_CACHE[command] = out
    return out


def mentions_pull_request(raw: str | None) -> bool:
    """An MCP call that creates a pull request (its tool name or parameters say so)."""
    low = (raw or "").lower()
    return "create_pull_request" in low or "pull_request_create" in low or "create_pr" in low


_FILE_PATH_RE = re.compile(r'"(?:file_path|notebook_path|path)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def parse_json_object(raw: str | None) -> dict[str, object]:
    """A JSON object from a tool parameter string; {} when absent, truncated or not an object."""
    if not raw or raw[0] != "{":
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def bash_command(tool_parameters: str | None, tool_input: str | None) -> str:
    """The shell command of a Bash call, from whichever of the two attributes carries it.

    `full_command` (tool_parameters) or `command` (tool_input) hold the whole line;
    `bash_command` is only the program name, the last resort.
    """
    params = parse_json_object(tool_parameters)
    value = params.get("full_command") or params.get("command")
    if isinstance(value, str) and value:
        return value
    value = parse_json_object(tool_input).get("command") or params.get("bash_command")
    return value if isinstance(value, str) else ""


def edited_path(tool_parameters: str | None, tool_input: str | None) -> str | None:
    """The file an Edit/Write/MultiEdit/NotebookEdit call touched, if it says."""
    for raw in (tool_input, tool_parameters):
        if not raw:
            continue
        obj = parse_json_object(raw)
        for key in ("file_path", "notebook_path", "path"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                return value
        # tool_input is capped at ~4K chars, so the JSON may be cut: fall back to a regex.
        m = _FILE_PATH_RE.search(raw)
        if m:
            return m.group(1)
    return None
