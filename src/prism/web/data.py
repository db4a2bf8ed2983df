"""What the pages show, read in-process from the same services the API uses.

Window metrics come from `ScoreReader.report` (the very dict /v1/score_v3/score|speed|tokens|
skill|integrity return); lists call the score_v3 route functions as plain Python functions, so
a page and its API twin cannot disagree. Writes (rename, toggle, keys, webhooks) go through the
same functions and stores as their API routes. Everything here is synchronous: pages run it in
a worker thread.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from prism.api.deps import EngineContext
from prism.api.routes import keys as keys_routes
from prism.api.routes import score_v3 as v3
from prism.api.schemas import KeyCreate, SubSessionPatch, TogglePref
from prism.errors import NotFound
from prism.lake.query import Filters
from prism.score.reader import ScoreReader, as_utc
from prism.score.windows import Window, parse_kind, zone
from prism.sessions.model import REDACTED
from prism.store.keys import KeyInfo, NewKey, Principal
from prism.store.models import IntegrityFlagRow, Preference, SubSession
from prism.webhooks.store import WebhookStore

TIMELINE_LIMIT = 5000
TEXT_PREVIEW = 600


def reader(ctx: EngineContext) -> ScoreReader:
    assert ctx.scores is not None  # EngineContext builds it
    return ctx.scores


def time_zone(ctx: EngineContext, who: Principal) -> str:
    return reader(ctx).state(who.developer_id).time_zone


def window(ctx: EngineContext, who: Principal, kind: str) -> Window:
    r = reader(ctx)
    return r.window(parse_kind(kind), r.state(who.developer_id))


def report(ctx: EngineContext, who: Principal, kind: str) -> dict[str, Any]:
    """Every window section (score, speed, tokens, skill, integrity) as the API returns it."""
    return reader(ctx).report(who.developer_id, parse_kind(kind))


# --- lists (the score_v3 route functions, called in-process) -------------------------------------


def scored_arcs(ctx: EngineContext, who: Principal, kind: str) -> list[dict[str, Any]]:
    return v3.speed_sessions(window=kind, user_id=None, ctx=ctx, who=who)


def open_arcs(ctx: EngineContext, who: Principal, limit: int = 50) -> list[dict[str, Any]]:
    rows = v3.realtime_sub_sessions(limit=limit, from_=None, user_id=None, ctx=ctx, who=who)
    return [r for r in rows if r["status"] == "open"]


def recent_arcs(ctx: EngineContext, who: Principal, limit: int = 8) -> list[dict[str, Any]]:
    return v3.realtime_sub_sessions(limit=limit, from_=None, user_id=None, ctx=ctx, who=who)


def tokens_trend(ctx: EngineContext, who: Principal, kind: str, periods: int = 8) -> list[Any]:
    body = v3.tokens_trend(window=kind, periods=periods, user_id=None, ctx=ctx, who=who)
    periods_: list[Any] = body["periods"]
    return periods_


def trivia(ctx: EngineContext, who: Principal, kind: str) -> list[dict[str, Any]]:
    return v3.trivia(window=kind, user_id=None, ctx=ctx, who=who)


def trivia_trend(ctx: EngineContext, who: Principal, kind: str, periods: int = 8) -> list[Any]:
    body = v3.trivia_trend(window=kind, periods=periods, user_id=None, ctx=ctx, who=who)
    periods_: list[Any] = body["periods"]
    return periods_


def integrity_recent(ctx: EngineContext, who: Principal, limit: int = 50) -> list[dict[str, Any]]:
    return v3.integrity_recent(from_=None, limit=limit, user_id=None, ctx=ctx, who=who)


def integrity_trend(ctx: EngineContext, who: Principal, days: int = 28) -> dict[str, Any]:
    now = reader(ctx).now()
    start = (now - timedelta(days=days)).isoformat()
    return v3.integrity_trend(
        from_=start, to=now.isoformat(), period="day", user_id=None, ctx=ctx, who=who
    )


# --- one arc -------------------------------------------------------------------------------------


def _short_tool_detail(e: dict[str, Any]) -> str | None:
    """The one parameter that says what a tool call did (command, path or pattern)."""
    for raw in (e.get("tool_parameters"), e.get("tool_input")):
        if not raw or raw == REDACTED:
            continue
        try:
            params = json.loads(raw)
        except ValueError:
            return str(raw)[:200]
        if isinstance(params, dict):
            for k in ("bash_command", "command", "full_command", "file_path", "pattern", "url"):
                if params.get(k):
                    return str(params[k])[:200]
    return None


def _preview(text: Any) -> str | None:
    if text is None or text == REDACTED:
        return None
    s = str(text)
    return s if len(s) <= TEXT_PREVIEW else s[:TEXT_PREVIEW] + "…"


def timeline(ctx: EngineContext, row: SubSession) -> list[dict[str, Any]]:
    """The arc's prompts, tool calls, model calls and errors from the lake, oldest first."""
    started, ended = as_utc(row.started_at), as_utc(row.ended_at)
    events = ctx.lake.telemetry(
        "events",
        Filters(
            org_id=row.org_id,
            developer_id=row.developer_id,
            start=started,
            end=ended + timedelta(microseconds=1),
            session_id=row.claude_session_id,
            limit=TIMELINE_LIMIT,
        ),
    )
    events.sort(key=lambda e: (e["time"], e.get("event_sequence") or -1))
    out: list[dict[str, Any]] = []
    for e in events:
        name = e.get("event_name") or "event"
        item: dict[str, Any] = {"time": e["time"], "event": name}
        if name == "user_prompt":
            item.update(
                kind="prompt", text=_preview(e.get("prompt")), length=e.get("prompt_length")
            )
        elif name == "tool_result":
            item.update(
                kind="tool",
                tool=e.get("tool_name"),
                success=e.get("success"),
                duration_ms=e.get("duration_ms"),
                detail=_short_tool_detail(e),
                error=e.get("error"),
            )
        elif name == "tool_decision":
            if (e.get("decision") or "").lower() in ("accept", "allow", "approved"):
                continue  # an accepted call shows as its tool_result
            item.update(kind="decision", tool=e.get("tool_name"), decision=e.get("decision"))
        elif name == "api_request":
            item.update(
                kind="api",
                model=e.get("model"),
                input=e.get("input_tokens") or 0,
                output=e.get("output_tokens") or 0,
                cache_read=e.get("cache_read_tokens") or 0,
                cache_write=e.get("cache_creation_tokens") or 0,
                cost_usd=(e.get("cost_micro_usd") or 0) / 1_000_000,
                duration_ms=e.get("duration_ms"),
            )
        elif name == "api_error":
            item.update(kind="error", error=e.get("error"), status=e.get("status_code"))
        elif name == "assistant_response":
            item.update(kind="response", text=_preview(e.get("response")))
        else:
            item.update(kind="other")
        out.append(item)
    return out


