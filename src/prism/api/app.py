"""The engine's HTTP app: `create_engine_app(settings, keys=..., lake=...)`, no globals."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from prism import __version__
from prism.api.deps import EngineContext
from prism.api.edge import install_engine_edge
from prism.api.errors import install_error_handlers
from prism.api.routes import events, keys, ops, score_v3, telemetry, webhooks
from prism.api.schemas import Health
from prism.lake.query import Lake
from prism.settings import Settings
from prism.store.keys import KeyStore
from prism.web.routes import install_dashboard


def create_engine_app(settings: Settings, *, keys_store: KeyStore, lake: Lake) -> FastAPI:
    app = FastAPI(
        title="Prism engine",
        version=__version__,
        description="Outcome analytics for AI coding agents. Errors are "
        '`{"code": <status>, "message": "..."}`; auth is `Authorization: Bearer gck_...`.',
    )
    app.state.prism = EngineContext(settings=settings, keys=keys_store, lake=lake)
    install_error_handlers(app)
    app.include_router(telemetry.router)
    app.include_router(keys.router)
    app.include_router(score_v3.router)
    from prism.api.routes import insights, intelligence, score_v3_reports  # issue 4: reports

    app.include_router(score_v3_reports.router)
    app.include_router(insights.router)
    app.include_router(intelligence.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(ops.router)
    install_dashboard(app)  # issue 6: /dashboard/, /login, /logout
    from prism.api.routes import importer  # issue 7: transcript import, usage reports

    app.include_router(importer.router)
    install_engine_edge(app, settings, keys_store)

    async def _health() -> Health:
        checks: dict[str, object] = {}
        status = "ok"
        try:
            await asyncio.to_thread(keys_store.count_keys)
            checks["store"] = "ok"
        except Exception as exc:  # report, don't fail the probe itself
            checks["store"] = f"error: {type(exc).__name__}"
            status = "degraded"
        try:
            await asyncio.to_thread(lake.sql, "SELECT 1 AS one", {})
            checks["lake"] = "ok"
        except Exception as exc:
            checks["lake"] = f"error: {type(exc).__name__}"
            status = "degraded"
        extra, fine = await app.state.ops.health_checks()
        checks.update(extra)
        status = status if fine else "degraded"
        return Health(status=status, service="engine", version=__version__, checks=checks)

    app.add_api_route("/", _health, methods=["GET"], response_model=Health, tags=["ops"])
    app.add_api_route("/healthz", _health, methods=["GET"], response_model=Health, tags=["ops"])
    return app
