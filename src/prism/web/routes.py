"""The dashboard's pages: server-rendered HTML on the engine's port, next to the API.

`install_dashboard(app)` adds the pages (under /dashboard/, with /login and /logout) and the
static files. Pages read in-process (`prism.web.data`) what the API serves, so the numbers are
the API's. Every state change is a POST form carrying the session's CSRF token; errors become
rendered pages with the error's status, never a stack trace.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from prism import __version__
from prism.api.deps import EngineContext
from prism.errors import BadRequest, Forbidden, PrismError, Unauthorized
from prism.runtime.bootstrap import claude_code_env
from prism.score.thresholds import RUBRIC_BOOLEANS
from prism.web import charts, copy, data, format
from prism.web.auth import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SignedIn,
    new_token,
    same_token,
    signed_in,
    web_auth,
)
from prism.web.reports import ReportError, ReportsClient, ReportsUnavailable, report_id
from prism.webhooks import targets

log = logging.getLogger("prism.web")

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
PREFIX = "/dashboard"
KEY_PLACEHOLDER = "gck_...your key..."
MAX_FORM_BYTES = 64 * 1024
LIVE_TYPES = ",".join(f"prism.score_v3.sub_session.{t}" for t in ("created", "updated", "scored"))
WEBHOOK_EVENTS = (
    "prism.score_v3.sub_session.created",
    "prism.score_v3.sub_session.updated",
    "prism.score_v3.sub_session.scored",
    "report.started",
    "report.completed",
    "report.failed",
    "integrity.flagged",
    "telemetry.received",
)
NAV = (
    ("score", "Score", f"{PREFIX}/"),
    ("speed", "Speed", f"{PREFIX}/speed"),
    ("tokens", "Tokens", f"{PREFIX}/tokens"),
    ("skill", "Skill", f"{PREFIX}/skill"),
    ("sessions", "Sessions", f"{PREFIX}/sessions"),
    ("trivia", "Trivia", f"{PREFIX}/trivia"),
    ("integrity", "Integrity", f"{PREFIX}/integrity"),
    ("reports", "Reports", f"{PREFIX}/reports"),
    ("start", "Get started", f"{PREFIX}/start"),
    ("settings", "Settings", f"{PREFIX}/settings"),
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _asset_version() -> str:
    h = hashlib.sha256()
    for name in sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file()):
        h.update((STATIC_DIR / name).read_bytes())
    return h.hexdigest()[:10]


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
format.install(_env)


def points(rows: list[dict[str, Any]], label_key: str, value_key: str) -> list[tuple[str, Any]]:
    """(label, value) pairs of a trend, for `charts.columns`."""
    return [(str(r[label_key]), r[value_key]) for r in rows]


_env.globals.update(
    points=points,
    kpi=format.kpi,
    charts=charts,
    copy=copy,
    nav=NAV,
    version=__version__,
    booleans=RUBRIC_BOOLEANS,
    asset_version=_asset_version(),
    live_types=LIVE_TYPES,
    prefix=PREFIX,
)


# --- errors, auth, forms --------------------------------------------------------------------------


class NeedsSignIn(Exception):
    """The page needs a dashboard session: redirect to the sign-in form."""


class CsrfRejected(Forbidden):
    code = "csrf_rejected"


class PrismErrorPage(PrismError):
    """An error from another service, shown with that service's status and sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status if 400 <= status < 600 else 502
        self.message = message


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    me: SignedIn | None = None,
    ctx: dict[str, Any] | None = None,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "request": request,
        "me": me,
        "who": me.principal if me else None,
        "csrf": me.csrf if me else None,
        "path": request.url.path,
        "tz": "UTC",
        "window": None,
    }
    values.update(ctx or {})
    html = _env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    me = request.scope.get("prism_signed_in")
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 401: "Not signed in"}
    return render(
        request,
        "error.html",
        status=status,
        me=me,
        ctx={
            "title": titles.get(status, "Something went wrong"),
            "message": message,
            "status": status,
        },
    )


