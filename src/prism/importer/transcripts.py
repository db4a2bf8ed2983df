"""Claude Code transcripts on disk: where they are, and their lines as records, streamed.

Layout (../shared/spec/claude-code-telemetry.md §2.1): `<root>/<project>/<session-id>.jsonl`
for a session; its subagents in `<root>/<project>/<session-id>/subagents/agent-<id>.jsonl`
(compaction runs as `agent-acompact-<hex>.jsonl`, workflow agents one level deeper), and in
2.0.x as `<root>/<project>/agent-<id>.jsonl` beside the sessions. Every `*.jsonl` below a root
is read, as ccusage does.

Reading is strictly line by line from a buffered binary file, so memory does not grow with the
file; every line is accounted for: a record (a JSON object with a `type`), or skipped with a
reason (`corrupt_json` for a malformed or truncated line, `not_an_object`, `missing_type`,
`blank`). Record types this module does not know are records too: the mapper counts them as
`unknown_type` and moves on (the format is internal to Claude Code and grows new types).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

# Entry types of the union in Claude Code's transcript writer plus those seen in real files
# (§2.2). Message entries carry the envelope (uuid, timestamp, sessionId, ...).
MESSAGE_TYPES = frozenset({"user", "assistant", "system", "attachment", "progress"})
TITLE_TYPES = frozenset({"ai-title", "custom-title", "summary"})
METADATA_TYPES = frozenset(
    {
        "last-prompt",
        "task-summary",
        "tag",
        "agent-name",
        "agent-color",
        "agent-setting",
        "pr-link",
        "file-history-snapshot",
        "attribution-snapshot",
        "queue-operation",
        "speculation-accept",
        "mode",
        "worktree-state",
        "content-replacement",
        "marble-origami-commit",
        "marble-origami-snapshot",
        "permission-mode",
        "atis-latch",
        "cost-state",
        "turn_end",
    }
)
KNOWN_TYPES = MESSAGE_TYPES | TITLE_TYPES | METADATA_TYPES

READ_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class TranscriptFile:
    """One `.jsonl` file and what its path says about it."""

    path: Path
    rel: str  # relative to its root, "/"-separated: the file's stable name
    project: str  # the encoded working directory (first path component)
    session_hint: str  # the session id the path implies (lines may say otherwise)
    agent_hint: str | None  # subagent id when the path says it is a subagent transcript
    size: int
    mtime_ns: int

    @property
    def is_subagent(self) -> bool:
        return self.agent_hint is not None


def describe(root: Path, path: Path, size: int = 0, mtime_ns: int = 0) -> TranscriptFile:
    """What the path of a transcript below `root` says about it."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.name
    parts = rel.split("/")
    project = parts[0] if len(parts) > 1 else root.name
    stem = path.stem
    agent: str | None = None
    session = stem
    if stem.startswith("agent-"):
        agent = stem[len("agent-") :]
        # <session>/subagents/[workflows/wf_x/]agent-<id>.jsonl: the session is the folder
        # holding `subagents`; a 2.0.x agent file beside the sessions names none.
        session = parts[parts.index("subagents") - 1] if "subagents" in parts[:-1] else ""
    return TranscriptFile(
        path=path,
        rel=rel,
        project=project,
        session_hint=session,
        agent_hint=agent,
        size=size,
        mtime_ns=mtime_ns,
    )


def default_roots() -> list[Path]:
    """Where Claude Code keeps transcripts: $CLAUDE_CONFIG_DIR(s), ~/.claude, ~/.config/claude."""
    roots: list[Path] = []
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    if env:
        roots += [Path(p).expanduser() / "projects" for p in env.split(",") if p.strip()]
    home = Path.home()
    roots += [home / ".claude" / "projects", home / ".config" / "claude" / "projects"]
    return [r for r in roots if r.is_dir()]


