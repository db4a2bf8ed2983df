"""Sessionizing: one developer's events -> sessions -> goal arcs (the scored unit).

Boundaries follow spec/scoring.md: an idle gap, a new-task cue or a change of subject once the
arc already shows a completion signal, or `/clear`. Events tied to a prompt (`prompt_id`) stay
with that prompt's arc even when a subagent reports a little later, and arcs of one session
never overlap. The result is a pure function of its input: same events, same arcs, same ids.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from os.path import basename
from typing import Any

from prism.score.thresholds import DEFAULT_CONFIG, ScoringConfig
from prism.sessions import text as tx
from prism.sessions.model import EventRow, MetricSignal, as_events

ARC_NAMESPACE = uuid.UUID("6f1c1d2e-5b0a-4c9e-9a53-3d1b2f7e8a40")

# Events that mean someone (the developer or the agent) was working. Other events (hooks,
# plugin loads, MCP connections) are carried along but never move an arc's bounds.
ACTIVITY_EVENTS = frozenset(
    {
        "user_prompt",
        "api_request",
        "assistant_response",
        "tool_decision",
        "tool_result",
        "api_error",
        "api_refusal",
        "api_retries_exhausted",
        "compaction",
        "subagent_completed",
    }
)
EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
TITLE_SOURCE = "generate_session_title"

START_SESSION = "session_start"
START_GAP = "idle_gap"
START_NEW_TASK = "new_task_cue"
START_LOW_SIMILARITY = "low_similarity"
START_CLEAR = "clear"
START_NO_PROMPT = "no_prompt"
MOVING_ON_REASONS = frozenset({START_NEW_TASK, START_LOW_SIMILARITY})
_DONE_KINDS = frozenset({"commit", "pr"})


@dataclass(frozen=True, slots=True)
class Prompt:
    """One user prompt of an arc; `text` is None when the prompt was not logged."""

    prompt_id: str | None
    time: datetime
    text: str | None
    length: int | None
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Arc:
    """A goal arc: consecutive prompts of one session that pursue one goal.

    `started_at`/`ended_at` bound the arc's activity (first prompt or activity, last activity);
    `events` may also carry non-activity events (hooks, MCP connections) seen around it.
    """

    id: str
    developer_id: str
    session_id: str
    index: int
    started_at: datetime
    ended_at: datetime
    prompts: tuple[Prompt, ...]
    events: tuple[EventRow, ...]
    metric_signals: tuple[MetricSignal, ...] = ()
    start_reason: str = START_SESSION
    next_start_reason: str | None = None
    next_first_prompt: str | None = None
    title: str = ""
    title_source: str = "heuristic"
    session_title: str | None = None
    gap_seconds: int = DEFAULT_CONFIG.arc_gap_seconds

    def is_closed(self, now: datetime) -> bool:
        """Closed (scorable) once `arc_gap` of silence followed it, or a later arc began."""
        if self.next_start_reason is not None:
            return True
        return (now - self.ended_at).total_seconds() >= self.gap_seconds

    @property
    def duration_seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def has_text(self) -> bool:
        return any(p.text for p in self.prompts)

    @property
    def first_text(self) -> str | None:
        return next((p.text for p in self.prompts if p.text), None)


@dataclass
class _Unit:
    """A prompt plus every event carrying its prompt_id."""

    prompt: EventRow
    events: list[EventRow]
    start: datetime
    end: datetime


@dataclass
class _Builder:
    start_reason: str
    units: list[_Unit] = field(default_factory=list)
    loose: list[EventRow] = field(default_factory=list)
    end: datetime | None = None
    tokens: set[str] = field(default_factory=set)
    committed: bool = False
    approved: bool = False
    edit_pending: bool = False
    verified: bool = False

    @property
    def completion_seen(self) -> bool:
        return self.committed or self.approved or (self.verified and not self.edit_pending)

    def _touch(self, t: datetime) -> None:
        if self.end is None or t > self.end:
            self.end = t

    def _observe(self, ev: EventRow) -> None:
        if ev.event_name != "tool_result":
            return
        name = ev.tool_name or ""
        if name in EDIT_TOOLS:
            self.edit_pending = True
            path = tx.edited_path(ev.tool_parameters, ev.tool_input)
            if path:
                self.tokens |= tx.content_tokens(basename(path))
        elif name == "Bash":
            kinds = tx.command_kinds(tx.bash_command(ev.tool_parameters, ev.tool_input))
            ok = ev.success is not False
            if ok and (kinds & _DONE_KINDS or "git_commit_id" in (ev.tool_parameters or "")):
                self.committed = True
            if "verify" in kinds:
                self.verified = ok
                if ok:
                    self.edit_pending = False
        elif ev.success is not False and tx.mentions_pull_request(
            f"{name} {ev.tool_parameters or ''}"
        ):
            self.committed = True

    def add_unit(self, unit: _Unit, text: str | None, *, counts_as_prompt: bool) -> None:
        self.units.append(unit)
        for ev in unit.events:
            if ev.event_name in ACTIVITY_EVENTS:
                self._touch(ev.time)
            self._observe(ev)
        if text and counts_as_prompt:
            if len(self.units) > 1 and tx.is_approval(text):
                self.approved = True
            if not tx.is_continuation(text):
                self.tokens |= tx.content_tokens(text)

    def add_loose(self, ev: EventRow) -> None:
        self.loose.append(ev)
        if ev.event_name in ACTIVITY_EVENTS:
            self._touch(ev.time)
        self._observe(ev)


def _event_key(e: EventRow) -> tuple[Any, ...]:
    seq = e.event_sequence
    return (
        e.time,
        seq if seq is not None else -1,
        e.event_name,
        e.prompt_id or "",
        e.tool_use_id or "",
        e.request_id or "",
    )


def _cluster(events: list[EventRow], gap: float) -> list[list[EventRow]]:
    out: list[list[EventRow]] = []
    for ev in events:
        if out and (ev.time - out[-1][-1].time).total_seconds() <= gap:
            out[-1].append(ev)
        else:
            out.append([ev])
    return out


def _agent_title(events: Iterable[EventRow]) -> str | None:
    title = None
    for ev in events:
        if ev.event_name == "assistant_response" and ev.query_source == TITLE_SOURCE:
            obj = tx.parse_json_object((ev.response or "").strip())
            value = obj.get("title")
            if isinstance(value, str) and value.strip():
                title = value.strip()
    return title


_POLITE_PREFIXES = (
    "please ",
    "can you ",
    "could you ",
    "would you ",
    "hey ",
    "hi ",
    "claude, ",
    "claude ",
    "i want you to ",
    "i need you to ",
    "i'd like you to ",
    "now let's ",
    "now lets ",
    "let's ",
    "next, ",
    "next ",
    "ok, ",
    "ok ",
    "okay, ",
    "great, ",
    "thanks, ",
    "now ",
)


def heuristic_title(prompts: Sequence[Prompt], events: Sequence[EventRow]) -> str:
    """A short title from the first prompt, or from the tools used when prompts have no text."""
    first = next((p.text for p in prompts if p.text and not tx.is_clear_command(p.text)), None)
    if first:
        line = first.strip().splitlines()[0].strip()
        low = line.lower()
        changed = True
        while changed:
            changed = False
            for prefix in _POLITE_PREFIXES:
                if low.startswith(prefix):
                    line, low, changed = line[len(prefix) :], low[len(prefix) :], True
        for stop in (". ", "? ", "! ", "; "):
            cut = line.find(stop)
            if 0 < cut < 80:
                line = line[: cut + (1 if stop[0] == "?" else 0)]
        line = line.strip().rstrip(".:,")
        if len(line) > 60:
            line = line[:60].rsplit(" ", 1)[0] + "…"
        if line:
            return line[0].upper() + line[1:]
    files = sorted(
        {
            basename(p)
            for e in events
            if e.event_name == "tool_result" and (e.tool_name or "") in EDIT_TOOLS
            for p in [tx.edited_path(e.tool_parameters, e.tool_input)]
            if p
        }
    )
    if files:
        return "Edit " + ", ".join(files[:3]) + (" and more" if len(files) > 3 else "")
    tools = Counter(e.tool_name for e in events if e.event_name == "tool_result" and e.tool_name)
    if tools:
        return "Session using " + ", ".join(t for t, _ in tools.most_common(3))
    return "Untitled session" if not prompts else f"{len(prompts)} prompt(s) without text"


def heuristic_summary(
    arc: Arc,
    outcome: str | None = None,
    reason: str | None = None,
    tool_counts: Mapping[str, int] | None = None,
) -> str:
    """What was asked, which tools ran, and (when judged) how it ended."""
    parts: list[str] = []
    first = arc.first_text
    if first:
        asked = " ".join(first.split())
        if len(asked) > 120:
            asked = asked[:120].rsplit(" ", 1)[0] + "…"
        parts.append(f"Asked: {asked}")
    else:
        parts.append(f"{len(arc.prompts)} prompt(s), text not logged")
    tools = tool_counts
    if tools is None:
        tools = Counter(
            e.tool_name for e in arc.events if e.event_name == "tool_result" and e.tool_name
        )
    if tools:
        parts.append("Tools: " + ", ".join(f"{t}×{n}" for t, n in sorted(tools.items())))
    else:
        parts.append("No tools used")
    if outcome:
        parts.append(f"Outcome: {outcome}" + (f" ({reason})" if reason else ""))
    return " ".join(p if p.endswith((".", "?", "!", "…")) else p + "." for p in parts)


def _arc_id(developer_id: str, session_id: str, anchor: str) -> str:
    return str(uuid.uuid5(ARC_NAMESPACE, f"{developer_id}|{session_id}|{anchor}"))


def _finish(
    b: _Builder, developer_id: str, session_id: str, index: int, cfg: ScoringConfig
) -> dict[str, Any]:
    events: list[EventRow] = list(b.loose)
    prompts: list[Prompt] = []
    for u in b.units:
        events.extend(u.events)
        p = u.prompt
        if tx.is_clear_command(p.text) or (p.attributes.get("command_name") or "").lstrip("/") in (
            "clear",
        ):
            continue
        prompts.append(Prompt(p.prompt_id, p.time, p.text, p.prompt_length, p.event_sequence))
    events.sort(key=_event_key)
    activity = [e.time for e in events if e.event_name in ACTIVITY_EVENTS] or [
        e.time for e in events
    ]
    if prompts and prompts[0].prompt_id:
        anchor = prompts[0].prompt_id
    else:
        first = events[0]
        anchor = f"{first.time.isoformat()}|{first.event_sequence}|{first.event_name}"
    agent_title = _agent_title(events)
    return {
        "id": _arc_id(developer_id, session_id, anchor),
        "developer_id": developer_id,
        "session_id": session_id,
        "index": index,
        "started_at": min(activity),
        "ended_at": max(activity),
        "prompts": tuple(prompts),
        "events": tuple(events),
        "start_reason": b.start_reason,
        "title": agent_title or heuristic_title(prompts, events),
        "title_source": "agent" if agent_title else "heuristic",
        "gap_seconds": cfg.arc_gap_seconds,
    }


def _is_activity(ev: EventRow) -> bool:
    return ev.event_name in ACTIVITY_EVENTS


def _session_arcs(
    developer_id: str,
    session_id: str,
    events: list[EventRow],
    signals: Sequence[MetricSignal],
    cfg: ScoringConfig,
) -> list[Arc]:
    events.sort(key=_event_key)
    gap = float(cfg.arc_gap_seconds)
    units: dict[str, _Unit] = {}
    items: list[tuple[tuple[Any, ...], int, _Unit | EventRow]] = []
    for ev in events:
        if ev.event_name == "user_prompt":
            unit = _Unit(ev, [ev], ev.time, ev.time)
            if ev.prompt_id and ev.prompt_id not in units:
                units[ev.prompt_id] = unit
            items.append((_event_key(ev), 0, unit))
    passive: list[EventRow] = []
    for ev in events:
        if ev.event_name == "user_prompt":
            continue
        owner = units.get(ev.prompt_id) if ev.prompt_id else None
        if owner is not None and owner.prompt is not ev:
            owner.events.append(ev)
            if _is_activity(ev):
                owner.start = min(owner.start, ev.time)
                owner.end = max(owner.end, ev.time)
        elif _is_activity(ev):
            items.append((_event_key(ev), 1, ev))
        else:
            passive.append(ev)
    items.sort(key=lambda it: (it[0], it[1]))

    finished: list[_Builder] = []
    current: _Builder | None = None
    pending: list[EventRow] = []
    force_split = False

    def flush_pending(before: datetime | None) -> list[EventRow]:
        """Turn far-away prompt-less activity into its own arcs; return what joins `before`."""
        clusters = _cluster(pending, gap)
        keep: list[EventRow] = []
        if (
            clusters
            and before is not None
            and ((before - clusters[-1][-1].time).total_seconds() <= gap)
        ):
            keep = clusters.pop()
        for c in clusters:
            nb = _Builder(START_NO_PROMPT)
            for ev in c:
                nb.add_loose(ev)
            finished.append(nb)
        pending.clear()
        return keep

    for _, _, item in items:
        if isinstance(item, EventRow):
            if (
                current is not None
                and not pending
                and current.end is not None
                and (item.time - current.end).total_seconds() <= gap
            ):
                current.add_loose(item)
                continue
            pending.append(item)
            continue
        unit = item
        text = unit.prompt.text
        is_clear = tx.is_clear_command(text) or (
            (unit.prompt.attributes.get("command_name") or "").lstrip("/") == "clear"
        )
        reason: str | None = None
        if current is None:
            reason = START_SESSION
        elif is_clear:
            force_split = True
        else:
            end = current.end or unit.start
            can_split = unit.start >= end
            continuation = tx.is_continuation(text)
            if can_split and not continuation:
                if force_split:
                    reason = START_CLEAR
                elif (unit.start - end).total_seconds() > gap:
                    reason = START_GAP
                elif text and (current.completion_seen or tx.is_approval(text)):
                    # "thanks! next, ..." closes the arc by itself.
                    toks = tx.content_tokens(text)
                    if tx.has_new_task_cue(text):
                        reason = START_NEW_TASK
                    elif (
                        len(toks) >= cfg.new_task_min_tokens
                        and not tx.is_follow_up(text)
                        and not tx.has_fix_cue(text)
                        and not tx.has_frustration(text)
                        and tx.containment(toks, frozenset(current.tokens))
                        < cfg.new_task_max_similarity
                    ):
                        reason = START_LOW_SIMILARITY
        if reason is None:
            assert current is not None
            for ev in pending:
                current.add_loose(ev)
            pending.clear()
            current.add_unit(unit, text, counts_as_prompt=not is_clear)
            continue
        if current is not None:
            finished.append(current)
        preamble = flush_pending(unit.start)
        current = _Builder(reason)
        for ev in preamble:
            current.add_loose(ev)
        current.add_unit(unit, text, counts_as_prompt=True)
        force_split = False
    if current is not None:
        finished.append(current)
    flush_pending(None)
    if not finished:
        return []

    # Prompt-less clusters were appended when flushed; restore time order.
    def first_time(b: _Builder) -> datetime:
        times = [u.start for u in b.units] + [e.time for e in b.loose]
        return min(times)

    finished.sort(key=first_time)
    specs = [_finish(b, developer_id, session_id, i, cfg) for i, b in enumerate(finished)]
    _attach_passive(specs, passive)
    _attach_signals(specs, signals)
    session_title = None
    for s in specs:
        if s["title_source"] == "agent":
            session_title = s["title"]
    arcs: list[Arc] = []
    for i, s in enumerate(specs):
        nxt = specs[i + 1] if i + 1 < len(specs) else None
        if nxt is not None:
            s["next_start_reason"] = nxt["start_reason"]
            s["next_first_prompt"] = next((p.text for p in nxt["prompts"] if p.text), None)
        s["session_title"] = session_title
        arcs.append(Arc(**s))
    return arcs


def _owner_index(specs: list[dict[str, Any]], t: datetime) -> int:
    idx = 0
    for i, s in enumerate(specs):
        if s["started_at"] <= t:
            idx = i
        else:
            break
    return idx


def _attach_passive(specs: list[dict[str, Any]], passive: list[EventRow]) -> None:
    if not passive:
        return
    extra: dict[int, list[EventRow]] = {}
    for ev in passive:
        extra.setdefault(_owner_index(specs, ev.time), []).append(ev)
    for i, evs in extra.items():
        specs[i]["events"] = tuple(sorted((*specs[i]["events"], *evs), key=_event_key))


def _attach_signals(specs: list[dict[str, Any]], signals: Sequence[MetricSignal]) -> None:
    extra: dict[int, list[MetricSignal]] = {}
    for sig in sorted(signals, key=lambda s: (s.time, s.name, s.value)):
        extra.setdefault(_owner_index(specs, sig.time), []).append(sig)
    for i, sigs in extra.items():
        specs[i]["metric_signals"] = tuple(sigs)


def build_arcs(
    events: Iterable[EventRow | Mapping[str, Any]],
    metric_signals: Iterable[MetricSignal] = (),
    config: ScoringConfig | None = None,
) -> list[Arc]:
    """Group events by (developer, session) and cut each session into goal arcs.

    Args:
        events: lake `events` rows (EventRow or raw mappings), in any order.
        metric_signals: commit / pull-request counter points; matched to arcs by session and
            time (a signal without a session id cannot be placed and is ignored).
        config: thresholds; defaults to scoring.md's.

    Returns:
        Arcs ordered by start time, then developer, session and position.
    """
    cfg = config or DEFAULT_CONFIG
    by_session: dict[tuple[str, str], list[EventRow]] = {}
    for ev in as_events(events):
        by_session.setdefault((ev.developer_id, ev.session_id), []).append(ev)
    sigs_by_session: dict[str, list[MetricSignal]] = {}
    for sig in metric_signals:
        if sig.session_id:
            sigs_by_session.setdefault(sig.session_id, []).append(sig)
    arcs: list[Arc] = []
    for (dev, sess), evs in sorted(by_session.items()):
        sigs = [
            s
            for s in sigs_by_session.get(sess, ())
            if s.developer_id is None or s.developer_id == dev
        ]
        arcs.extend(_session_arcs(dev, sess, evs, sigs, cfg))
    arcs.sort(key=lambda a: (a.started_at, a.developer_id, a.session_id, a.index))
    return arcs


def arc_window(arc: Arc) -> timedelta:
    """Wall time from first prompt (or activity) to last activity."""
    return arc.ended_at - arc.started_at