class PageRoute(APIRoute):
    """Routes of the dashboard: errors become pages (or a redirect to sign in), not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except NeedsSignIn:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
            except PrismError as exc:
                if exc.status >= 500:
                    log.error("dashboard error on %s: %s", request.url.path, exc.message)
                    return error_page(request, 500, "Prism could not load this page.")
                return error_page(request, exc.status, exc.message)
            except (ValidationError, RequestValidationError) as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body",))
                return error_page(
                    request, 400, f"{where or 'form'}: {first.get('msg', 'invalid value')}"
                )

        return handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


async def _me(request: Request) -> SignedIn:
    me = await asyncio.to_thread(signed_in, request)
    if me is None:
        raise NeedsSignIn()
    return me


def _ctx(request: Request) -> EngineContext:
    ctx: EngineContext = request.app.state.prism
    return ctx


async def read_form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body (the only kind the dashboard's forms send), at most 64 KiB."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("forms must be sent as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("the form is too large")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None


def field(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


async def _checked_form(request: Request, me: SignedIn) -> dict[str, list[str]]:
    """The form of a signed-in POST, after its CSRF token matched the session's."""
    form = await read_form(request)
    if not same_token(field(form, CSRF_FIELD), me.csrf):
        raise CsrfRejected(
            "This form's security token is missing or out of date. Reload the page and try again."
        )
    return form


def _window(request: Request) -> str:
    value = request.query_params.get("window") or "weekly"
    if value not in copy.WINDOWS:
        raise BadRequest(f"window must be one of {', '.join(copy.WINDOWS)}, got {value!r}")
    return value


def _safe_next(value: str | None) -> str:
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/"