def arc_detail(ctx: EngineContext, who: Principal, arc_id: str) -> dict[str, Any]:
    """One of the developer's arcs: its fields, verdict with evidence, prompts and timeline."""
    assert ctx.sessions is not None
    with ctx.sessions() as s:
        row = s.scalar(
            select(SubSession).where(
                SubSession.id == arc_id, SubSession.developer_id == who.developer_id
            )
        )
        if row is None:
            raise NotFound("No such sub-session")
        s.expunge(row)
        flags = s.execute(
            select(IntegrityFlagRow.kind, IntegrityFlagRow.blocking, IntegrityFlagRow.detail)
            .where(IntegrityFlagRow.sub_session_id == arc_id)
            .order_by(IntegrityFlagRow.kind)
        ).all()
    prompts = v3.sub_session_prompts(sub_session_id=arc_id, user_id=None, ctx=ctx, who=who)
    started, ended = as_utc(row.started_at), as_utc(row.ended_at)
    tokens = {
        "input": row.input_tokens or 0,
        "output": row.output_tokens or 0,
        "cache_read": row.cache_read_tokens or 0,
        "cache_write": row.cache_write_tokens or 0,
    }
    return {
        "id": row.id,
        "claude_session_id": row.claude_session_id,
        "status": row.status,
        "title": row.title,
        "summary": row.summary,
        "title_source": row.title_source,
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": (ended - started).total_seconds(),
        "prompt_count": row.prompt_count,
        "qualifying": row.qualifying,
        "crushed": row.crushed,
        "outcome": row.outcome,
        "outcome_confidence": row.outcome_confidence,
        "intent_class": row.intent_class,
        "letter_grade": row.letter_grade,
        "prompt_grade": row.prompt_grade,
        "judge_status": row.judge_status,
        "judge_name": row.judge_name,
        "judge_version": row.judge_version,
        "is_rework": row.is_rework,
        "reworked_later": row.reworked_later,
        "trivia_reason": row.trivia_reason,
        "tokens": tokens,
        "cost_usd": (row.cost_micro_usd or 0) / 1_000_000,
        "verdict": row.verdict or {},
        "flags": [{"kind": k, "blocking": b, "detail": d} for k, b, d in flags],
        "prompts": prompts["prompts"],
        "timeline": timeline(ctx, row),
    }


