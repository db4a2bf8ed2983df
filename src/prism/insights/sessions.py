"""Session insights (seed 001): statistics by intent and outcome, highlights, summaries,
details of one session, and the rolled-up summary of one calendar day.

Everything reads the v3 tables the sessionizer writes (`score_v3_sessions`, sub-sessions and
their rubric and flags); per-turn detail comes from the lake. A "session" here is one agent
session (Claude Code's `session.id`); `session_id` parameters accept that id, the stored session
row id, or a sub-session id.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import BadRequest, NotFound
from prism.insights.i18n import Localizer
from prism.insights.writer import INTENTS
from prism.lake.query import Lake
from prism.score.reader import as_utc
from prism.score.thresholds import RUBRIC_BOOLEANS
from prism.score.windows import zone
from prism.sessions.model import REDACTED
from prism.store.models import ArcRubric, IntegrityFlagRow, ScoreSession, SubSession

MAX_EVENTS = 20_000
TURN_TEXT = 300


def _billed(r: Any) -> int:
    return int((r.input_tokens or 0) + (r.output_tokens or 0) + (r.cache_write_tokens or 0))


def _ref(r: SubSession, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    started, ended = as_utc(r.started_at), as_utc(r.ended_at)
    return {
        "score_v3_sub_session_id": r.id,
        "claude_session_id": r.claude_session_id,
        "title": r.title,
        "summary": r.summary,
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": round((ended - started).total_seconds(), 1),
        "outcome": r.outcome,
        "crushed": bool(r.crushed),
        "qualifying": bool(r.qualifying),
        "intent_class": r.intent_class,
        "letter_grade": r.letter_grade,
        "prompt_grade": r.prompt_grade,
        "billed_tokens": _billed(r),
        "cost_usd": (r.cost_micro_usd or 0) / 1_000_000,
        "reason": reason,
        **extra,
    }


def _scored(s: Session, developer_id: str, start: datetime, end: datetime) -> list[SubSession]:
    rows = s.scalars(
        select(SubSession).where(
            SubSession.developer_id == developer_id,
            SubSession.ended_at >= start,
            SubSession.ended_at < end,
        )
    ).all()
    return [r for r in rows if r.status == "scored"]


def stats(
    sessions: sessionmaker[Session], developer_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Scored sub-sessions that ended in [start, end), grouped by intent and outcome."""
    with sessions() as s:
        rows = _scored(s, developer_id, start, end)
    groups: dict[tuple[str, str], list[SubSession]] = defaultdict(list)
    for r in rows:
        intent = r.intent_class or "unclear" if r.qualifying else "trivia"
        outcome = r.outcome or "unclear" if r.qualifying else (r.trivia_reason or "trivia")
        groups[(intent, outcome)].append(r)
    out = []
    for (intent, outcome), group in sorted(groups.items()):
        seconds = [(as_utc(r.ended_at) - as_utc(r.started_at)).total_seconds() for r in group]
        grades = [r.prompt_grade for r in group if r.prompt_grade is not None]
        out.append(
            {
                "intent_class": intent,
                "outcome": outcome,
                "count": len(group),
                "crushed": sum(1 for r in group if r.crushed),
                "qualifying": sum(1 for r in group if r.qualifying),
                "total_seconds": round(sum(seconds), 1),
                "avg_seconds": round(sum(seconds) / len(seconds), 1),
                "avg_prompt_grade": round(sum(grades) / len(grades), 3) if grades else None,
                "billed_tokens": sum(_billed(r) for r in group),
                "cost_usd": sum(r.cost_micro_usd or 0 for r in group) / 1_000_000,
            }
        )
    return out