def _session_cookie(response: Response, request: Request, me: SignedIn) -> None:
    settings = _ctx(request).settings
    response.set_cookie(
        SESSION_COOKIE,
        me.token,
        max_age=int(settings.web_session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.web_cookie_secure,
        path="/",
    )


async def _page_base(request: Request, me: SignedIn, active: str) -> dict[str, Any]:
    ctx = _ctx(request)
    tz = await asyncio.to_thread(data.time_zone, ctx, me.principal)
    return {"active": active, "tz": tz}


async def _windowed(
    request: Request, active: str
) -> tuple[SignedIn, EngineContext, str, dict[str, Any]]:
    me = await _me(request)
    ctx = _ctx(request)
    kind = _window(request)
    base = await _page_base(request, me, active)
    w = await asyncio.to_thread(data.window, ctx, me.principal, kind)
    base.update(window=kind, window_range=w)
    return me, ctx, kind, base


# --- sign in and out ------------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request) -> Response:
    me = await asyncio.to_thread(signed_in, request)
    nxt = _safe_next(request.query_params.get("next"))
    if me is not None:
        return RedirectResponse(nxt, status_code=303)
    token = new_token()
    response = render(
        request,
        "login.html",
        ctx={
            "title": "Sign in",
            "login_csrf": token,
            "next": nxt,
            "signed_out": request.query_params.get("signed_out") == "1",
        },
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_ctx(request).settings.web_cookie_secure,
        path="/login",
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    if not same_token(field(form, CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise CsrfRejected(
            "The sign-in form expired or came from another page. Open the sign-in page again."
        )
    nxt = _safe_next(field(form, "next"))
    secret = field(form, "api_key").strip()
    ctx = _ctx(request)
    try:
        who = await asyncio.to_thread(ctx.keys.authenticate, secret)
    except Unauthorized:
        token = new_token()
        response = render(
            request,
            "login.html",
            status=401,
            ctx={
                "title": "Sign in",
                "login_csrf": token,
                "next": nxt,
                "error": "That API key is not valid: check it, or ask an admin for a new one.",
            },
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=ctx.settings.web_cookie_secure,
            path="/login",
        )
        return response
    me = await asyncio.to_thread(web_auth(request).open, who.key_id)
    if me is None:  # revoked between the two calls
        raise Unauthorized("Invalid API key")
    done = RedirectResponse(nxt, status_code=303)
    _session_cookie(done, request, me)
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return done


@router.get("/login/{token}")
async def login_link(token: str, request: Request) -> Response:
    me = await asyncio.to_thread(web_auth(request).redeem_link_token, token)
    if me is None:
        return render(
            request,
            "error.html",
            status=403,
            ctx={
                "title": "This sign-in link does not work",
                "message": "Sign-in links work once and expire after a few minutes. Sign in "
                "with your API key instead, or restart `prism serve` for a new link.",
                "status": 403,
                "show_login": True,
            },
        )
    # A page rather than a redirect: the next navigation starts on this site, so the
    # SameSite=Strict cookie goes with it even when the link was opened from elsewhere.
    response = render(request, "signed_in.html", ctx={"title": "Signed in", "target": f"{PREFIX}/"})
    _session_cookie(response, request, me)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    me = await asyncio.to_thread(signed_in, request)
    if me is not None:
        await _checked_form(request, me)
        await asyncio.to_thread(web_auth(request).close, me.token)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get(PREFIX)
async def dashboard_root() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


# --- score, speed, tokens, skill -----------------------------------------------------------------


def _why(arcs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Why qualifying arcs did not crush, first reason per arc (the crush rule's order)."""
    reasons: Counter[str] = Counter()
    for a in arcs:
        if not a["qualifying"] or a["crushed"]:
            continue
        if a["outcome"] != "goal_complete":
            reasons[f"Outcome: {copy.OUTCOMES.get(a['outcome'] or 'unclear', a['outcome'])}"] += 1
        elif a["is_rework"]:
            reasons["Rework of an earlier arc"] += 1
        elif a["flags"]:
            reasons["Blocked by an integrity flag"] += 1
        else:
            reasons["Intent not committed (unclear or low confidence)"] += 1
    return reasons.most_common()


@router.get(f"{PREFIX}/")
async def score_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "score")

    def load() -> dict[str, Any]:
        rep = data.report(ctx, me.principal, kind)
        arcs = data.scored_arcs(ctx, me.principal, kind)
        return {
            "score": rep["score"],
            "skill": rep["skill"],
            "why": _why(arcs),
            "trivia_count": sum(1 for a in arcs if not a["qualifying"]),
            "recent": data.recent_arcs(ctx, me.principal, 6),
        }

    base.update(await asyncio.to_thread(load))
    base["title"] = "Score"
    base["env_block"] = claude_code_env(ctx.settings, KEY_PLACEHOLDER)
    return render(request, "score.html", me=me, ctx=base)


@router.get(f"{PREFIX}/speed")
async def speed_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "speed")

    def load() -> dict[str, Any]:
        arcs = data.scored_arcs(ctx, me.principal, kind)
        crushed = sorted((a for a in arcs if a["crushed"]), key=lambda a: a["duration_seconds"])
        return {"speed": data.report(ctx, me.principal, kind)["speed"], "crushed": crushed}

    base.update(await asyncio.to_thread(load), title="Speed")
    return render(request, "speed.html", me=me, ctx=base)


@router.get(f"{PREFIX}/tokens")
async def tokens_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "tokens")

    def load() -> dict[str, Any]:
        return {
            "tokens": data.report(ctx, me.principal, kind)["tokens"],
            "trend": data.tokens_trend(ctx, me.principal, kind, 8),
        }

    base.update(await asyncio.to_thread(load), title="Tokens")
    return render(request, "tokens.html", me=me, ctx=base)


@router.get(f"{PREFIX}/skill")
async def skill_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "skill")
    rep = await asyncio.to_thread(data.report, ctx, me.principal, kind)
    base.update(skill=rep["skill"], title="Skill")
    return render(request, "skill.html", me=me, ctx=base)


# --- sessions ------------------------------------------------------------------------------------


def _arc_lists(ctx: EngineContext, me: SignedIn, kind: str) -> dict[str, Any]:
    return {
        "arcs": data.scored_arcs(ctx, me.principal, kind),
        "open_arcs": data.open_arcs(ctx, me.principal),
    }


@router.get(f"{PREFIX}/sessions")
async def sessions_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "sessions")
    base.update(await asyncio.to_thread(_arc_lists, ctx, me, kind), title="Sessions")
    base["arc_gap_seconds"] = ctx.settings.arc_gap_seconds
    return render(request, "sessions.html", me=me, ctx=base)


@router.get(f"{PREFIX}/sessions/rows")
async def session_rows(request: Request) -> Response:
    """The arcs table body alone: what live updates swap in without a reload."""
    me = await asyncio.to_thread(signed_in, request)
    if me is None:
        return Response(status_code=401, headers=SECURITY_HEADERS)
    ctx = _ctx(request)
    kind = _window(request)
    base = await _page_base(request, me, "sessions")
    base.update(await asyncio.to_thread(_arc_lists, ctx, me, kind), window=kind)
    return render(request, "_arc_rows.html", me=me, ctx=base)


@router.get(f"{PREFIX}/sessions/{{arc_id}}")
async def session_detail(arc_id: str, request: Request) -> Response:
    me = await _me(request)
    ctx = _ctx(request)
    base = await _page_base(request, me, "sessions")
    arc = await asyncio.to_thread(data.arc_detail, ctx, me.principal, arc_id)
    base.update(
        arc=arc,
        title=arc["title"] or "Arc",
        renamed=request.query_params.get("renamed"),
        min_confidence=data.reader(ctx).config.intent_min_confidence,
    )
    return render(request, "session.html", me=me, ctx=base)


@router.post(f"{PREFIX}/sessions/{{arc_id}}/rename")
async def rename_session(arc_id: str, request: Request) -> Response:
    me = await _me(request)
    form = await _checked_form(request, me)
    summary = field(form, "summary").strip() or None
    await asyncio.to_thread(
        data.rename, _ctx(request), me.principal, arc_id, field(form, "title"), summary
    )
    return RedirectResponse(
        f"{PREFIX}/sessions/{quote(arc_id, safe='')}?renamed=1", status_code=303
    )


# --- trivia, integrity ----------------------------------------------------------------------------


@router.get(f"{PREFIX}/trivia")
async def trivia_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "trivia")

    def load() -> dict[str, Any]:
        return {
            "items": data.trivia(ctx, me.principal, kind),
            "trend": data.trivia_trend(ctx, me.principal, kind, 8),
        }

    base.update(await asyncio.to_thread(load), title="Trivia")
    return render(request, "trivia.html", me=me, ctx=base)


