"""/v1/score_v3/*: PRISM Score v3.0 for the authenticated developer (seed 004).

Window metrics come from `ScoreReader.report` (cached per score version); lists are lean
column queries over the v3 tables; prompts come from the lake. The report family
(/v1/score_v3/report/*) lives elsewhere. Admin keys may pass `user_id` to read a developer of
their org; another developer's sub-session is a 404, never a 403.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer, sessionmaker

from prism.api.deps import EngineContext, context, parse_time, principal, target_developer
from prism.api.schemas import (
    ERRORS,
    BackfillRequest,
    BackfillResponse,
    ErrorBody,
    InsightSummary,
    IntegrityFlagItem,
    IntegrityResponse,
    IntegrityTrendResponse,
    RubricItem,
    ScoreResponse,
    SkillResponse,
    SpeedResponse,
    SpeedSessionItem,
    SubSessionItem,
    SubSessionPatch,
    SubSessionPrompts,
    TogglePref,
    TokensResponse,
    TokensTrendResponse,
    TriviaItem,
    TriviaTrendResponse,
)
from prism.errors import BadRequest, Forbidden, NotFound
from prism.judge.base import JUDGE_STATUSES
from prism.judge.base import get as get_judge
from prism.lake.query import Filters
from prism.score.reader import ScoreReader, as_utc
from prism.score.thresholds import FLAG_KINDS, INTENT_CLASSES, RUBRIC_BOOLEANS
from prism.score.windows import Window, parse_kind, window_at
from prism.sessions.model import REDACTED
from prism.sessions.worker import Sessionizer
from prism.store.keys import Principal
from prism.store.models import (
    ArcRubric,
    IntegrityFlagRow,
    Preference,
    PromptRubricRow,
    ScoreSession,
    SubSession,
    TriviaRow,
)

router = APIRouter(prefix="/v1/score_v3", tags=["score_v3"], responses=ERRORS)

WINDOW_DOC = "daily | weekly | monthly (calendar windows in your time zone); default weekly"
USER_DOC = "admins: another developer of the org (id or email)"
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Needs an admin key"}
}
LETTERS = ("A", "B", "C", "D", "F")
MAX_BACKFILL_DAYS = 400
MAX_TREND_BUCKETS = 1000
PROMPTS_PER_ARC = 10_000


# --- helpers -------------------------------------------------------------------------------------


def _reader(ctx: EngineContext) -> ScoreReader:
    assert ctx.scores is not None  # EngineContext.__post_init__ builds it
    return ctx.scores


def _db(ctx: EngineContext) -> sessionmaker[Session]:
    assert ctx.sessions is not None
    return ctx.sessions


def _opt_utc(value: Any) -> datetime | None:
    return None if value is None else as_utc(value)


def _current(ctx: EngineContext, developer_id: str, window: str | None) -> Window:
    reader = _reader(ctx)
    return reader.window(parse_kind(window), reader.state(developer_id))


def _section(
    ctx: EngineContext, who: Principal, user_id: str | None, window: str | None, name: str
) -> dict[str, Any]:
    kind = parse_kind(window)
    dev = target_developer(ctx, who, user_id)
    section: dict[str, Any] = _reader(ctx).report(dev, kind)[name]
    return section


def _tokens(r: Any) -> dict[str, int]:
    return {
        "input": r.input_tokens or 0,
        "output": r.output_tokens or 0,
        "cache_read": r.cache_read_tokens or 0,
        "cache_write": r.cache_write_tokens or 0,
    }


def _bounds(
    start: str | None, end: str | None, *, default_days: int | None, now: datetime
) -> tuple[datetime, datetime]:
    """Parsed `from`/`to`: `to` defaults to now, `from` to `default_days` before it (None:
    required); 400 when missing, malformed or reversed."""
    t1 = parse_time(end, "to") or now
    t0 = parse_time(start, "from")
    if t0 is None:
        if default_days is None:
            raise BadRequest("from is required")
        t0 = t1 - timedelta(days=default_days)
    if t0 >= t1:
        raise BadRequest("from must be before to")
    return t0, t1


def _owned_sub_session(s: Session, sub_id: str, developer_id: str) -> SubSession:
    row = s.scalar(
        select(SubSession)
        .options(defer(SubSession.verdict), defer(SubSession.digest))
        .where(SubSession.id == sub_id, SubSession.developer_id == developer_id)
    )
    if row is None:
        raise NotFound("No such sub-session")
    return row


def _sub_item(row: SubSession, claude_session_id: str) -> dict[str, Any]:
    started, ended = as_utc(row.started_at), as_utc(row.ended_at)
    return {
        "id": row.id,
        "score_v3_session_id": row.session_row_id,
        "claude_session_id": claude_session_id,
        "status": row.status,
        "title": row.title,
        "summary": row.summary,
        "title_source": row.title_source,
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": (ended - started).total_seconds(),
        "prompt_count": row.prompt_count,
        "event_count": row.event_count,
        "qualifying": row.qualifying,
        "crushed": row.crushed,
        "outcome": row.outcome,
        "outcome_confidence": row.outcome_confidence,
        "intent_class": row.intent_class,
        "letter_grade": row.letter_grade,
        "prompt_grade": row.prompt_grade,
        "judge_status": row.judge_status,
        "is_rework": row.is_rework,
        "reworked_later": bool(row.reworked_later),
        "trivia_reason": row.trivia_reason,
        "tokens": _tokens(row),
        "cost_usd": (row.cost_micro_usd or 0) / 1_000_000,
        "scored_at": _opt_utc(row.scored_at),
        "updated_at": as_utc(row.updated_at),
    }


_RUBRIC_COLS = (
    ArcRubric.sub_session_id,
    ArcRubric.intent_class,
    ArcRubric.letter_grade,
    ArcRubric.confidence,
    *(getattr(ArcRubric, b) for b in RUBRIC_BOOLEANS),
    ArcRubric.applicability,
    ArcRubric.judge_status,
    SubSession.title,
    SubSession.summary,
    SubSession.title_source,
)


def _rubric_items(s: Session, *where: Any, limit: int) -> list[dict[str, Any]]:
    rows = s.execute(
        select(*_RUBRIC_COLS)
        .join(SubSession, SubSession.id == ArcRubric.sub_session_id)
        .where(*where)
        .order_by(SubSession.ended_at.desc(), SubSession.id)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["score_v3_sub_session_id"] = item.pop("sub_session_id")
        item["applicability"] = {k: bool(v) for k, v in (item["applicability"] or {}).items()}
        out.append(item)
    return out


# --- headline and pillars ------------------------------------------------------------------------


@router.get("/score", response_model=ScoreResponse)
def score(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """The PRISM score: % of qualifying sub-sessions that crushed, with a 4-window sparkline."""
    return _section(ctx, who, user_id, window, "score")


@router.get("/speed", response_model=SpeedResponse)
def speed(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Crushed sessions per working day, its delta to the previous window, median TTC."""
    return _section(ctx, who, user_id, window, "speed")


