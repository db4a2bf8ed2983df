"""Orgs, developers and API keys: creation, lookup, revocation.

Keys look like `gck_<43 url-safe chars>` (256 random bits). Only their SHA-256 is stored; the
secret is returned once, at creation. Lookup goes by hash and the final comparison is constant
time, so neither timing nor a leaked table reveals a usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import BadRequest, NotFound, Unauthorized
from prism.store.models import ApiKey, Developer, Org

KEY_PREFIX = "gck_"
SCOPES = ("admin", "developer")
_LAST_USED_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the key's owner. Every read is scoped to it."""

    key_id: str
    org_id: str
    developer_id: str
    email: str
    scope: str
    time_zone: str = "UTC"

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    prefix: str
    developer: str
    developer_id: str
    org: str
    org_id: str
    scope: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made key: the only time the secret exists outside the caller's hands."""

    id: str
    key: str
    developer: str
    org: str
    scope: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite returns DateTime(timezone=True) columns naive; every time stored here is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class KeyStore:
    """Tenancy and key operations over the metadata store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._last_used_written: dict[str, float] = {}
        self._lock = threading.Lock()

    # --- tenancy -------------------------------------------------------------------------------
    def ensure_org(self, session: Session, name: str) -> Org:
        org = session.scalar(select(Org).where(Org.name == name))
        if org is None:
            org = Org(id=str(uuid.uuid4()), name=name, created_at=_now())
            session.add(org)
            session.flush()
        return org

    def ensure_developer(self, session: Session, org: Org, email: str) -> Developer:
        email = email.strip().lower()
        if not email or len(email) > 320:
            raise BadRequest("developer must be a non-empty email or name of at most 320 chars")
        dev = session.scalar(
            select(Developer).where(Developer.org_id == org.id, Developer.email == email)
        )
        if dev is None:
            dev = Developer(
                id=str(uuid.uuid4()), org_id=org.id, email=email, time_zone="UTC", created_at=_now()
            )
            session.add(dev)
            session.flush()
        return dev

    def count_keys(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)

    def org_name(self, org_id: str) -> str:
        with self._sessions() as session:
            org = session.get(Org, org_id)
        if org is None:
            raise NotFound("No such org")
        return org.name

    def default_org_name(self) -> str | None:
        with self._sessions() as session:
            return session.scalar(select(Org.name).order_by(Org.created_at).limit(1))

    # --- keys ---------------------------------------------------------------------------------
    def create_key(
        self, *, developer: str, org: str, scope: str = "developer", name: str | None = None
    ) -> NewKey:
        if scope not in SCOPES:
            raise BadRequest(f"scope must be one of {', '.join(SCOPES)}")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            org_row = self.ensure_org(session, org)
            dev = self.ensure_developer(session, org_row, developer)
            key = ApiKey(
                id=str(uuid.uuid4()),
                org_id=org_row.id,
                developer_id=dev.id,
                scope=scope,
                prefix=secret[:12],
                secret_hash=hash_secret(secret),
                name=name,
                created_at=_now(),
            )
            session.add(key)
            return NewKey(id=key.id, key=secret, developer=dev.email, org=org_row.name, scope=scope)

    def list_keys(self, *, org_id: str | None = None) -> list[KeyInfo]:
        stmt = (
            select(ApiKey, Developer.email, Org.name)
            .join(Developer, Developer.id == ApiKey.developer_id)
            .join(Org, Org.id == ApiKey.org_id)
            .order_by(ApiKey.created_at)
        )
        if org_id is not None:
            stmt = stmt.where(ApiKey.org_id == org_id)
        with self._sessions() as session:
            return [
                KeyInfo(
                    id=k.id,
                    prefix=k.prefix,
                    developer=email,
                    developer_id=k.developer_id,
                    org=org_name,
                    org_id=k.org_id,
                    scope=k.scope,
                    name=k.name,
                    created_at=_utc(k.created_at) or k.created_at,
                    last_used_at=_utc(k.last_used_at),
                    revoked_at=_utc(k.revoked_at),
                )
                for k, email, org_name in session.execute(stmt).all()
            ]

    def revoke_key(self, key_id: str, *, org_id: str | None = None) -> KeyInfo:
        """Revoke a key; the next request with it gets 401. Keys of other orgs are not found."""
        with self._sessions.begin() as session:
            key = session.get(ApiKey, key_id)
            if key is None or (org_id is not None and key.org_id != org_id):
                raise NotFound("No such API key")
            if key.revoked_at is None:
                key.revoked_at = _now()
        matches = [k for k in self.list_keys(org_id=org_id) if k.id == key_id]
        return matches[0]

    def authenticate(self, secret: str | None) -> Principal:
        """Resolve a bearer secret to its principal, or raise Unauthorized."""
        if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            raise Unauthorized("Invalid API key")
        digest = hash_secret(secret)
        with self._sessions() as session:
            row = session.execute(
                select(ApiKey, Developer.email, Developer.time_zone)
                .join(Developer, Developer.id == ApiKey.developer_id)
                .where(ApiKey.secret_hash == digest)
            ).first()
        if row is None:
            raise Unauthorized("Invalid API key")
        key, email, tz = row
        if not hmac.compare_digest(key.secret_hash, digest) or key.revoked_at is not None:
            raise Unauthorized("Invalid API key")
        self._touch(key.id)
        return Principal(
            key_id=key.id,
            org_id=key.org_id,
            developer_id=key.developer_id,
            email=email,
            scope=key.scope,
            time_zone=tz or "UTC",
        )

    def _touch(self, key_id: str) -> None:
        """Record last use, at most once a minute per key, so hot ingest paths stay read-only."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_used_written.get(key_id, -1e9) < _LAST_USED_EVERY_S:
                return
            self._last_used_written[key_id] = now
        with self._sessions.begin() as session:
            session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=_now()))

    # --- developers ---------------------------------------------------------------------------
    def developer_in_org(self, org_id: str, developer: str) -> str:
        """Resolve an admin's `user_id` parameter (developer id or email) inside their org."""
        with self._sessions() as session:
            dev = session.scalar(
                select(Developer).where(
                    Developer.org_id == org_id,
                    (Developer.id == developer) | (Developer.email == developer.lower()),
                )
            )
        if dev is None:
            raise NotFound("No such developer")
        return dev.id