@router.get(f"{PREFIX}/integrity")
async def integrity_page(request: Request) -> Response:
    me, ctx, kind, base = await _windowed(request, "integrity")

    def load() -> dict[str, Any]:
        return {
            "by_kind": data.report(ctx, me.principal, kind)["integrity"]["by_kind"],
            "recent": data.integrity_recent(ctx, me.principal, 50),
            "trend": data.integrity_trend(ctx, me.principal, 28),
        }

    base.update(await asyncio.to_thread(load), title="Integrity")
    base["trend_points"] = [
        (format.when(b["start"], base["tz"], "%m-%d"), b["total"]) for b in base["trend"]["buckets"]
    ]
    return render(request, "integrity.html", me=me, ctx=base)


# --- reports -------------------------------------------------------------------------------------


async def _reports_client(request: Request, me: SignedIn) -> ReportsClient:
    pref = await asyncio.to_thread(data.get_toggle, _ctx(request), me.principal)
    return ReportsClient(request, me, family="v2" if pref == "v2" else "v3")


@router.get(f"{PREFIX}/reports")
async def reports_page(request: Request) -> Response:
    me = await _me(request)
    base = await _page_base(request, me, "reports")
    client = await _reports_client(request, me)
    base.update(title="Reports", languages=copy.REPORT_LANGUAGES, api_base=client.base)
    status = 200
    try:
        base["history"] = await client.history()
        base["available"] = True
        base["pending"] = await client.pending()
        wanted = request.query_params.get("id")
        if wanted:
            base["report"] = await client.get(wanted)
            base["report_id"] = wanted
    except ReportsUnavailable:
        base["available"] = False
    except ReportError as exc:
        base["available"] = True
        base.setdefault("history", [])
        base["error"] = exc.message
        status = exc.status if 400 <= exc.status < 500 else 502
    base["deleted"] = request.query_params.get("deleted") == "1"
    return render(request, "reports.html", me=me, ctx=base, status=status)


