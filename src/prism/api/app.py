"""The engine's HTTP app: `create_engine_app(settings, keys=..., lake=...)`, no globals."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from prism import __version__
from prism.api.deps import EngineContext
from prism.api.errors import install_error_handlers
from prism.api.routes import keys, telemetry
from prism.api.schemas import Health
from prism.lake.query import Lake
from prism.settings import Settings
from prism.store.keys import KeyStore


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
        return Health(status=status, service="engine", version=__version__, checks=checks)

    app.add_api_route("/", _health, methods=["GET"], response_model=Health, tags=["ops"])
    app.add_api_route("/healthz", _health, methods=["GET"], response_model=Health, tags=["ops"])
    return app
