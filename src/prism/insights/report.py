"""The content of a report, built from the stores in steps (language-neutral numbers).

A report covers one developer's period: a calendar window (daily, weekly, monthly in the
developer's zone, like the score endpoints) or an explicit `from`/`to`. It holds:

- the window's KPIs and their change against the previous period (v3 or v2.1 family), computed
  with `prism.score.metrics` over the same scored arcs the score endpoints read, so the numbers
  agree with /v1/score_v3/* and /v1/intelligence/*;
- the top crushed arcs;
- where time, tokens and cost went: by model from the lake's `api_request` events (DataFusion,
  every value bound), by intent from the arcs;
- trivia and integrity counts;
- the worst-graded prompts with the rubric booleans they miss (the writer turns those into
  advice).

`build` calls `checkpoint(step)` between steps; a job raises there to stop (cancellation).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from prism.lake import schema
from prism.lake.query import Lake
from prism.score import metrics as m
from prism.score.reader import ScoreReader, as_utc
from prism.score.thresholds import RUBRIC_BOOLEANS, ScoringConfig
from prism.score.windows import Window, last_windows, window_at, zone
from prism.sessions import text as tx
from prism.sessions.model import REDACTED
from prism.store.models import ArcRubric, PromptRubricRow, SubSession

FAMILIES = ("v2", "v3")
STEPS = ("arcs", "kpis", "top", "usage", "trivia", "prompts", "write", "render")
TOP_N = 5
WORST_N = 5
PROMPT_EXCERPT = 240
MAX_SPAN = timedelta(days=400)

V3_KPIS = (
    "prism_score",
    "crushed_count",
    "total_count",
    "cspw",
    "ttc_median_seconds",
    "crush_weight",
    "tpt",
    "cpcs_estimate",
    "apg",
    "cost_usd",
)
V2_KPIS = (
    "composite",
    "speed",
    "skill",
    "efficiency",
    "sse",
    "pes",
    "ie",
    "crr",
    "fc",
    "cost_usd",
)
KPIS = {"v3": V3_KPIS, "v2": V2_KPIS}


class Cancelled(Exception):
    """The job was cancelled; raised by a checkpoint to stop the work."""


@dataclass(frozen=True, slots=True)
class Period:
    """The report's window, the previous one, and the windows behind them (TET baselines)."""

    kind: str  # daily | weekly | monthly | custom
    windows: tuple[Window, ...]  # oldest first; [-1] current, [-2] previous
    time_zone: str

    @property
    def current(self) -> Window:
        return self.windows[-1]

    @property
    def previous(self) -> Window:
        return self.windows[-2]


def period(
    kind: str,
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    tz: str,
    baseline: int = 4,
) -> Period:
    """Calendar window of `kind` holding now, or [start, end) when either bound is given."""
    n = baseline + 2
    if start is None and end is None:
        return Period(kind, tuple(last_windows(kind, now, tz, n)), tz)
    z = zone(tz)
    t1 = (end or now).astimezone(z)
    t0 = (start or t1 - timedelta(days=7)).astimezone(z)
    span = t1 - t0
    wins = [Window("custom", t0 - span * i, t1 - span * i) for i in range(n)]
    return Period("custom", tuple(reversed(wins)), tz)


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


