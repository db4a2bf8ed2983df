"""Persistence of sessions, goal arcs and verdicts (PRISM Score v3.0 tables).

Writes come from the sessionizer (open arcs, then verdicts of closed arcs); reads serve the
score endpoints. A verdict is never overwritten: each one is a `score_v3_verdicts` row with its
judge's name and version, and the sub-session row mirrors the current one.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism.judge.base import ArcDigest, ArcVerdict
from prism.score.metrics import ScoredArc
from prism.sessions.arcs import Arc
from prism.store.models import (
    ArcRubric,
    ArcVerdictRow,
    IntegrityFlagRow,
    PromptRubricRow,
    ScoreSession,
    ScoreVersion,
    SubSession,
    TriviaRow,
)

_SESSION_NS = uuid.UUID("5b7a3f3e-8f1e-4a53-9c55-0d9f2f1c0a11")
BOOLEANS = (
    "goal_explicit",
    "scope_bounded",
    "references_concrete",
    "context_sufficient",
    "verification_requested",
    "root_cause_oriented",
    "plan_first",
)


def session_row_id(developer_id: str, claude_session_id: str) -> str:
    return str(uuid.uuid5(_SESSION_NS, f"{developer_id}|{claude_session_id}"))


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(t: datetime) -> datetime:
    """SQLite returns naive datetimes; everything Prism compares is aware UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def to_jsonable(value: Any) -> Any:
    """Verdict dataclasses -> JSON-safe values (sets sorted, datetimes ISO)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, frozenset | set):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def arc_tokens(arc: Arc) -> dict[str, int]:
    t = {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0, "cost": 0}
    for e in arc.events:
        if e.event_name == "api_request":
            t["input"] += e.input_tokens or 0
            t["output"] += e.output_tokens or 0
            t["cache_read"] += e.cache_read_tokens or 0
            t["cache_write"] += e.cache_creation_tokens or 0
            t["cost"] += e.cost_micro_usd or 0
    return t


class ScoreStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # --- writes (sessionizer) ---------------------------------------------------------------
    def existing(self, developer_id: str, session_ids: Iterable[str]) -> dict[str, SubSession]:
        """Stored arcs of these agent sessions, by arc id."""
        ids = list(session_ids)
        if not ids:
            return {}
        with self.sessions() as s:
            rows = s.scalars(
                select(SubSession).where(
                    SubSession.developer_id == developer_id,
                    SubSession.claude_session_id.in_(ids),
                )
            )
            return {r.id: r for r in rows}

    def upsert_session(
        self, s: Session, org_id: str, arcs: Sequence[Arc], agent: str = "claude_code"
    ) -> str:
        first = arcs[0]
        row_id = session_row_id(first.developer_id, first.session_id)
        row = s.get(ScoreSession, row_id)
        title = first.session_title or first.title
        source = "agent" if first.session_title else first.title_source
        if row is None:
            row = ScoreSession(
                id=row_id,
                org_id=org_id,
                developer_id=first.developer_id,
                claude_session_id=first.session_id,
                agent=agent,
                started_at=first.started_at,
                ended_at=max(a.ended_at for a in arcs),
                updated_at=_now(),
            )
            s.add(row)
        if row.title_source != "user_edited":
            row.title, row.title_source = title[:300] if title else None, source
        row.started_at = min(a.started_at for a in arcs)
        row.ended_at = max(a.ended_at for a in arcs)
        row.arc_count = len(arcs)
        row.updated_at = _now()
        return row_id

    def upsert_arc(
        self, s: Session, org_id: str, session_id_row: str, arc: Arc, content_hash: str
    ) -> tuple[SubSession, bool]:
        """Insert or refresh an arc's descriptive fields; returns (row, created)."""
        row = s.get(SubSession, arc.id)
        created = row is None
        tokens = arc_tokens(arc)
        now = _now()
        if row is None:
            row = SubSession(
                id=arc.id,
                session_row_id=session_id_row,
                org_id=org_id,
                developer_id=arc.developer_id,
                claude_session_id=arc.session_id,
                status="open",
                started_at=arc.started_at,
                ended_at=arc.ended_at,
                content_hash=content_hash,
                created_at=now,
                updated_at=now,
                reworked_later=False,
            )
            s.add(row)
        row.started_at, row.ended_at = arc.started_at, arc.ended_at
        row.content_hash = content_hash
        if row.title_source not in ("user_edited", "llm"):
            row.title, row.title_source = arc.title[:300], arc.title_source
        row.prompt_count = len(arc.prompts)
        row.event_count = len(arc.events)
        row.input_tokens, row.output_tokens = tokens["input"], tokens["output"]
        row.cache_read_tokens, row.cache_write_tokens = tokens["cache_read"], tokens["cache_write"]
        row.cost_micro_usd = tokens["cost"]
        row.updated_at = now
        return row, created

    def save_verdict(self, s: Session, row: SubSession, v: ArcVerdict) -> None:
        """Record `v` as the arc's current verdict; earlier verdicts stay in history."""
        now = _now()
        payload = to_jsonable(v)
        s.execute(
            update(ArcVerdictRow)
            .where(ArcVerdictRow.sub_session_id == row.id, ArcVerdictRow.is_current.is_(True))
            .values(is_current=False)
        )
        s.add(
            ArcVerdictRow(
                id=str(uuid.uuid4()),
                sub_session_id=row.id,
                judge_name=v.judge,
                judge_version=v.judge_version,
                is_current=True,
                verdict=payload,
                created_at=now,
            )
        )
        row.status = "scored"
        row.qualifying = v.substance.passed
        row.trivia_reason = v.substance.reason
        row.outcome = v.outcome.label
        row.outcome_confidence = v.outcome.confidence
        row.crushed = v.crushed
        row.is_rework = v.rework.is_rework
        row.reworks_arc_id = v.rework.reworks_arc_id
        row.intent_class = v.rubric.intent_class
        row.prompt_grade = v.rubric.grade
        row.letter_grade = v.rubric.letter_grade
        row.judge_status = v.rubric.judge_status
        row.judge_name, row.judge_version = v.judge, v.judge_version
        if row.title_source not in ("user_edited", "llm"):
            row.summary = v.summary
        row.verdict = payload
        row.digest = to_jsonable(ArcDigest.of(v))
        row.digest["has_correction_after_first"] = v.has_correction_after_first
        row.scored_at = now
        row.updated_at = now
        self._replace_children(s, row, v)
        if v.rework.is_rework and v.rework.reworks_arc_id:
            s.execute(
                update(SubSession)
                .where(SubSession.id == v.rework.reworks_arc_id)
                .values(reworked_later=True, reworked_by_arc_id=row.id)
            )

    def _replace_children(self, s: Session, row: SubSession, v: ArcVerdict) -> None:
        for model in (ArcRubric, PromptRubricRow, TriviaRow, IntegrityFlagRow):
            s.execute(delete(model).where(model.sub_session_id == row.id))
        s.flush()
        r = v.rubric
        s.add(
            ArcRubric(
                sub_session_id=row.id,
                developer_id=row.developer_id,
                intent_class=r.intent_class,
                confidence=r.confidence,
                judge_status=r.judge_status,
                applicability=dict(r.applicability),
                prompt_grade=r.grade,
                letter_grade=r.letter_grade,
                **{b: r.booleans.get(b) if r.applicability.get(b) else None for b in BOOLEANS},
            )
        )
        for i, p in enumerate(r.prompts):
            s.add(
                PromptRubricRow(
                    id=f"{row.id}:{i}",
                    sub_session_id=row.id,
                    prompt_id=p.prompt_id,
                    at=p.time,
                    values=to_jsonable(p),
                )
            )
        if not v.substance.passed and v.substance.reason:
            s.add(
                TriviaRow(
                    sub_session_id=row.id,
                    developer_id=row.developer_id,
                    reason=v.substance.reason,
                    created_at=v.ended_at,
                )
            )
        for f in v.flags:
            s.add(
                IntegrityFlagRow(
                    id=f"{row.id}:{f.kind}",
                    sub_session_id=row.id,
                    developer_id=row.developer_id,
                    kind=f.kind,
                    blocking=f.blocking,
                    detail=f.detail,
                    at=f.at,
                )
            )

    def delete_arcs(self, s: Session, arc_ids: Iterable[str]) -> None:
        """Drop arcs that a rebuild no longer produces (late data moved a boundary)."""
        ids = list(arc_ids)
        if not ids:
            return
        for model in (ArcRubric, PromptRubricRow, TriviaRow, IntegrityFlagRow, ArcVerdictRow):
            s.execute(delete(model).where(model.sub_session_id.in_(ids)))
        s.execute(delete(SubSession).where(SubSession.id.in_(ids)))

    def bump_version(self, s: Session, developer_id: str) -> None:
        row = s.get(ScoreVersion, developer_id)
        if row is None:
            s.add(ScoreVersion(developer_id=developer_id, version=1, updated_at=_now()))
        else:
            row.version += 1
            row.updated_at = _now()

    # --- reads ---------------------------------------------------------------------------------
    def version(self, developer_id: str) -> int:
        with self.sessions() as s:
            row = s.get(ScoreVersion, developer_id)
            return row.version if row is not None else 0

    def digests(self, developer_id: str, start: datetime, end: datetime) -> list[ArcDigest]:
        """Scored arcs of a developer overlapping [start, end), for rework and splitting."""
        with self.sessions() as s:
            rows = s.scalars(
                select(SubSession).where(
                    SubSession.developer_id == developer_id,
                    SubSession.status == "scored",
                    SubSession.ended_at >= start,
                    SubSession.started_at < end,
                )
            ).all()
        out = []
        for r in rows:
            d = r.digest or {}
            out.append(
                ArcDigest(
                    arc_id=r.id,
                    developer_id=r.developer_id,
                    started_at=_utc(r.started_at),
                    ended_at=_utc(r.ended_at),
                    outcome=r.outcome or "unclear",
                    qualifying=bool(r.qualifying),
                    barely_over=bool(d.get("barely_over", False)),
                    files=frozenset(d.get("files", ())),
                    goal_tokens=frozenset(d.get("goal_tokens", ())),
                )
            )
        return out

    def open_arcs_due(self, now: datetime, gap_seconds: int) -> list[tuple[str, str, str]]:
        """(org, developer, agent session) of open arcs silent for at least the arc gap."""
        from datetime import timedelta

        cutoff = now - timedelta(seconds=gap_seconds)
        with self.sessions() as s:
            rows = s.execute(
                select(SubSession.org_id, SubSession.developer_id, SubSession.claude_session_id)
                .where(SubSession.status == "open", SubSession.ended_at <= cutoff)
                .distinct()
            ).all()
        return [(a, b, c) for a, b, c in rows]