def rename(
    ctx: EngineContext, who: Principal, arc_id: str, title: str, summary: str | None
) -> dict[str, Any]:
    body = SubSessionPatch(title=title, summary=summary)
    return v3.patch_sub_session(sub_session_id=arc_id, body=body, user_id=None, ctx=ctx, who=who)


# --- preferences ---------------------------------------------------------------------------------


def get_toggle(ctx: EngineContext, who: Principal) -> str | None:
    pref: str | None = v3.get_toggle(user_id=None, ctx=ctx, who=who)["pref"]
    return pref


def put_toggle(ctx: EngineContext, who: Principal, pref: str | None) -> None:
    v3.put_toggle(body=TogglePref(pref=pref), user_id=None, ctx=ctx, who=who)  # type: ignore[arg-type]


def set_time_zone(ctx: EngineContext, who: Principal, name: str) -> str:
    """Store the developer's zone (windows, times); 400 for a name the zone database lacks."""
    name = name.strip()
    zone(name)  # raises BadRequest
    assert ctx.sessions is not None
    with ctx.sessions.begin() as s:
        row = s.get(Preference, who.developer_id)
        if row is None:
            s.add(Preference(developer_id=who.developer_id, extra={"time_zone": name}))
        else:
            row.extra = {**(row.extra or {}), "time_zone": name}
    return name


# --- keys and webhooks ---------------------------------------------------------------------------


def list_keys(ctx: EngineContext, who: Principal) -> list[KeyInfo]:
    """The keys the API lists for this principal: the org's for admins, else their own."""
    keys = ctx.keys.list_keys(org_id=who.org_id)
    if not who.is_admin:
        keys = [k for k in keys if k.developer_id == who.developer_id]
    return keys


def create_key(
    ctx: EngineContext, who: Principal, developer: str, scope: str, name: str | None
) -> NewKey:
    body = KeyCreate(developer=developer, org=None, scope=scope, name=name or None)  # type: ignore[arg-type]
    created = keys_routes.create_key(body=body, ctx=ctx, who=who)
    return NewKey(
        id=created.id,
        key=created.key,
        developer=created.developer,
        org=created.org,
        scope=created.scope,
    )


def revoke_key(ctx: EngineContext, who: Principal, key_id: str) -> dict[str, Any]:
    return keys_routes.revoke_key(key_id=key_id, ctx=ctx, who=who).model_dump()


def webhooks(ctx: EngineContext) -> WebhookStore:
    assert ctx.sessions is not None
    return WebhookStore(ctx.sessions)