def window_stats(
    per: Sequence[Sequence[m.ScoredArc]],
    windows: Sequence[Window],
    i: int,
    now: datetime,
    config: ScoringConfig,
) -> dict[str, Any]:
    """Every KPI of window `i` (v3 and v2.1), rounded as the score endpoints round them."""
    a, w = per[i], windows[i]
    q = m.qualifying(a)
    s = m.score_stats(a, config)
    ttc = m.ttc_median_seconds(a)
    cur_tpt = m.tpt(a)
    base = [m.tpt(per[j]) for j in range(max(0, i - config.tet_baseline_windows), i)]
    tet = m.tet(cur_tpt, base)
    lg = m.legacy(a, ttc_seconds=ttc, tet_value=tet, config=config)
    shares = m.per_boolean(a)
    done = [x.prompt_count for x in q if x.outcome == "goal_complete"]
    return {
        "prism_score": s.prism_score,
        "letter_grade": s.letter_grade,
        "personal_tier": s.personal_tier,
        "crushed_count": s.crushed_count,
        "total_count": s.total_count,
        "crush_weight": _r(s.crush_weight, 3),
        "cspw": _r(m.cspw(a, w, now), 2),
        "ttc_median_seconds": _r(ttc, 1),
        "tpt": _r(cur_tpt, 1),
        "tet": _r(tet, 3),
        "cpcs_estimate": _r(m.cpcs_estimate(a), 4),
        "apg": _r(m.apg(a), 3),
        "per_boolean": {k: _r(v, 3) for k, v in shares.items()},
        "worst_pillar": m.worst_pillar(shares),
        "billed_tokens": sum(x.billed_tokens for x in q),
        "cost_usd": round(sum(x.cost_micro_usd for x in a) / 1_000_000, 6),
        "arcs": len(a),
        "mean_prompts_completed": _r(sum(done) / len(done), 3) if done else None,
        "sse": _r(lg.sse, 3),
        "pes": _r(lg.pes, 3),
        "ie": _r(lg.ie, 3),
        "crr": _r(lg.crr, 3),
        "fc": _r(lg.fc, 3),
        "speed": _r(lg.speed, 1),
        "skill": _r(lg.skill, 1),
        "efficiency": _r(lg.efficiency, 1),
        "composite": _r(lg.composite, 1),
    }