@router.post(f"{PREFIX}/reports/generate")
async def generate_report(request: Request) -> Response:
    me = await _me(request)
    form = await _checked_form(request, me)
    language = field(form, "language", "en")
    if language not in dict(copy.REPORT_LANGUAGES):
        raise BadRequest(f"unknown report language {language!r}")
    client = await _reports_client(request, me)
    base = await _page_base(request, me, "reports")
    base.update(title="Reports", languages=copy.REPORT_LANGUAGES, api_base=client.base)
    try:
        report = await client.generate(language)
    except ReportsUnavailable:
        base["available"] = False
        return render(request, "reports.html", me=me, ctx=base, status=404)
    except ReportError as exc:
        base.update(available=True, history=[], error=exc.message)
        return render(request, "reports.html", me=me, ctx=base, status=502)
    rid = report_id(report)
    if rid is not None:
        return RedirectResponse(f"{PREFIX}/reports?id={quote(rid, safe='')}", status_code=303)
    base.update(available=True, history=await client.history(), report=report, report_id=None)
    return render(request, "reports.html", me=me, ctx=base)


@router.post(f"{PREFIX}/reports/{{rid}}/delete")
async def delete_report(rid: str, request: Request) -> Response:
    me = await _me(request)
    await _checked_form(request, me)
    client = await _reports_client(request, me)
    try:
        await client.delete(rid)
    except ReportsUnavailable:
        return RedirectResponse(f"{PREFIX}/reports", status_code=303)
    except ReportError as exc:
        raise PrismErrorPage(exc.status, exc.message) from None
    return RedirectResponse(f"{PREFIX}/reports?deleted=1", status_code=303)


# --- get started, settings ------------------------------------------------------------------------


def _key_prefix(ctx: EngineContext, me: SignedIn) -> str:
    for k in ctx.keys.list_keys(org_id=me.principal.org_id):
        if k.id == me.principal.key_id:
            return k.prefix + "…"
    return "gck_…"


@router.get(f"{PREFIX}/start")
async def start_page(request: Request) -> Response:
    me = await _me(request)
    ctx = _ctx(request)
    base = await _page_base(request, me, "start")
    base.update(
        title="Get started",
        env_block=claude_code_env(ctx.settings, KEY_PLACEHOLDER),
        ingest_url=ctx.settings.resolved_public_url,
        key_prefix=await asyncio.to_thread(_key_prefix, ctx, me),
    )
    return render(request, "start.html", me=me, ctx=base)


_ZONES = sorted(available_timezones())


async def _settings_page(
    request: Request, me: SignedIn, *, status: int = 200, **extra: Any
) -> Response:
    ctx = _ctx(request)
    base = await _page_base(request, me, "settings")

    def load() -> dict[str, Any]:
        return {
            "keys": data.list_keys(ctx, me.principal),
            "hooks": data.webhooks(ctx).list_for(me.principal),
            "pref": data.get_toggle(ctx, me.principal),
        }

    base.update(await asyncio.to_thread(load))
    base.update(
        title="Settings",
        zones=_ZONES,
        webhook_events=WEBHOOK_EVENTS,
        flash=request.query_params.get("done"),
    )
    base.update(extra)
    return render(request, "settings.html", me=me, ctx=base, status=status)


