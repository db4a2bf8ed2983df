"""`prism ingest`: OTLP/HTTP on the ingest port and OTLP/gRPC on the gRPC port."""

from __future__ import annotations

import asyncio
import gc
import logging

import uvicorn

from prism import metrics
from prism.queue import open_queue
from prism.receive.grpc import create_grpc_server
from prism.receive.http import create_ingest_app
from prism.receive.service import IngestService
from prism.runtime.parts import open_store, setup_logging
from prism.settings import Settings

log = logging.getLogger(__name__)


async def run_ingest(settings: Settings) -> None:
    setup_logging(settings, "ingest")
    metrics.enable_multiprocess(settings.data_dir / "metrics")
    _, keys = open_store(settings)
    queue = open_queue(settings)
    service = IngestService(keys=keys, queue=queue, store_content=settings.store_content)
    app = create_ingest_app(settings, service)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.ingest_port,
            log_level=settings.log_level,
            access_log=False,
            loop="uvloop",
            http="httptools",
            timeout_keep_alive=30,
        )
    )
    grpc_server, grpc_port = create_grpc_server(
        service,
        host=settings.host,
        port=settings.grpc_port,
        max_bytes=settings.max_decompressed_bytes,
    )
    await grpc_server.start()
    # Decoding allocates many short-lived objects; keep the startup heap out of GC passes.
    gc.freeze()
    log.info(
        "ingest listening on http://%s:%d and grpc %s:%d",
        settings.host,
        settings.ingest_port,
        settings.host,
        grpc_port,
    )
    try:
        await server.serve()
    finally:
        await grpc_server.stop(grace=2)
        await queue.close()


def main(settings: Settings) -> None:
    asyncio.run(run_ingest(settings))