def _kpis(family: str, cur: dict[str, Any], prev: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in KPIS[family]:
        value, before = cur.get(key), prev.get(key)
        change = None
        if isinstance(value, int | float) and isinstance(before, int | float):
            change = round(value - before, 6)
        out.append({"key": key, "value": value, "previous": before, "change": change})
    return out


# --- the lake: where tokens, cost and model time went ----------------------------------------


def by_model(lake: Lake, org_id: str, developer_id: str, w: Window) -> list[dict[str, Any]]:
    """api_request totals per model in the window (DataFusion, bound parameters)."""
    start, end = w.start_utc, w.end_utc
    query = (
        "SELECT model, COUNT(*) AS requests, SUM(input_tokens) AS input_tokens, "
        "SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens, "
        "SUM(cache_creation_tokens) AS cache_write_tokens, SUM(cost_micro_usd) AS cost, "
        "SUM(duration_ms) AS duration_ms FROM events "
        "WHERE org_id = $org AND developer_id = $dev AND event_name = $event "
        "AND time >= $start AND time < $end AND date >= $start_date AND date <= $end_date "
        "GROUP BY model"
    )
    params = {
        "org": org_id,
        "dev": developer_id,
        "event": "api_request",
        "start": pa.scalar(start, type=schema.TS),
        "end": pa.scalar(end, type=schema.TS),
        "start_date": start.strftime("%Y-%m-%d"),
        "end_date": end.strftime("%Y-%m-%d"),
    }
    rows = lake.sql(query, params).to_pylist()
    out: list[dict[str, Any]] = []
    for r in rows:
        out.append(
            {
                "model": r["model"] or "unknown",
                "requests": int(r["requests"] or 0),
                "input_tokens": int(r["input_tokens"] or 0),
                "output_tokens": int(r["output_tokens"] or 0),
                "cache_read_tokens": int(r["cache_read_tokens"] or 0),
                "cache_write_tokens": int(r["cache_write_tokens"] or 0),
                "cost_usd": int(r["cost"] or 0) / 1_000_000,
                "model_seconds": round(float(r["duration_ms"] or 0) / 1000, 1),
            }
        )
    out.sort(key=lambda x: (-float(x["cost_usd"]), -int(x["requests"]), str(x["model"])))
    return out


def by_intent(arcs: Sequence[m.ScoredArc]) -> list[dict[str, Any]]:
    groups: dict[str, list[m.ScoredArc]] = defaultdict(list)
    for a in arcs:
        groups[a.intent_class if a.qualifying else "trivia"].append(a)
    out: list[dict[str, Any]] = []
    for intent, group in groups.items():
        out.append(
            {
                "intent_class": intent,
                "arcs": len(group),
                "crushed": sum(1 for a in group if a.crushed),
                "seconds": round(sum(a.wall_seconds for a in group), 1),
                "billed_tokens": sum(a.billed_tokens for a in group),
                "cost_usd": sum(a.cost_micro_usd for a in group) / 1_000_000,
            }
        )
    out.sort(key=lambda x: (-float(x["seconds"]), str(x["intent_class"])))
    return out


def prompt_texts(
    lake: Lake,
    org_id: str,
    developer_id: str,
    prompt_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
) -> dict[str, str]:
    """Texts of the prompts in [start, end] (only `prompt_ids` when given), one bound-parameter
    query; unlogged prompts are left out."""
    if prompt_ids is not None and not prompt_ids:
        return {}
    params: dict[str, Any] = {
        "org": org_id,
        "dev": developer_id,
        "event": "user_prompt",
        "start": pa.scalar(start, type=schema.TS),
        "end": pa.scalar(end, type=schema.TS),
        "start_date": start.strftime("%Y-%m-%d"),
        "end_date": end.strftime("%Y-%m-%d"),
    }
    query = (
        "SELECT prompt_id, prompt FROM events WHERE org_id = $org AND developer_id = $dev "
        "AND event_name = $event AND time >= $start AND time <= $end "
        "AND date >= $start_date AND date <= $end_date"
    )
    if prompt_ids is not None:
        query += " AND " + Lake._in_list("prompt_id", "p", list(prompt_ids), params)
    out = {}
    for r in lake.sql(query, params).to_pylist():
        text = r.get("prompt")
        if text and text != REDACTED:
            out[r["prompt_id"]] = text
    return out


# --- the database: titles, prompt rubrics ----------------------------------------------------


def _titles(s: Session, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    if not ids:
        return {}
    rows = s.execute(
        select(SubSession.id, SubSession.title, SubSession.claude_session_id).where(
            SubSession.id.in_(list(ids))
        )
    ).all()
    return {r.id: (r.title, r.claude_session_id) for r in rows}


def missing_booleans(values: dict[str, Any], applies: dict[str, Any]) -> list[str]:
    booleans = values.get("booleans") or {}
    return [b for b in RUBRIC_BOOLEANS if applies.get(b) and not booleans.get(b)]


def worst_prompts(
    sessions: sessionmaker[Session],
    lake: Lake,
    org_id: str,
    developer_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Graded prompts of the developer's scored arcs that ended in [start, end), lowest grade
    first (ties: newest first), with the applicable booleans they miss; and the total."""
    with sessions() as s:
        rows = s.execute(
            select(
                PromptRubricRow.sub_session_id,
                PromptRubricRow.prompt_id,
                PromptRubricRow.at,
                PromptRubricRow.values,
                ArcRubric.applicability,
                ArcRubric.intent_class,
                SubSession.title,
                SubSession.claude_session_id,
            )
            .join(SubSession, SubSession.id == PromptRubricRow.sub_session_id)
            .join(ArcRubric, ArcRubric.sub_session_id == PromptRubricRow.sub_session_id)
            .where(
                SubSession.developer_id == developer_id,
                SubSession.ended_at >= start.astimezone(UTC),
                SubSession.ended_at < end.astimezone(UTC),
                SubSession.status == "scored",
                SubSession.qualifying.is_(True),
            )
        ).all()
    graded = [r for r in rows if (r.values or {}).get("grade") is not None]
    texts: dict[str, str] = {}
    if graded:
        times = [as_utc(r.at) for r in graded]
        texts = prompt_texts(lake, org_id, developer_id, None, min(times), max(times))
    # An approval or "go on" is the arc's closing signal, not a request: it is not graded here.
    graded = [
        r
        for r in graded
        if not (t := texts.get(r.prompt_id or "")) or not (tx.is_continuation(t) or t[:1] == "/")
    ]
    graded.sort(key=lambda r: (r.values["grade"], -as_utc(r.at).timestamp(), r.prompt_id or ""))
    page = graded[offset : offset + limit]
    out = []
    for r in page:
        v = r.values or {}
        text = texts.get(r.prompt_id or "")
        if text is not None and len(text) > PROMPT_EXCERPT:
            text = text[: PROMPT_EXCERPT - 1] + "…"
        out.append(
            {
                "score_v3_sub_session_id": r.sub_session_id,
                "claude_session_id": r.claude_session_id,
                "prompt_id": r.prompt_id,
                "time": as_utc(r.at),
                "prompt": text,
                "title": r.title,
                "intent_class": r.intent_class,
                "grade": round(float(v["grade"]), 3),
                "letter_grade": v.get("letter_grade"),
                "judge_status": v.get("judge_status"),
                "booleans": {b: bool((v.get("booleans") or {}).get(b)) for b in RUBRIC_BOOLEANS},
                "missing": missing_booleans(v, r.applicability or {}),
            }
        )
    return out, len(graded)


# --- the whole content ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sources:
    sessions: sessionmaker[Session]
    lake: Lake
    reader: ScoreReader
    config: ScoringConfig


def _noop(step: str) -> None:
    return None


def build(
    src: Sources,
    *,
    family: str,
    org_id: str,
    developer_id: str,
    per: Period,
    now: datetime,
    checkpoint: Callable[[str], None] = _noop,
) -> dict[str, Any]:
    """The report's language-neutral content (no prose, no markdown: see `writer`)."""
    checkpoint("arcs")
    wins = per.windows
    arcs = src.reader.arcs(developer_id, wins[0].start_utc, wins[-1].end_utc)
    buckets = [[a for a in arcs if w.contains(a.ended_at)] for w in wins]
    cur_arcs = buckets[-1]

    checkpoint("kpis")
    cur = window_stats(buckets, wins, len(wins) - 1, now, src.config)
    prev = window_stats(buckets, wins, len(wins) - 2, now, src.config)

    checkpoint("top")
    crushed = sorted(
        (a for a in cur_arcs if a.qualifying and a.crushed),
        key=lambda a: (-a.billed_tokens, a.wall_seconds, a.arc_id),
    )[:TOP_N]
    with src.sessions() as s:
        titles = _titles(s, [a.arc_id for a in crushed])
    top = [
        {
            "score_v3_sub_session_id": a.arc_id,
            "claude_session_id": titles.get(a.arc_id, (None, None))[1],
            "title": titles.get(a.arc_id, (None, None))[0],
            "intent_class": a.intent_class,
            "ended_at": a.ended_at,
            "seconds": round(a.wall_seconds, 1),
            "prompt_count": a.prompt_count,
            "grade": _r(a.grade, 3),
            "billed_tokens": a.billed_tokens,
            "cost_usd": a.cost_micro_usd / 1_000_000,
        }
        for a in crushed
    ]

    checkpoint("usage")
    models = by_model(src.lake, org_id, developer_id, per.current)
    intents = by_intent(cur_arcs)

    checkpoint("trivia")
    trivia = m.trivia_counts(cur_arcs)
    integrity = m.integrity_by_kind(cur_arcs)

    checkpoint("prompts")
    worst, graded = worst_prompts(
        src.sessions,
        src.lake,
        org_id,
        developer_id,
        per.current.start_utc,
        per.current.end_utc,
        limit=WORST_N,
    )
    missed = Counter(b for p in worst for b in p["missing"])
    return {
        "family": family,
        "developer_id": developer_id,
        "window": {
            "kind": per.kind,
            "from": per.current.start_utc,
            "to": per.current.end_utc,
            "time_zone": per.time_zone,
        },
        "previous_window": {"from": per.previous.start_utc, "to": per.previous.end_utc},
        "kpis": _kpis(family, cur, prev),
        "stats": cur,
        "previous_stats": prev,
        "top_crushed": top,
        "breakdown": {
            "by_model": models,
            "by_intent": intents,
            "totals": {
                "arcs": len(cur_arcs),
                "seconds": round(sum(a.wall_seconds for a in cur_arcs), 1),
                "billed_tokens": sum(a.billed_tokens for a in cur_arcs),
                "cost_usd": sum(a.cost_micro_usd for a in cur_arcs) / 1_000_000,
                "model_requests": sum(x["requests"] for x in models),
            },
        },
        "rubric": {"per_boolean": cur["per_boolean"], "worst_pillar": cur["worst_pillar"]},
        "trivia": {"total": sum(trivia.values()), "by_reason": trivia},
        "integrity": {"by_kind": integrity},
        "worst_prompts": worst,
        "graded_prompts": graded,
        "missed_most": [b for b, _ in missed.most_common()],
    }


def new_id() -> str:
    return str(uuid.uuid4())


def utc_window(kind: str, now: datetime, tz: str) -> Window:
    return window_at(kind, now, tz)
