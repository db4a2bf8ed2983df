"""`prism engine`: the REST API (and, later, the dashboard) on the API port."""

from __future__ import annotations

import asyncio
import gc

import uvicorn

from prism import metrics
from prism.api.app import create_engine_app
from prism.lake.query import Lake
from prism.lake.storage import open_storage
from prism.runtime.parts import open_store, setup_logging
from prism.settings import Settings


async def run_engine(settings: Settings) -> None:
    setup_logging(settings, "engine")
    metrics.enable_multiprocess(settings.data_dir / "metrics")
    _, keys = open_store(settings)
    lake = Lake(open_storage(settings.lake_root))
    app = create_engine_app(settings, keys_store=keys, lake=lake)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.api_port,
            log_level=settings.log_level,
            access_log=False,
            loop="uvloop",
            http="httptools",
            # Event streams never end on their own: past this, shutdown cuts them (clients
            # reconnect with Last-Event-ID) instead of waiting for every client to leave.
            timeout_graceful_shutdown=3,
        )
    )
    gc.freeze()
    await server.serve()


def main(settings: Settings) -> None:
    asyncio.run(run_engine(settings))