def scored_arc(row: SubSession, rubric: ArcRubric | None) -> ScoredArc:
    """A stored arc as the window metrics see it."""
    verdict = row.verdict or {}
    flags = tuple(f["kind"] for f in verdict.get("flags", ()))
    booleans: dict[str, bool] = {}
    applicability: dict[str, bool] = {}
    if rubric is not None:
        applicability = {k: bool(v) for k, v in (rubric.applicability or {}).items()}
        booleans = {b: bool(getattr(rubric, b)) for b in BOOLEANS if getattr(rubric, b) is not None}
    digest = row.digest or {}
    return ScoredArc(
        arc_id=row.id,
        started_at=_utc(row.started_at),
        ended_at=_utc(row.ended_at),
        qualifying=bool(row.qualifying),
        crushed=bool(row.crushed),
        outcome=row.outcome or "unclear",
        is_rework=bool(row.is_rework),
        reworked_later=bool(row.reworked_later),
        prompt_count=row.prompt_count,
        has_correction_after_first=bool(digest.get("has_correction_after_first", False)),
        grade=row.prompt_grade,
        booleans=booleans,
        applicability=applicability,
        intent_class=row.intent_class or "unclear",
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        cost_micro_usd=row.cost_micro_usd,
        trivia_reason=row.trivia_reason,
        flags=flags,
        seconds=(_utc(row.ended_at) - _utc(row.started_at)).total_seconds(),
    )
