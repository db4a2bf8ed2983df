"""The sessionizer: new lake data -> goal arcs -> verdicts of closed arcs, incrementally.

The lake writer marks a developer dirty (with the earliest event time it wrote) in the same
transaction that journals its files, so no written event is ever missed. Each tick, for every
dirty developer, the sessionizer rebuilds the arcs of the agent sessions that received events
(arcs are deterministic: same events, same ids), refreshes open arcs, judges closed arcs whose
content or judge changed, and clears the mark. Open arcs that fall silent for the arc gap are
picked up by time. Running it again over the same data changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from prism.judge.base import Judge
from prism.judge.base import get as get_judge
from prism.judge.heuristic import judge_arcs
from prism.lake.query import Lake
from prism.score.thresholds import ScoringConfig
from prism.sessions.arcs import Arc, build_arcs
from prism.sessions.model import EventRow, MetricSignal
from prism.store.locks import try_lock
from prism.store.models import SessionizeCursor, SubSession
from prism.store.scores import ScoreStore

log = logging.getLogger(__name__)

SIGNAL_METRICS = ("claude_code.commit.count", "claude_code.pull_request.count")
LOOKBACK = timedelta(days=30)  # how far back a session's events are read when it is rebuilt


def mark_dirty(session: Session, earliest: dict[tuple[str, str], datetime]) -> None:
    """Record (inside the caller's transaction) that these developers got events.

    `earliest` maps (org_id, developer_id) to the earliest event time written.
    """
    now = datetime.now(UTC)
    # Locked, in a fixed order: concurrent lake writers must not overwrite each other's mark.
    for (org_id, dev), t in sorted(earliest.items()):
        row = session.get(SessionizeCursor, dev, with_for_update=True)
        if row is None:
            session.add(
                SessionizeCursor(developer_id=dev, org_id=org_id, dirty_since=t, updated_at=now)
            )
        else:
            current = _utc(row.dirty_since) if row.dirty_since else None
            row.dirty_since = t if current is None or t < current else current
            row.updated_at = now


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def content_hash(arc: Arc) -> str:
    h = hashlib.sha256()
    for e in arc.events:
        h.update(f"{e.time.isoformat()}|{e.event_name}|{e.event_sequence}|{e.prompt_id}".encode())
    for s in arc.metric_signals:
        h.update(f"{s.time.isoformat()}|{s.name}|{s.value}".encode())
    h.update(f"{arc.next_start_reason}|{len(arc.prompts)}".encode())
    return h.hexdigest()


@dataclass
class SessionizerStats:
    runs: int = 0
    developers: int = 0
    arcs_seen: int = 0
    arcs_judged: int = 0
    last_run_at: float = 0.0
    last_duration_s: float = 0.0


class Sessionizer:
    """Worker: sessionize and judge (start/stop from the worker process)."""

    name = "sessionizer"

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        lake: Lake,
        config: ScoringConfig,
        judge: Judge | None = None,
        tick_s: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.lake = lake
        self.scores = ScoreStore(sessions)
        self.config = config
        self.judge = judge or get_judge()
        self.tick_s = tick_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stats = SessionizerStats()
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("sessionizer run failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.tick_s)
            except TimeoutError:
                pass

    # --- one pass ---------------------------------------------------------------------------
    def run_once(self) -> int:
        """Process every dirty developer and every open arc gone silent; return arcs judged."""
        started = time.monotonic()
        now = self.clock()
        work: dict[tuple[str, str], dict[str, Any]] = {}
        with self.sessions() as s:
            for c in s.scalars(
                select(SessionizeCursor).where(SessionizeCursor.dirty_since.is_not(None))
            ):
                work[(c.org_id, c.developer_id)] = {
                    "since": _utc(c.dirty_since) if c.dirty_since else None,
                    "stamp": c.updated_at,
                    "sessions": set(),
                }
        for org, dev, agent_session in self.scores.open_arcs_due(now, self.config.arc_gap_seconds):
            item = work.setdefault((org, dev), {"since": None, "stamp": None, "sessions": set()})
            item["sessions"].add(agent_session)
        judged = 0
        for (org, dev), item in work.items():
            # Scale mode runs many workers: each developer is worked on by one at a time (a
            # PostgreSQL advisory lock held for the duration); the others skip it this tick.
            with try_lock(self.sessions.kw["bind"], f"sessionize:{dev}") as mine:
                if mine:
                    judged += self.process(
                        org, dev, item["since"], item["sessions"], now, item["stamp"]
                    )
        self.stats.runs += 1
        self.stats.developers += len(work)
        self.stats.arcs_judged += judged
        self.stats.last_run_at = time.time()
        self.stats.last_duration_s = time.monotonic() - started
        return judged

    def process(
        self,
        org_id: str,
        developer_id: str,
        since: datetime | None,
        extra_sessions: Iterable[str],
        now: datetime,
        stamp: datetime | None = None,
    ) -> int:
        session_ids = set(extra_sessions)
        if since is not None:
            session_ids |= set(self.lake.session_ids_since(org_id, developer_id, since))
        judged = 0
        if session_ids:
            lookback = (since or now) - LOOKBACK
            rows = self.lake.events_of_sessions(org_id, developer_id, sorted(session_ids), lookback)
            events = [EventRow.from_mapping(r) for r in rows]
            signals = [
                MetricSignal.from_mapping(r)
                for r in self.lake.metric_signals(
                    org_id, developer_id, sorted(session_ids), SIGNAL_METRICS, lookback
                )
            ]
            arcs = build_arcs(events, signals, self.config)
            judged = self._persist(org_id, developer_id, session_ids, arcs, now)
        self._clear(developer_id, stamp)
        return judged

    def _persist(
        self,
        org_id: str,
        developer_id: str,
        session_ids: set[str],
        arcs: list[Arc],
        now: datetime,
        *,
        force: frozenset[str] = frozenset(),
        judge: Judge | None = None,
    ) -> int:
        """Store arcs; judge the closed ones that changed, are new, or are in `force`.

        An unchanged arc keeps its verdict unless the worker's own judge has a newer version;
        a verdict a backfill got from another judge (say an LLM) stays current until the arc's
        content changes.
        """
        judge = judge or self.judge
        existing = self.scores.existing(developer_id, session_ids)
        to_judge: list[Arc] = []
        hashes: dict[str, str] = {}
        for arc in arcs:
            h = content_hash(arc)
            hashes[arc.id] = h
            old = existing.get(arc.id)
            if not arc.is_closed(now):
                continue
            if (
                arc.id not in force
                and old is not None
                and old.status == "scored"
                and old.content_hash == h
                and (old.judge_name != judge.name or old.judge_version == judge.version)
            ):
                continue
            to_judge.append(arc)
        verdicts = []
        if to_judge:
            start = min(a.started_at for a in to_judge) - timedelta(
                days=self.config.rework_window_days
            )
            end = max(a.ended_at for a in to_judge) + timedelta(hours=1)
            judged_ids = {a.id for a in to_judge}
            history = [
                d
                for d in self.scores.digests(developer_id, start, end)
                if d.arc_id not in judged_ids
            ]
            verdicts = judge_arcs(to_judge, judge, config=self.config, now=now, history=history)
        by_id = {v.arc_id: v for v in verdicts}
        by_session: dict[str, list[Arc]] = defaultdict(list)
        for arc in arcs:
            by_session[arc.session_id].append(arc)
        events: list[tuple[str, dict[str, Any]]] = []
        with self.sessions.begin() as s:
            for sess_arcs in by_session.values():
                row_id = self.scores.upsert_session(s, org_id, sess_arcs)
                for arc in sess_arcs:
                    row, created = self.scores.upsert_arc(s, org_id, row_id, arc, hashes[arc.id])
                    verdict = by_id.get(arc.id)
                    if verdict is not None:
                        self.scores.save_verdict(s, row, verdict)
                        events.append(("scored", {"id": arc.id, "developer_id": developer_id}))
                    elif created:
                        events.append(("created", {"id": arc.id, "developer_id": developer_id}))
            stale = set(existing) - {a.id for a in arcs}
            self.scores.delete_arcs(s, stale)
            changed = any(
                existing.get(a.id) is None or existing[a.id].content_hash != hashes[a.id]
                for a in arcs
            )
            if changed or stale or to_judge:
                self.scores.bump_version(s, developer_id)
        for kind, payload in events:
            for listener in self.listeners:
                listener(kind, payload)
        self.stats.arcs_seen += len(arcs)
        return len(verdicts)

    def rejudge(
        self,
        org_id: str,
        developer_id: str,
        start: datetime,
        end: datetime,
        now: datetime,
        judge: Judge | None = None,
    ) -> int:
        """Backfill: re-judge the scored arcs that ended in [start, end), even unchanged ones.

        Earlier verdicts stay in history (`score_v3_verdicts`); returns how many were judged.
        """
        with self.sessions() as s:
            targets = s.execute(
                select(SubSession.id, SubSession.claude_session_id, SubSession.started_at).where(
                    SubSession.org_id == org_id,
                    SubSession.developer_id == developer_id,
                    SubSession.status == "scored",
                    SubSession.ended_at >= start,
                    SubSession.ended_at < end,
                )
            ).all()
        if not targets:
            return 0
        session_ids = {t.claude_session_id for t in targets}
        since = min(_utc(t.started_at) for t in targets) - LOOKBACK
        rows = self.lake.events_of_sessions(org_id, developer_id, sorted(session_ids), since)
        signals = self.lake.metric_signals(
            org_id, developer_id, sorted(session_ids), SIGNAL_METRICS, since
        )
        arcs = build_arcs(
            [EventRow.from_mapping(r) for r in rows],
            [MetricSignal.from_mapping(r) for r in signals],
            self.config,
        )
        return self._persist(
            org_id,
            developer_id,
            session_ids,
            arcs,
            now,
            force=frozenset(t.id for t in targets),
            judge=judge,
        )

    def _clear(self, developer_id: str, stamp: datetime | None) -> None:
        """Clear the dirty mark unless the writer marked it again meanwhile."""
        if stamp is None:
            return
        with self.sessions.begin() as s:
            row = s.get(SessionizeCursor, developer_id, with_for_update=True)
            if row is not None and row.updated_at == stamp:
                row.dirty_since = None


def dirty_hook(session: Session, by_org: dict[str, Any]) -> None:
    """Lake writer hook: mark the developers whose events were just journaled."""
    earliest: dict[tuple[str, str], datetime] = {}
    for org_id, norm in by_org.items():
        for row in norm.events:
            key = (org_id, row["developer_id"])
            t = row["time"]
            if key not in earliest or t < earliest[key]:
                earliest[key] = t
        for row in norm.metrics:
            if row.get("name") in SIGNAL_METRICS:
                key = (org_id, row["developer_id"])
                t = row["time"]
                if key not in earliest or t < earliest[key]:
                    earliest[key] = t
    if earliest:
        mark_dirty(session, earliest)
