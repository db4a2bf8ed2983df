"""Dashboard sign-in: server-side sessions behind an HttpOnly cookie, CSRF tokens, one-time links.

A session is opened with an API key (the sign-in form) or a one-time link (`prism serve` prints
one for the admin). It acts as that key: the principal is rebuilt from the key on every request,
so revoking the key signs the browser out. Only SHA-256 hashes of cookie and link tokens are
stored, like API keys.

CSRF: every dashboard form carries the session's own token (session-bound); the sign-in form,
before there is a session, uses a double-submit cookie. The engine API also accepts the session
cookie (`cookie_principal`, used by `prism.api.deps.principal`): for GET/HEAD as it is (the
event stream, the realtime snapshot), for other methods only with the session's token in an
`X-CSRF-Token` header. The cookie is SameSite=Strict, so other sites never send it at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism.settings import Settings
from prism.store.keys import Principal
from prism.store.models import ApiKey, Developer, Org, WebLoginToken, WebSession

SESSION_COOKIE = "prism_session"
LOGIN_CSRF_COOKIE = "prism_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
_MAX_TOKEN = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; a missing one never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The browser behind a request: who it acts as, its cookie token and its CSRF token."""

    principal: Principal
    token: str
    csrf: str
    expires_at: datetime


class WebAuth:
    """Sessions and one-time sign-in links in the metadata store."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.session_ttl = timedelta(hours=settings.web_session_hours)
        self.link_ttl = timedelta(minutes=settings.web_login_link_minutes)

    # --- principals ------------------------------------------------------------------------------
    def principal_for_key(self, s: Session, key_id: str) -> Principal | None:
        """The principal an unrevoked key acts as, or None."""
        row = s.execute(
            select(ApiKey, Developer.email, Developer.time_zone)
            .join(Developer, Developer.id == ApiKey.developer_id)
            .where(ApiKey.id == key_id)
        ).first()
        if row is None or row[0].revoked_at is not None:
            return None
        key, email, tz = row
        return Principal(
            key_id=key.id,
            org_id=key.org_id,
            developer_id=key.developer_id,
            email=email,
            scope=key.scope,
            time_zone=tz or "UTC",
        )

    # --- sessions --------------------------------------------------------------------------------
    def open(self, key_id: str) -> SignedIn | None:
        """A new session for an unrevoked key (a fresh token on every sign-in)."""
        token, csrf, now = new_token(), new_token(), _now()
        with self.sessions.begin() as s:
            who = self.principal_for_key(s, key_id)
            if who is None:
                return None
            # Housekeeping at sign-in (rare, cheap): forget long-dead sessions and links.
            stale = now - timedelta(days=1)
            s.execute(delete(WebSession).where(WebSession.expires_at < stale))
            s.execute(delete(WebLoginToken).where(WebLoginToken.expires_at < stale))
            s.add(
                WebSession(
                    id=_hash(token),
                    key_id=key_id,
                    developer_id=who.developer_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + self.session_ttl,
                )
            )
        return SignedIn(who, token, csrf, now + self.session_ttl)

    def resolve(self, token: str | None) -> SignedIn | None:
        """The live session of a cookie token: unexpired, not signed out, its key unrevoked."""
        if not token or len(token) > _MAX_TOKEN:
            return None
        with self.sessions() as s:
            row = s.get(WebSession, _hash(token))
            if row is None or row.revoked_at is not None or _utc(row.expires_at) <= _now():
                return None
            csrf, expires = row.csrf_token, _utc(row.expires_at)
            who = self.principal_for_key(s, row.key_id)
        if who is None:
            return None
        return SignedIn(who, token, csrf, expires)

    def close(self, token: str | None) -> None:
        """Sign out: the token stops working at once."""
        if not token or len(token) > _MAX_TOKEN:
            return
        with self.sessions.begin() as s:
            s.execute(
                update(WebSession)
                .where(WebSession.id == _hash(token), WebSession.revoked_at.is_(None))
                .values(revoked_at=_now())
            )

    # --- one-time links --------------------------------------------------------------------------
    def create_link_token(self, key_id: str) -> str:
        token, now = new_token(), _now()
        with self.sessions.begin() as s:
            s.add(
                WebLoginToken(
                    id=_hash(token), key_id=key_id, created_at=now, expires_at=now + self.link_ttl
                )
            )
        return token

    def redeem_link_token(self, token: str) -> SignedIn | None:
        """Use a link token once: the conditional update lets exactly one request win."""
        if not token or len(token) > _MAX_TOKEN:
            return None
        now = _now()
        with self.sessions.begin() as s:
            used = s.execute(
                update(WebLoginToken)
                .where(
                    WebLoginToken.id == _hash(token),
                    WebLoginToken.used_at.is_(None),
                    WebLoginToken.expires_at > now,
                )
                .values(used_at=now)
            )
            if used.rowcount != 1:  # type: ignore[attr-defined]
                return None
            key_id = s.scalar(select(WebLoginToken.key_id).where(WebLoginToken.id == _hash(token)))
        return self.open(key_id) if key_id is not None else None

    def admin_key_id(self, admin_email: str) -> str | None:
        """The key a one-time link signs in as: the bootstrap admin's oldest live admin key,
        else the oldest live admin key of the first org."""
        with self.sessions() as s:
            live_admin = (
                select(ApiKey.id)
                .join(Developer, Developer.id == ApiKey.developer_id)
                .join(Org, Org.id == ApiKey.org_id)
                .where(ApiKey.scope == "admin", ApiKey.revoked_at.is_(None))
            )
            own = s.scalar(
                live_admin.where(Developer.email == admin_email.strip().lower())
                .order_by(ApiKey.created_at)
                .limit(1)
            )
            if own is not None:
                return own
            return s.scalar(live_admin.order_by(Org.created_at, ApiKey.created_at).limit(1))


# --- request helpers ------------------------------------------------------------------------------


def web_auth(request: Request) -> WebAuth:
    """The app's WebAuth (built on first use from the engine context)."""
    auth: WebAuth | None = getattr(request.app.state, "web_auth", None)
    if auth is None:
        ctx = request.app.state.prism
        auth = WebAuth(ctx.sessions, ctx.settings)
        request.app.state.web_auth = auth
    return auth


