"""What every HTTP app of Prism gets around its routes: request metrics, rate limits, the
OpenAPI fix-ups; and, on the engine, the event hub and the live-state reader.

The metrics and rate-limit layers wrap the whole middleware stack, outside Starlette's error
middleware, so a 500 is counted and carries the X-RateLimit-* headers like any response.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prism import metrics
from prism.api.openapi import install_openapi
from prism.api.ratelimit import (
    EngineResolver,
    IngestResolver,
    RateLimitMiddleware,
    Resolver,
    TokenBuckets,
)
from prism.api.routes.ops import Ops
from prism.events.stream import EventHub
from prism.settings import Settings
from prism.store.keys import KeyStore

_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class RequestMetrics:
    """Counts each request and times it, labelled by route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streaming = False

        async def observe(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for k, v in message.get("headers", ()):
                    if k.lower() == b"content-type" and v.startswith(b"text/event-stream"):
                        streaming = True
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"
            metrics.HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()
            if not streaming:
                metrics.HTTP_LATENCY.labels(self.service, method, path).observe(
                    time.perf_counter() - started
                )


def wrap_stack(
    app: FastAPI, *, service: str, resolver: Resolver | None, skip: tuple[str, ...] = ()
) -> TokenBuckets:
    """Put metrics and (when `resolver`) rate limits around the app's whole middleware stack."""
    build = app.build_middleware_stack
    buckets = TokenBuckets()

    def build_wrapped() -> ASGIApp:
        inner = build()
        if resolver is not None:
            inner = RateLimitMiddleware(
                inner, resolver=resolver, buckets=buckets, service=service, skip=skip
            )
        return RequestMetrics(inner, service=service)

    app.build_middleware_stack = build_wrapped  # type: ignore[method-assign]
    app.state.rate_limits = buckets
    return buckets


def install_engine_edge(app: FastAPI, settings: Settings, keys: KeyStore) -> None:
    """Event hub, live state, rate limits, metrics and the OpenAPI fix-ups for the engine."""
    sessions = app.state.prism.sessions
    hub = EventHub(
        sessions,
        poll_s=settings.events_poll_seconds,
        client_buffer=settings.events_client_buffer,
        max_clients=settings.events_max_clients,
    )
    ops = Ops(settings, sessions, hub)
    app.state.events = hub
    app.state.ops = ops
    app.router.on_startup.append(hub.start)
    app.router.on_shutdown.append(hub.stop)
    app.router.on_shutdown.append(ops.close)
    install_openapi(app, service="engine")
    wrap_stack(
        app,
        service="engine",
        resolver=EngineResolver(settings, keys) if settings.rate_limit_enabled else None,
    )


def install_ingest_edge(
    app: FastAPI, settings: Settings, service: Any, *, proxied: tuple[str, ...] = ()
) -> None:
    """/metrics, /openapi.json and /docs on ingest, its own rate-limit budget, its metrics.

    Paths in `proxied` are the engine's, answered through ingest: the engine limits them.
    """

    async def prometheus_metrics() -> Response:
        from prism.api.routes.ops import LiveCollector, LiveState

        state = LiveState()
        try:
            depth = await service.queue.depth()
            state.queue_batches, state.queue_bytes = depth.batches, depth.bytes
        except Exception:
            pass
        return Response(metrics.exposition([LiveCollector(state)]), media_type=metrics.CONTENT_TYPE)

    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    async def docs(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Prism ingest")

    app.add_api_route(
        "/metrics",
        prometheus_metrics,
        methods=["GET"],
        tags=["ops"],
        response_class=Response,
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    app.add_api_route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    install_openapi(app, service="ingest")
    wrap_stack(
        app,
        service="ingest",
        resolver=IngestResolver(settings) if settings.rate_limit_enabled else None,
        skip=proxied,
    )