def highlights(
    sessions: sessionmaker[Session], developer_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """SessionHighlights: best, worst, longest, costliest, most reworked, flagged."""
    with sessions() as s:
        rows = _scored(s, developer_id, start, end)
        ids = [r.id for r in rows]
        flags: dict[str, list[str]] = defaultdict(list)
        rework_counts: Counter[str] = Counter()
        if ids:
            for sub_id, kind in s.execute(
                select(IntegrityFlagRow.sub_session_id, IntegrityFlagRow.kind).where(
                    IntegrityFlagRow.developer_id == developer_id,
                    IntegrityFlagRow.sub_session_id.in_(ids),
                )
            ).all():
                flags[sub_id].append(kind)
            for target, n in s.execute(
                select(SubSession.reworks_arc_id, func.count())
                .where(
                    SubSession.developer_id == developer_id,
                    SubSession.reworks_arc_id.in_(ids),
                    SubSession.is_rework.is_(True),
                )
                .group_by(SubSession.reworks_arc_id)
            ).all():
                if target is not None:
                    rework_counts[target] = int(n)
    q = [r for r in rows if r.qualifying]

    def dur(r: SubSession) -> float:
        return (as_utc(r.ended_at) - as_utc(r.started_at)).total_seconds()

    crushed = [r for r in q if r.crushed]
    best = max(crushed, key=lambda r: (r.prompt_grade or 0, -dur(r), r.id), default=None)
    failing = [r for r in q if not r.crushed]
    rank = {"failed": 0, "abandoned": 1, "partial": 2, "unclear": 3, "goal_complete": 4}
    worst = min(
        failing,
        key=lambda r: (rank.get(r.outcome or "unclear", 3), r.prompt_grade or 0, r.id),
        default=None,
    )
    longest = max(rows, key=lambda r: (dur(r), r.id), default=None)
    costliest = max(rows, key=lambda r: (r.cost_micro_usd or 0, r.id), default=None)
    by_id = {r.id: r for r in rows}
    reworked = [(n, i) for i, n in rework_counts.items() if i in by_id]
    most = by_id[max(reworked)[1]] if reworked else None
    flagged = sorted((r for r in rows if flags.get(r.id)), key=lambda r: as_utc(r.ended_at))
    return {
        "from": start,
        "to": end,
        "best": _ref(best, "highest prompt grade among crushed goals") if best else None,
        "worst": _ref(worst, f"outcome {worst.outcome}") if worst else None,
        "longest": _ref(longest, "longest wall time") if longest else None,
        "costliest": _ref(costliest, "highest cost") if costliest else None,
        "most_reworked": (
            _ref(most, "redone by later goals", rework_count=rework_counts[most.id])
            if most
            else None
        ),
        "flagged": [
            _ref(r, ", ".join(sorted(flags[r.id])), flags=sorted(flags[r.id]))
            for r in flagged[-20:]
        ],
    }


def _find_session(s: Session, developer_id: str, session_id: str) -> ScoreSession | None:
    row = s.scalar(
        select(ScoreSession).where(
            ScoreSession.developer_id == developer_id,
            or_(ScoreSession.claude_session_id == session_id, ScoreSession.id == session_id),
        )
    )
    if row is None:
        sub = s.scalar(
            select(SubSession.session_row_id).where(
                SubSession.id == session_id, SubSession.developer_id == developer_id
            )
        )
        if sub is not None:
            row = s.get(ScoreSession, sub)
    return row


def _session_summary(row: ScoreSession, subs: Sequence[SubSession]) -> dict[str, Any]:
    parts = [r.summary for r in subs if r.summary]
    sources = {r.title_source for r in subs if r.summary}
    return {
        "session_id": row.id,
        "claude_session_id": row.claude_session_id,
        "title": row.title or next((r.title for r in subs if r.title), None),
        "title_source": row.title_source,
        "summary": " ".join(parts) if parts else None,
        "summary_source": "llm"
        if "llm" in sources
        else ("user_edited" if "user_edited" in sources else "heuristic"),
        "started_at": as_utc(row.started_at),
        "ended_at": as_utc(row.ended_at),
        "sub_session_count": len(subs),
        "crushed_count": sum(1 for r in subs if r.crushed),
        "sub_sessions": [
            {
                "score_v3_sub_session_id": r.id,
                "title": r.title,
                "summary": r.summary,
                "title_source": r.title_source,
                "status": r.status,
                "outcome": r.outcome,
                "crushed": bool(r.crushed),
            }
            for r in subs
        ],
    }


def _subs(s: Session, row: ScoreSession) -> list[SubSession]:
    return list(
        s.scalars(
            select(SubSession)
            .where(SubSession.session_row_id == row.id)
            .order_by(SubSession.started_at, SubSession.id)
        ).all()
    )


def summary(sessions: sessionmaker[Session], developer_id: str, session_id: str) -> dict[str, Any]:
    """The stored summary of one session; BadRequest when there is none (seed 001)."""
    with sessions() as s:
        row = _find_session(s, developer_id, session_id)
        if row is None:
            raise BadRequest(f"No summary exists for session {session_id!r}")
        out = _session_summary(row, _subs(s, row))
    if not out["summary"]:
        raise BadRequest(f"No summary exists for session {session_id!r} yet")
    return out


def summaries(
    sessions: sessionmaker[Session],
    developer_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Sessions active in [start, end), newest first, with their summaries."""
    with sessions() as s:
        rows = s.scalars(
            select(ScoreSession)
            .where(
                ScoreSession.developer_id == developer_id,
                ScoreSession.ended_at >= start,
                ScoreSession.started_at < end,
            )
            .order_by(ScoreSession.started_at.desc(), ScoreSession.id)
            .limit(limit)
            .offset(offset)
        ).all()
        by_row: dict[str, list[SubSession]] = defaultdict(list)
        if rows:
            for sub in s.scalars(
                select(SubSession)
                .where(SubSession.session_row_id.in_([r.id for r in rows]))
                .order_by(SubSession.started_at, SubSession.id)
            ).all():
                by_row[sub.session_row_id].append(sub)
        return [_session_summary(r, by_row[r.id]) for r in rows]


def details(
    sessions: sessionmaker[Session], lake: Lake, org_id: str, developer_id: str, session_id: str
) -> dict[str, Any]:
    """Turn-level metrics, tool activity and scores of one session."""
    with sessions() as s:
        row = _find_session(s, developer_id, session_id)
        if row is None:
            raise NotFound("No such session")
        subs = _subs(s, row)
        rubrics = {
            r.sub_session_id: r
            for r in s.scalars(
                select(ArcRubric).where(ArcRubric.sub_session_id.in_([x.id for x in subs]))
            ).all()
        }
        flags: dict[str, list[str]] = defaultdict(list)
        for sub_id, kind in s.execute(
            select(IntegrityFlagRow.sub_session_id, IntegrityFlagRow.kind).where(
                IntegrityFlagRow.sub_session_id.in_([x.id for x in subs])
            )
        ).all():
            flags[sub_id].append(kind)
        info = _session_summary(row, subs)
    started = as_utc(row.started_at) - timedelta(minutes=5)
    events = lake.events_of_sessions(org_id, developer_id, [row.claude_session_id], started)
    events = events[:MAX_EVENTS]
    turns: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    totals = Counter[str]()
    for e in events:
        name = e.get("event_name")
        if name == "user_prompt":
            text = e.get("prompt")
            if text == REDACTED:
                text = None
            current = {
                "prompt_id": e.get("prompt_id"),
                "time": e["time"],
                "prompt": text[:TURN_TEXT] if text else None,
                "prompt_length": e.get("prompt_length"),
                "api_requests": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "cost_usd": 0.0,
                "model_seconds": 0.0,
                "tool_calls": 0,
                "tool_failures": 0,
                "api_errors": 0,
            }
            turns.append(current)
            continue
        target = current
        if target is not None and e.get("prompt_id") and e.get("prompt_id") != target["prompt_id"]:
            target = next((t for t in turns if t["prompt_id"] == e.get("prompt_id")), target)
        if name == "api_request":
            totals["api_requests"] += 1
            for key, col in (
                ("input_tokens", "input_tokens"),
                ("output_tokens", "output_tokens"),
                ("cache_read_tokens", "cache_read_tokens"),
                ("cache_write_tokens", "cache_creation_tokens"),
            ):
                totals[key] += int(e.get(col) or 0)
                if target is not None:
                    target[key] += int(e.get(col) or 0)
            totals["cost_micro_usd"] += int(e.get("cost_micro_usd") or 0)
            if target is not None:
                target["api_requests"] += 1
                target["cost_usd"] += int(e.get("cost_micro_usd") or 0) / 1_000_000
                target["model_seconds"] += float(e.get("duration_ms") or 0) / 1000
        elif name == "tool_result":
            tool = e.get("tool_name") or "unknown"
            t = tools.setdefault(tool, {"tool": tool, "calls": 0, "failures": 0, "seconds": 0.0})
            t["calls"] += 1
            t["seconds"] += float(e.get("duration_ms") or 0) / 1000
            failed = e.get("success") is False
            t["failures"] += int(failed)
            totals["tool_calls"] += 1
            if target is not None:
                target["tool_calls"] += 1
                target["tool_failures"] += int(failed)
        elif name in ("api_error", "api_retries_exhausted"):
            totals["api_errors"] += 1
            if target is not None:
                target["api_errors"] += 1
    for t in turns:
        t["cost_usd"] = round(t["cost_usd"], 6)
        t["model_seconds"] = round(t["model_seconds"], 1)
    sub_items = []
    for r in subs:
        rub = rubrics.get(r.id)
        verdict = r.verdict or {}
        sub_items.append(
            {
                **_ref(r),
                "status": r.status,
                "judge_status": r.judge_status,
                "judge_name": r.judge_name,
                "judge_version": r.judge_version,
                "judge_note": verdict.get("judge_note"),
                "is_rework": bool(r.is_rework),
                "reworked_later": bool(r.reworked_later),
                "trivia_reason": r.trivia_reason,
                "outcome_confidence": r.outcome_confidence,
                "outcome_evidence": (verdict.get("outcome") or {}).get("evidence", []),
                "rubric": None
                if rub is None
                else {
                    "intent_class": rub.intent_class,
                    "confidence": rub.confidence,
                    "booleans": {b: getattr(rub, b) for b in RUBRIC_BOOLEANS},
                    "prompt_grade": rub.prompt_grade,
                    "letter_grade": rub.letter_grade,
                },
                "flags": sorted(flags.get(r.id, [])),
            }
        )
    return {
        "session": {k: v for k, v in info.items() if k != "sub_sessions"},
        "sub_sessions": sub_items,
        "turns": turns,
        "tools": sorted(
            ({**t, "seconds": round(t["seconds"], 1)} for t in tools.values()),
            key=lambda t: (-t["calls"], t["tool"]),
        ),
        "totals": {
            "turns": len(turns),
            "api_requests": totals["api_requests"],
            "input_tokens": totals["input_tokens"],
            "output_tokens": totals["output_tokens"],
            "cache_read_tokens": totals["cache_read_tokens"],
            "cache_write_tokens": totals["cache_write_tokens"],
            "cost_usd": totals["cost_micro_usd"] / 1_000_000,
            "tool_calls": totals["tool_calls"],
            "api_errors": totals["api_errors"],
        },
    }


def day_bounds(day: str, tz: str) -> tuple[date, datetime, datetime]:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise BadRequest(f"date must be YYYY-MM-DD, got {day!r}") from None
    z = zone(tz)
    start = datetime.combine(d, time(), tzinfo=z)
    return d, start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def daily_summary(
    sessions: sessionmaker[Session], developer_id: str, day: str, tz: str, loc: Localizer
) -> dict[str, Any]:
    """One calendar day (the developer's zone), rolled up."""
    d, start, end = day_bounds(day, tz)
    with sessions() as s:
        rows = _scored(s, developer_id, start, end)
        session_count = s.scalar(
            select(func.count())
            .select_from(ScoreSession)
            .where(
                ScoreSession.developer_id == developer_id,
                ScoreSession.ended_at >= start,
                ScoreSession.started_at < end,
            )
        )
    q = [r for r in rows if r.qualifying]
    crushed = [r for r in q if r.crushed]
    score = round(100 * len(crushed) / len(q), 1) if q else None
    intents = Counter(r.intent_class or "unclear" for r in q)
    cost = sum(r.cost_micro_usd or 0 for r in rows) / 1_000_000
    _ = loc._
    if q:
        text = _("{crushed} of {total} goals crushed (PRISM score {score}).").format(
            crushed=loc.number(len(crushed)),
            total=loc.number(len(q)),
            score=loc.number(score, 1),
        )
        if intents:
            top, n = intents.most_common(1)[0]
            text += " " + _("Most goals were {intent} ({count}).").format(
                intent=_(INTENTS.get(top, top)), count=loc.number(n)
            )
    else:
        text = _("No goal passed the substance floor on this day.")
    return {
        "date": d.isoformat(),
        "time_zone": tz,
        "language": loc.language,
        "sessions": int(session_count or 0),
        "sub_sessions": len(rows),
        "qualifying": len(q),
        "crushed": len(crushed),
        "trivia": len(rows) - len(q),
        "prism_score": score,
        "billed_tokens": sum(_billed(r) for r in rows),
        "cost_usd": cost,
        "seconds": round(
            sum((as_utc(r.ended_at) - as_utc(r.started_at)).total_seconds() for r in rows), 1
        ),
        "by_intent": dict(sorted(intents.items())),
        "top": [_ref(r) for r in sorted(crushed, key=lambda r: -(r.cost_micro_usd or 0))[:3]],
        "summary": text,
    }