@router.get("/speed/sessions", response_model=list[SpeedSessionItem])
def speed_sessions(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """Every scored sub-session that ended in the window, newest first, trivia included."""
    dev = target_developer(ctx, who, user_id)
    w = _current(ctx, dev, window)
    # status is filtered here, not in SQL, so that (developer_id, ended_at) is the index used
    where = (
        SubSession.developer_id == dev,
        SubSession.ended_at >= w.start.astimezone(UTC),
        SubSession.ended_at < w.end.astimezone(UTC),
    )
    cols = (
        SubSession.status,
        SubSession.id,
        SubSession.claude_session_id,
        SubSession.title,
        SubSession.started_at,
        SubSession.ended_at,
        SubSession.outcome,
        SubSession.outcome_confidence,
        SubSession.crushed,
        SubSession.qualifying,
        SubSession.intent_class,
        SubSession.letter_grade,
        SubSession.prompt_grade,
        SubSession.judge_status,
        SubSession.is_rework,
        SubSession.reworked_later,
        SubSession.input_tokens,
        SubSession.output_tokens,
        SubSession.cache_read_tokens,
        SubSession.cache_write_tokens,
        SubSession.cost_micro_usd,
    )
    with _db(ctx)() as s:
        rows = s.execute(
            select(*cols).where(*where).order_by(SubSession.started_at.desc(), SubSession.id)
        ).all()
    rows = [r for r in rows if r.status == "scored"]
    flags = _reader(ctx).flag_kinds(dev, [(r.id, r.started_at) for r in rows])
    out = []
    for r in rows:
        started, ended = as_utc(r.started_at), as_utc(r.ended_at)
        out.append(
            {
                "id": r.id,
                "claude_session_id": r.claude_session_id,
                "title": r.title,
                "started_at": started,
                "ended_at": ended,
                "duration_seconds": (ended - started).total_seconds(),
                "outcome": r.outcome,
                "outcome_confidence": r.outcome_confidence,
                "crushed": bool(r.crushed),
                "qualifying": bool(r.qualifying),
                "intent_class": r.intent_class,
                "letter_grade": r.letter_grade,
                "prompt_grade": r.prompt_grade,
                "judge_status": r.judge_status,
                "is_rework": bool(r.is_rework),
                "reworked_later": bool(r.reworked_later),
                "flags": flags.get(r.id, []),
                "tokens": _tokens(r),
                "cost_usd": (r.cost_micro_usd or 0) / 1_000_000,
            }
        )
    return out


@router.get("/sessions/{sub_session_id}/prompts", response_model=SubSessionPrompts)
def sub_session_prompts(
    sub_session_id: str,
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """The sub-session's prompts (from the lake) LEFT JOIN their prompt-level rubric rows."""
    dev = target_developer(ctx, who, user_id)
    with _db(ctx)() as s:
        row = _owned_sub_session(s, sub_session_id, dev)
        rubrics = {
            pid: values
            for pid, values in s.execute(
                select(PromptRubricRow.prompt_id, PromptRubricRow.values).where(
                    PromptRubricRow.sub_session_id == row.id
                )
            ).all()
            if pid is not None
        }
    started, ended = as_utc(row.started_at), as_utc(row.ended_at)
    events = ctx.lake.telemetry(
        "events",
        Filters(
            org_id=row.org_id,
            developer_id=dev,
            start=started,
            end=ended + timedelta(microseconds=1),  # the last prompt may be the last activity
            session_id=row.claude_session_id,
            event_name="user_prompt",
            limit=PROMPTS_PER_ARC,
        ),
    )
    events.sort(key=lambda e: (e["time"], e.get("event_sequence") or -1))
    prompts = []
    for e in events:
        rubric = rubrics.get(e.get("prompt_id")) if e.get("prompt_id") else None
        text = e.get("prompt")
        item: dict[str, Any] = {
            "prompt_id": e.get("prompt_id"),
            "time": e["time"],
            "event_sequence": e.get("event_sequence"),
            "prompt": None if text == REDACTED else text,
            "prompt_length": e.get("prompt_length"),
            "has_rubric": rubric is not None,
        }
        if rubric is not None:
            booleans = rubric.get("booleans") or {}
            item.update(
                intent_class=rubric.get("intent_class"),
                confidence=rubric.get("confidence"),
                grade=rubric.get("grade"),
                letter_grade=rubric.get("letter_grade"),
                judge_status=rubric.get("judge_status"),
                **{b: booleans.get(b) for b in RUBRIC_BOOLEANS},
            )
        prompts.append(item)
    return {
        "score_v3_sub_session_id": row.id,
        "claude_session_id": row.claude_session_id,
        "started_at": started,
        "ended_at": ended,
        "prompts": prompts,
    }


@router.get("/tokens", response_model=TokensResponse)
def tokens(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Crush weight, TET, TPT, cost per crushed session and the token breakdown."""
    return _section(ctx, who, user_id, window, "tokens")


@router.get("/tokens/trend", response_model=TokensTrendResponse)
def tokens_trend(
    window: str | None = Query(None, description=WINDOW_DOC),
    periods: int = Query(8, ge=1, le=52, description="windows in the series (max 52)"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Token metrics of the last `periods` windows, oldest first, the current window last."""
    kind = parse_kind(window)
    dev = target_developer(ctx, who, user_id)
    return {"window": kind, "periods": _reader(ctx).tokens_trend(dev, kind, periods)}


@router.get("/skill", response_model=SkillResponse)
def skill(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Average prompt grade, its delta, per-boolean shares and the weakest boolean."""
    return _section(ctx, who, user_id, window, "skill")


# --- insight (prompt grade) ----------------------------------------------------------------------


@router.get("/insight/sessions", response_model=list[RubricItem])
def insight_sessions(
    limit: int = Query(50, ge=1, le=500, description="rows, newest first (max 500)"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """The most recent rubric rows (one per scored sub-session), newest first."""
    dev = target_developer(ctx, who, user_id)
    with _db(ctx)() as s:
        return _rubric_items(s, SubSession.developer_id == dev, limit=limit)


@router.get("/insight/summary", response_model=InsightSummary)
def insight_summary(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Counts by intent, letter and judge status over the window, with APG and per-boolean."""
    kind = parse_kind(window)
    dev = target_developer(ctx, who, user_id)
    report = _reader(ctx).report(dev, kind)
    w = _current(ctx, dev, kind)
    with _db(ctx)() as s:
        rows = s.execute(
            select(ArcRubric.intent_class, ArcRubric.letter_grade, ArcRubric.judge_status)
            .join(SubSession, SubSession.id == ArcRubric.sub_session_id)
            .where(  # rubric rows exist for scored arcs only
                SubSession.developer_id == dev,
                SubSession.ended_at >= w.start.astimezone(UTC),
                SubSession.ended_at < w.end.astimezone(UTC),
            )
        ).all()
    intents = Counter(r[0] for r in rows)
    letters = Counter(r[1] for r in rows)
    statuses = Counter(r[2] for r in rows)
    return {
        "window": kind,
        "from": w.start,
        "to": w.end,
        "total": len(rows),
        "apg": report["skill"]["apg"],
        "per_boolean": report["skill"]["per_boolean"],
        "by_intent": {k: intents.get(k, 0) for k in INTENT_CLASSES},
        "by_letter": {k: letters.get(k, 0) for k in LETTERS},
        "ungraded": letters.get(None, 0),
        "by_judge_status": {k: statuses.get(k, 0) for k in JUDGE_STATUSES},
    }


@router.get("/insight/sessions_range", response_model=list[RubricItem])
def insight_sessions_range(
    from_: str = Query(..., alias="from", description="ISO 8601, sub-sessions ended from"),
    to: str | None = Query(None, description="ISO 8601, exclusive; default now"),
    limit: int = Query(500, ge=1, le=5000, description="rows, newest first (max 5000)"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """Rubric rows of sub-sessions that ended in [from, to), newest first."""
    t0, t1 = _bounds(from_, to, default_days=None, now=_reader(ctx).now())
    dev = target_developer(ctx, who, user_id)
    with _db(ctx)() as s:
        return _rubric_items(
            s,
            SubSession.developer_id == dev,
            SubSession.ended_at >= t0,
            SubSession.ended_at < t1,
            limit=limit,
        )


@router.post("/insight/backfill", response_model=BackfillResponse, responses=ADMIN_ERRORS)
def insight_backfill(
    body: BackfillRequest,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Admin: re-judge closed sub-sessions that ended in [from, to) with the named judge.

    History is kept: each re-judged arc gets a new current verdict row, the old one stays with
    its judge's name and version. Without `user_id`, every developer of the admin's org.
    """
    if not who.is_admin:
        raise Forbidden("Backfill needs an admin key")
    t0, t1 = _bounds(body.from_, body.to, default_days=None, now=_reader(ctx).now())
    if t1 - t0 > timedelta(days=MAX_BACKFILL_DAYS):
        raise BadRequest(f"a backfill covers at most {MAX_BACKFILL_DAYS} days")
    try:
        judge = get_judge(body.judge)
    except KeyError as exc:
        raise BadRequest(str(exc.args[0])) from None
    if body.user_id is not None:
        developers = [target_developer(ctx, who, body.user_id)]
    else:
        with _db(ctx)() as s:
            developers = list(
                s.scalars(
                    select(SubSession.developer_id)
                    .where(
                        SubSession.org_id == who.org_id,
                        SubSession.status == "scored",
                        SubSession.ended_at >= t0,
                        SubSession.ended_at < t1,
                    )
                    .distinct()
                )
            )
    reader = _reader(ctx)
    sessionizer = Sessionizer(
        sessions=_db(ctx), lake=ctx.lake, config=reader.config, judge=judge, clock=reader.now
    )
    n = 0
    for dev in sorted(developers):
        n += sessionizer.rejudge(who.org_id, dev, t0, t1, reader.now(), judge)
    return {"rejudged": n, "judge": judge.name, "version": judge.version}


# --- trivia --------------------------------------------------------------------------------------


@router.get("/trivia", response_model=list[TriviaItem])
def trivia(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """Sub-sessions of the window left out of scoring (below the substance floor), newest first."""
    dev = target_developer(ctx, who, user_id)
    w = _current(ctx, dev, window)
    with _db(ctx)() as s:
        rows = s.execute(
            select(
                TriviaRow.sub_session_id,
                TriviaRow.reason,
                TriviaRow.created_at,
                SubSession.title,
                SubSession.summary,
            )
            .join(SubSession, SubSession.id == TriviaRow.sub_session_id)
            .where(
                TriviaRow.developer_id == dev,
                TriviaRow.created_at >= w.start.astimezone(UTC),
                TriviaRow.created_at < w.end.astimezone(UTC),
            )
            .order_by(TriviaRow.created_at.desc(), TriviaRow.sub_session_id)
        ).all()
    return [
        {
            "score_v3_sub_session_id": r.sub_session_id,
            "reason": r.reason,
            "created_at": as_utc(r.created_at),
            "title": r.title,
            "summary": r.summary,
        }
        for r in rows
    ]


@router.get("/trivia/trend", response_model=TriviaTrendResponse)
def trivia_trend(
    window: str | None = Query(None, description=WINDOW_DOC),
    periods: int = Query(8, ge=1, le=52, description="windows in the series (max 52)"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Trivia counts (total and per reason) of the last `periods` windows, oldest first."""
    kind = parse_kind(window)
    dev = target_developer(ctx, who, user_id)
    return {"window": kind, "periods": _reader(ctx).trivia_trend(dev, kind, periods)}


# --- integrity -----------------------------------------------------------------------------------


@router.get("/integrity", response_model=IntegrityResponse)
def integrity(
    window: str | None = Query(None, description=WINDOW_DOC),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Flags of the window's sub-sessions grouped by kind (kinds without a flag left out)."""
    section = _section(ctx, who, user_id, window, "integrity")
    return {"by_kind": section["by_kind"]}


@router.get("/integrity/trend", response_model=IntegrityTrendResponse)
def integrity_trend(
    from_: str | None = Query(None, alias="from", description="ISO 8601; default to - 30 days"),
    to: str | None = Query(None, description="ISO 8601, exclusive; default now"),
    period: str = Query("day", description="day | week (calendar, in your time zone)"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Flags raised in [from, to) per calendar day or week: totals and per-kind counts."""
    if period not in ("day", "week"):
        raise BadRequest(f"period must be day or week, got {period!r}")
    reader = _reader(ctx)
    t0, t1 = _bounds(from_, to, default_days=30, now=reader.now())
    dev = target_developer(ctx, who, user_id)
    kind = "daily" if period == "day" else "weekly"
    tz = reader.state(dev).time_zone
    buckets: list[Window] = [window_at(kind, t0, tz)]
    while buckets[-1].end < t1:
        if len(buckets) >= MAX_TREND_BUCKETS:
            raise BadRequest(f"from..to spans more than {MAX_TREND_BUCKETS} {period}s")
        buckets.append(window_at(kind, buckets[-1].end, tz))
    with _db(ctx)() as s:
        flags = s.execute(
            select(IntegrityFlagRow.kind, IntegrityFlagRow.at).where(
                IntegrityFlagRow.developer_id == dev,
                IntegrityFlagRow.at >= t0,
                IntegrityFlagRow.at < t1,
            )
        ).all()
    counts: list[Counter[str]] = [Counter() for _ in buckets]
    for kind_, at in flags:
        t = as_utc(at)
        for i, b in enumerate(buckets):
            if b.contains(t):
                counts[i][kind_] += 1
                break
    return {
        "period": period,
        "from": t0,
        "to": t1,
        "buckets": [
            {
                "start": b.start,
                "end": b.end,
                "total": sum(c.values()),
                "by_kind": [{"kind": k, "count": c.get(k, 0)} for k in FLAG_KINDS],
            }
            for b, c in zip(buckets, counts, strict=True)
        ],
    }


@router.get("/integrity/recent", response_model=list[IntegrityFlagItem])
def integrity_recent(
    from_: str | None = Query(None, alias="from", description="ISO 8601; flags raised from"),
    limit: int = Query(50, ge=1, le=500, description="rows, newest first (max 500)"),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """The most recent flag rows, newest first, with their sub-session's title."""
    t0 = parse_time(from_, "from")
    dev = target_developer(ctx, who, user_id)
    where = [IntegrityFlagRow.developer_id == dev]
    if t0 is not None:
        where.append(IntegrityFlagRow.at >= t0)
    with _db(ctx)() as s:
        rows = s.execute(
            select(IntegrityFlagRow, SubSession.title)
            .join(SubSession, SubSession.id == IntegrityFlagRow.sub_session_id)
            .where(*where)
            .order_by(IntegrityFlagRow.at.desc(), IntegrityFlagRow.id)
            .limit(limit)
        ).all()
    return [
        {
            "id": f.id,
            "score_v3_sub_session_id": f.sub_session_id,
            "kind": f.kind,
            "blocking": f.blocking,
            "detail": f.detail,
            "at": as_utc(f.at),
            "title": title,
        }
        for f, title in rows
    ]


# --- sub-sessions --------------------------------------------------------------------------------


def _sub_items(s: Session, *where: Any, limit: int) -> list[dict[str, Any]]:
    rows = s.execute(
        select(SubSession, ScoreSession.claude_session_id)
        .join(ScoreSession, ScoreSession.id == SubSession.session_row_id)
        .options(defer(SubSession.verdict), defer(SubSession.digest))
        .where(*where)
        .order_by(SubSession.started_at.desc(), SubSession.id)
        .limit(limit)
    ).all()
    return [_sub_item(row, claude_sid) for row, claude_sid in rows]


@router.patch("/sub-sessions/{sub_session_id}", response_model=SubSessionItem)
def patch_sub_session(
    sub_session_id: str,
    body: SubSessionPatch,
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Rename (and optionally re-summarize) a sub-session; title_source becomes user_edited,
    which the sessionizer and judges never overwrite."""
    title = body.title.strip()
    if not title:
        raise BadRequest("title must not be blank")
    dev = target_developer(ctx, who, user_id)
    with _db(ctx).begin() as s:
        row = _owned_sub_session(s, sub_session_id, dev)
        values: dict[str, Any] = {
            "title": title,
            "title_source": "user_edited",
            "updated_at": datetime.now(UTC),
        }
        if body.summary is not None:
            values["summary"] = body.summary
        s.execute(update(SubSession).where(SubSession.id == row.id).values(**values))
    with _db(ctx)() as s:
        return _sub_items(s, SubSession.id == sub_session_id, limit=1)[0]


@router.get("/realtime/sub-sessions", response_model=list[SubSessionItem])
def realtime_sub_sessions(
    limit: int = Query(200, ge=1, le=1000, description="rows (max 1000)"),
    from_: str | None = Query(
        None, alias="from", description="ISO 8601; sub-sessions active (ended) from"
    ),
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """Recent sub-sessions, open and scored, started_at DESC, with claude_session_id."""
    t0 = parse_time(from_, "from")
    dev = target_developer(ctx, who, user_id)
    where = [SubSession.developer_id == dev]
    if t0 is not None:
        where.append(SubSession.ended_at >= t0)
    with _db(ctx)() as s:
        return _sub_items(s, *where, limit=limit)


# --- v2 / v3 toggle ------------------------------------------------------------------------------


@router.get("/toggle", response_model=TogglePref)
def get_toggle(
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """The preferred scoring version: "v2", "v3", or null for the org default."""
    dev = target_developer(ctx, who, user_id)
    with _db(ctx)() as s:
        pref = s.scalar(select(Preference.score_pref).where(Preference.developer_id == dev))
    return {"pref": pref}


@router.put("/toggle", response_model=TogglePref)
def put_toggle(
    body: TogglePref,
    user_id: str | None = Query(None, description=USER_DOC),
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Store the preferred scoring version (null returns to the org default)."""
    dev = target_developer(ctx, who, user_id)
    with _db(ctx).begin() as s:
        row = s.get(Preference, dev)
        if row is None:
            s.add(Preference(developer_id=dev, score_pref=body.pref))
        else:
            row.score_pref = body.pref
    return {"pref": body.pref}