@router.get(f"{PREFIX}/settings")
async def settings_page(request: Request) -> Response:
    me = await _me(request)
    return await _settings_page(request, me)


@router.post(f"{PREFIX}/settings/keys")
async def create_key(request: Request) -> Response:
    me = await _me(request)
    form = await _checked_form(request, me)
    ctx = _ctx(request)
    developer = field(form, "developer").strip() or me.principal.email
    new = await asyncio.to_thread(
        data.create_key,
        ctx,
        me.principal,
        developer,
        field(form, "scope", "developer"),
        field(form, "name").strip() or None,
    )
    return await _settings_page(
        request,
        me,
        status=201,
        new_key=new,
        new_key_env=claude_code_env(ctx.settings, new.key),
    )


@router.post(f"{PREFIX}/settings/keys/{{key_id}}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    me = await _me(request)
    await _checked_form(request, me)
    await asyncio.to_thread(data.revoke_key, _ctx(request), me.principal, key_id)
    if key_id == me.principal.key_id:  # that key was this session's: it has ended
        response = RedirectResponse("/login?signed_out=1", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return RedirectResponse(f"{PREFIX}/settings?done=key-revoked", status_code=303)


@router.post(f"{PREFIX}/settings/webhooks")
async def create_webhook(request: Request) -> Response:
    me = await _me(request)
    form = await _checked_form(request, me)
    ctx = _ctx(request)
    url = field(form, "url").strip()
    events = [e for e in form.get("event_types", []) if e in WEBHOOK_EVENTS]
    if not url:
        raise BadRequest("url: enter the URL to deliver events to")
    if not events:
        raise BadRequest("event_types: choose at least one event type")
    scope = field(form, "scope", "developer")
    if scope not in ("developer", "org"):
        raise BadRequest("scope must be developer or org")
    await targets.check(url, allow_private=ctx.settings.webhook_allow_private)
    view, secret = await asyncio.to_thread(
        data.webhooks(ctx).create,
        me.principal,
        url=url,
        event_types=events,
        scope=scope,
        description=field(form, "description").strip() or None,
    )
    return await _settings_page(request, me, status=201, new_hook=view, new_hook_secret=secret)


@router.post(f"{PREFIX}/settings/webhooks/{{hook_id}}/delete")
async def delete_webhook(hook_id: str, request: Request) -> Response:
    me = await _me(request)
    await _checked_form(request, me)
    await asyncio.to_thread(data.webhooks(_ctx(request)).delete, me.principal, hook_id)
    return RedirectResponse(f"{PREFIX}/settings?done=webhook-deleted", status_code=303)


@router.post(f"{PREFIX}/settings/toggle")
async def set_toggle(request: Request) -> Response:
    me = await _me(request)
    form = await _checked_form(request, me)
    value = field(form, "pref", "default")
    if value not in ("v2", "v3", "default"):
        raise BadRequest("pref must be v2, v3 or default")
    pref = None if value == "default" else value
    await asyncio.to_thread(data.put_toggle, _ctx(request), me.principal, pref)
    return RedirectResponse(f"{PREFIX}/settings?done=toggle-saved", status_code=303)


@router.post(f"{PREFIX}/settings/time-zone")
async def set_time_zone(request: Request) -> Response:
    me = await _me(request)
    form = await _checked_form(request, me)
    await asyncio.to_thread(
        data.set_time_zone, _ctx(request), me.principal, field(form, "time_zone")
    )
    return RedirectResponse(f"{PREFIX}/settings?done=time-zone-saved", status_code=303)


# --- mounting ------------------------------------------------------------------------------------


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from `app`: pages, sign-in, and /dashboard/static."""
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
