"""Request-scoped building blocks of the engine API: the principal, parameters, the context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import BadRequest, NotFound
from prism.lake.query import Lake
from prism.score.reader import ScoreReader
from prism.score.thresholds import ScoringConfig
from prism.settings import Settings
from prism.store.keys import KeyStore, Principal
from prism.web.auth import cookie_principal


@dataclass
class EngineContext:
    """The parts one engine process holds; routes reach them through `request.app.state`.

    `sessions` and `scores` default to the key store's sessionmaker and a reader over it, so
    callers that build the context from settings, keys and lake alone keep working.
    """

    settings: Settings
    keys: KeyStore
    lake: Lake
    sessions: sessionmaker[Session] | None = None
    scores: ScoreReader | None = None

    def __post_init__(self) -> None:
        if self.sessions is None:
            self.sessions = self.keys._sessions
        if self.scores is None:
            self.scores = ScoreReader(self.sessions, ScoringConfig.from_settings(self.settings))


def context(request: Request) -> EngineContext:
    ctx: EngineContext = request.app.state.prism
    return ctx


def principal(request: Request) -> Principal:
    """FastAPI dependency: the key's owner, or 401."""
    ctx = context(request)
    header = request.headers.get("authorization")
    secret = None
    if header:
        scheme, _, token = header.strip().partition(" ")
        secret = token.strip() if scheme.lower() == "bearer" else None
    elif (web_who := cookie_principal(request)) is not None:  # the dashboard's session cookie
        request.state.principal = web_who
        return web_who
    who = ctx.keys.authenticate(secret)
    request.state.principal = who
    return who


def parse_time(value: str | None, name: str) -> datetime | None:
    """ISO 8601 -> aware UTC datetime; 400 with the parameter's name when malformed."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not (1970 <= parsed.year <= 9999):
        raise BadRequest(f"{name} is out of range")
    return parsed.astimezone(UTC)


def target_developer(ctx: EngineContext, who: Principal, user_id: str | None) -> str:
    """Whose data a read covers: the caller's own, or (admins only) another developer's."""
    if user_id is None or user_id in (who.developer_id, who.email):
        return who.developer_id
    if not who.is_admin:
        raise NotFound("No such developer")
    return ctx.keys.developer_in_org(who.org_id, user_id)
