"""Per-key token buckets, on every HTTP endpoint of the engine and of ingest.

Each key gets a bucket holding up to `limit` tokens that refills at `limit` per minute; a
request takes one token or is answered 429 with `Retry-After` (the seconds until a token is
back). Every response, errors included, carries

    X-RateLimit-Limit       the bucket's size (requests per minute, and the burst)
    X-RateLimit-Remaining   whole tokens left after this request
    X-RateLimit-Reset       seconds until the bucket is full again

The limit depends on the key's scope (settings `rate_limit_<scope>_per_minute`); requests with
no valid key share one bucket per client address. Ingest has its own, larger budget per key and
does not look keys up for it (the secret's hash names the bucket), so its hot path stays
read-only.

Buckets live in the process: with N engine processes each enforces the limit on its own share,
so a key can get up to N times the limit in all. Scale mode can move `TokenBuckets` to Redis or
PostgreSQL behind the same `take` call.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prism import metrics
from prism.errors import Unauthorized
from prism.settings import Settings
from prism.store.keys import KEY_PREFIX, KeyStore


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_s).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after_s).encode()))
        return out


class TokenBuckets:
    """Buckets by name; idle ones (refilled to full, so equal to a new one) are forgotten."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000
    ) -> None:
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, name: str, limit: int) -> Decision:
        now = self.clock()
        rate = limit / 60.0
        tokens, at = self._buckets.get(name, (float(limit), now))
        tokens = min(float(limit), tokens + (now - at) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[name] = (tokens, now)
        self._buckets.move_to_end(name)
        if len(self._buckets) > self.max_buckets:
            self._evict(now)
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, math.floor(tokens)),
            reset_s=max(0, math.ceil((limit - tokens) / rate)),
            retry_after_s=0 if allowed else max(1, math.ceil((1.0 - tokens) / rate)),
        )

    def _evict(self, now: float) -> None:
        # Oldest first: the least recently used buckets are the likeliest to be full again.
        while len(self._buckets) > self.max_buckets * 0.9:
            self._buckets.popitem(last=False)


def bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").strip().partition(" ")
            if kind.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# A resolver names the bucket of a request and its limit, and says which scope it counted as.
Resolver = Callable[[Scope], Awaitable[tuple[str, int, str]]]


class EngineResolver:
    """Engine buckets: per key, sized by the key's scope; per address without a valid key.

    The key's scope is looked up once and remembered for a minute (by the secret's hash), so a
    busy key costs one lookup a minute, not one per request.
    """

    TTL_S = 60.0
    NEGATIVE_TTL_S = 10.0

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.keys = keys
        self.limits = {
            "admin": settings.rate_limit_admin_per_minute,
            "developer": settings.rate_limit_developer_per_minute,
        }
        self.anonymous = settings.rate_limit_anonymous_per_minute
        self._scopes: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def _lookup(self, secret: str) -> str | None:
        try:
            return self.keys.authenticate(secret).scope
        except Unauthorized:
            return None

    async def __call__(self, scope: Scope) -> tuple[str, int, str]:
        secret = bearer(scope)
        key_scope: str | None = None
        if secret and secret.startswith(KEY_PREFIX) and len(secret) <= 200:
            digest = hashlib.sha256(secret.encode()).hexdigest()
            now = time.monotonic()
            cached = self._scopes.get(digest)
            if cached is not None and cached[1] > now:
                key_scope = cached[0]
            else:
                key_scope = await asyncio.to_thread(self._lookup, secret)
                ttl = self.TTL_S if key_scope else self.NEGATIVE_TTL_S
                self._scopes[digest] = (key_scope, now + ttl)
                self._scopes.move_to_end(digest)
                while len(self._scopes) > 50_000:
                    self._scopes.popitem(last=False)
            if key_scope is not None:
                return f"key:{digest[:32]}", self.limits.get(key_scope, self.anonymous), key_scope
        return f"addr:{client_address(scope)}", self.anonymous, "anonymous"


class IngestResolver:
    """Ingest buckets: per key secret (hashed, never looked up), per address without one."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.rate_limit_ingest_per_minute
        self.anonymous = settings.rate_limit_anonymous_per_minute

    async def __call__(self, scope: Scope) -> tuple[str, int, str]:
        secret = bearer(scope)
        if secret and secret.startswith(KEY_PREFIX) and len(secret) <= 200:
            digest = hashlib.sha256(secret.encode()).hexdigest()
            return f"key:{digest[:32]}", self.limit, "ingest"
        return f"addr:{client_address(scope)}", self.anonymous, "anonymous"


class RateLimitMiddleware:
    """ASGI middleware: take a token, add the headers to whatever answers, or answer 429.

    It wraps the whole application (outside Starlette's error middleware), so even a 500 carries
    the headers. Paths in `skip` (ingest's proxy to the engine) pass untouched: the engine
    limits and labels them itself.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        resolver: Resolver,
        buckets: TokenBuckets | None = None,
        service: str,
        skip: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.resolver = resolver
        self.buckets = buckets or TokenBuckets()
        self.service = service
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.skip:
            await self.app(scope, receive, send)
            return
        name, limit, kind = await self.resolver(scope)
        decision = self.buckets.take(name, limit)
        extra = decision.headers()
        if not decision.allowed:
            metrics.RATE_LIMITED.labels(self.service, kind).inc()
            body = orjson.dumps(
                {
                    "code": 429,
                    "message": f"Rate limit exceeded ({limit} requests per minute); "
                    f"retry in {decision.retry_after_s} s",
                }
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