def discover(paths: Iterable[Path]) -> list[TranscriptFile]:
    """Every transcript under `paths` (folders are walked; files are taken as given).

    Order: by project, then session, subagent files before their session's main file (a
    subagent transcript is the complete record of its calls; the main file's `agent_progress`
    copies then only repeat it), so one session's files are always adjacent.
    """
    found: dict[Path, TranscriptFile] = {}
    for raw in paths:
        root = Path(raw).expanduser()
        if root.is_file():
            st = root.stat()
            found.setdefault(
                root.resolve(), describe(root.parent, root, st.st_size, st.st_mtime_ns)
            )
            continue
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in filenames:
                if not name.endswith(".jsonl"):
                    continue
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                except OSError:
                    continue
                found.setdefault(p.resolve(), describe(root, p, st.st_size, st.st_mtime_ns))
    return sorted(
        found.values(),
        key=lambda f: (f.project, f.session_hint, 0 if f.is_subagent else 1, f.rel),
    )


@dataclass
class ReadStats:
    """What reading saw: lines, bytes, records by type, skipped lines by reason."""

    files: int = 0
    lines: int = 0
    bytes: int = 0
    records: int = 0
    types: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def merge(self, other: ReadStats) -> None:
        self.files += other.files
        self.lines += other.lines
        self.bytes += other.bytes
        self.records += other.records
        self.types.update(other.types)
        self.skipped.update(other.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "lines": self.lines,
            "bytes": self.bytes,
            "records": self.records,
            "types": dict(sorted(self.types.items())),
            "skipped": dict(sorted(self.skipped.items())),
        }


# Records that never become events, recognised without decoding them (most of a transcript's
# lines are hook and bash progress): a leading `{"type":"<t>"` (metadata entries), an envelope
# `"type":"progress"` whose data is not an `agent_progress` (which carries a subagent's usage),
# or an envelope `"type":"attachment"` (written after the attachment object). Inside a JSON
# string those bytes would be escaped (`\"type\"`), so nested text cannot fake them. The line
# must still end like a JSON object; a cut line is decoded, and so counted as corrupt.
_SKIP_LEADING = frozenset(
    t.encode() for t in ("file-history-snapshot", "queue-operation", "last-prompt", "cost-state")
)
_LEADING = b'{"type":"'
_PROGRESS = b'"type":"progress"'
_AGENT_PROGRESS = b'"agent_progress"'
_ATTACHMENT = b'"type":"attachment"'
_NAMES = {t: t.decode() for t in (*_SKIP_LEADING, b"progress", b"attachment")}


def _cheap_type(line: bytes) -> bytes | None:
    """The type of a line that needs no decoding, or None."""
    if line.startswith(_LEADING):
        end = line.find(b'"', 9)
        kind = line[9:end]
        if kind in _SKIP_LEADING and line[-4:].rstrip().endswith(b"}"):
            return kind
        return None
    at = line.find(_PROGRESS, 0, 1200)
    if at > 0 and _AGENT_PROGRESS not in line and line[-4:].rstrip().endswith(b"}"):
        return b"progress"
    # An attachment line names its type after the attachment object, near the end.
    if line.find(_ATTACHMENT, max(0, len(line) - 700)) > 0 and line[-4:].rstrip().endswith(b"}"):
        return b"attachment"
    return None


def iter_records(lines: Iterable[bytes], stats: ReadStats) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every line that is a JSON object with a string `type`.

    Lines of types that carry no events (`_cheap_type`) are counted by type, not decoded.
    """
    loads = orjson.loads
    JSONDecodeError = orjson.JSONDecodeError
    types = stats.types
    skipped = stats.skipped
    cheap = _cheap_type
    n = 0
    nbytes = 0
    for n, line in enumerate(lines, 1):
        nbytes += len(line)
        kind_b = cheap(line)
        if kind_b is not None:
            types[_NAMES.get(kind_b) or kind_b.decode()] += 1
            continue
        try:
            obj = loads(line)
        except JSONDecodeError:
            skipped["blank" if not line.strip() else "corrupt_json"] += 1
            continue
        if obj.__class__ is not dict:
            skipped["not_an_object"] += 1
            continue
        kind = obj.get("type")
        if kind.__class__ is not str:
            skipped["missing_type"] += 1
            continue
        types[kind] += 1
        yield n, obj
    stats.lines += n
    stats.bytes += nbytes
    stats.records = sum(types.values())


def open_lines(path: Path) -> IO[bytes]:
    """A buffered binary reader whose iteration yields lines (the file is never read whole)."""
    return open(path, "rb", buffering=READ_BUFFER)