def signed_in(request: Request) -> SignedIn | None:
    """The request's dashboard session, or None (memoized on the request)."""
    if "prism_signed_in" in request.scope:
        cached: SignedIn | None = request.scope["prism_signed_in"]
        return cached
    found = web_auth(request).resolve(request.cookies.get(SESSION_COOKIE))
    request.scope["prism_signed_in"] = found
    return found


def cookie_principal(request: Request) -> Principal | None:
    """The principal of the dashboard session cookie, for API requests without a bearer key.

    Safe methods need only the cookie; others also need the session's CSRF token in the
    `X-CSRF-Token` header (so a form on another site could not use it even without SameSite).
    """
    if SESSION_COOKIE not in request.cookies:
        return None
    found = signed_in(request)
    if found is None:
        return None
    if request.method not in SAFE_METHODS and not same_token(
        request.headers.get(CSRF_HEADER), found.csrf
    ):
        return None
    return found.principal


# --- the link `prism serve` prints ----------------------------------------------------------------


def login_link(settings: Settings) -> str | None:
    """A fresh one-time sign-in URL for the bootstrap admin, or None when no admin key is live."""
    from prism.demo.cli import local_url
    from prism.runtime.parts import open_store

    engine, keys = open_store(settings, run_migrations=False)
    try:
        auth = WebAuth(keys._sessions, settings)
        key_id = auth.admin_key_id(settings.bootstrap_admin_email)
        if key_id is None:
            return None
        token = auth.create_link_token(key_id)
    finally:
        engine.dispose()
    return f"{local_url(settings.host, settings.api_port)}/login/{token}"


def print_login_link(settings: Settings) -> None:
    """Print the dashboard's one-time sign-in link; never stops `prism serve` if it cannot."""
    try:
        url = login_link(settings)
    except Exception as exc:  # the server runs fine without the link
        print(f"prism: no dashboard sign-in link ({exc})", file=sys.stderr, flush=True)
        return
    minutes = settings.web_login_link_minutes
    if url is None:
        print("Dashboard: sign in with an API key (no live admin key for a link).", flush=True)
        return
    print(
        f"Dashboard: {url}  (one-time sign-in link, valid {minutes:g} min; "
        "afterwards sign in with an API key)",
        flush=True,
    )
