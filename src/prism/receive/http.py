"""OTLP/HTTP ingest: POST /v1/logs, /v1/metrics, /v1/traces (protobuf or JSON, optionally gzip).

Also answers, by proxying to the engine, the few engine paths that seed 000 says external
callers reach through the ingest host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from prism import __version__
from prism.api.edge import install_ingest_edge
from prism.api.errors import install_error_handlers
from prism.errors import UnsupportedMediaType
from prism.metrics import INGEST_BYTES, INGEST_RECORDS, INGEST_REJECTED
from prism.receive import otlp
from prism.receive.body import inflate, read_limited
from prism.receive.service import IngestService
from prism.settings import Settings

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PROXIED = ("/v1/telemetry/logs", "/v1/insights/report", "/v1/insights/report/generate")


def _encoding(content_type: str | None) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"):
        return "protobuf"
    if media == JSON:
        return "json"
    raise UnsupportedMediaType(
        f"Content-Type {content_type!r} is not supported; use {PROTOBUF} or {JSON}"
    )


def create_ingest_app(settings: Settings, service: IngestService) -> FastAPI:
    app = FastAPI(
        title="Prism ingest",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    engine = httpx.AsyncClient(base_url=settings.resolved_engine_url, timeout=120.0)

    async def export(request: Request, signal: str) -> Response:
        principal = service.authenticate(request.headers.get("authorization"))
        encoding = _encoding(request.headers.get("content-type"))
        raw = await read_limited(
            request.stream(),
            content_length=request.headers.get("content-length"),
            max_bytes=settings.max_body_bytes,
        )
        payload = inflate(
            raw, request.headers.get("content-encoding"), max_bytes=settings.max_decompressed_bytes
        )
        checked = await service.accept(principal, signal, encoding, payload)
        INGEST_RECORDS.labels(signal, "http").inc(checked.records)
        INGEST_BYTES.labels(signal, "http").inc(len(raw))
        INGEST_REJECTED.labels(signal, "http").inc(checked.rejected)
        body = otlp.success_response(
            signal, checked.rejected, checked.message, as_json=encoding == "json"
        )
        return Response(body, media_type=PROTOBUF if encoding == "protobuf" else JSON)

    @app.post("/v1/logs")
    async def logs(request: Request) -> Response:
        return await export(request, "logs")

    @app.post("/v1/metrics")
    async def metrics(request: Request) -> Response:
        return await export(request, "metrics")

    @app.post("/v1/traces")
    async def traces(request: Request) -> Response:
        return await export(request, "traces")

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        depth = await service.queue.depth()
        return {
            "status": "ok",
            "service": "ingest",
            "version": __version__,
            "queue": {"batches": depth.batches, "bytes": depth.bytes},
        }

    async def proxy(request: Request) -> StreamingResponse:
        """Forward to the engine as-is (auth included); the engine enforces everything."""
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "accept", "accept-language", "content-type")
        }
        upstream = await engine.send(
            engine.build_request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            ),
            stream=True,
        )

        async def body() -> AsyncIterator[bytes]:
            async for chunk in upstream.aiter_raw():
                yield chunk

        passthrough = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        }
        return StreamingResponse(
            body(),
            status_code=upstream.status_code,
            headers=passthrough,
            background=BackgroundTask(upstream.aclose),
        )

    for path in PROXIED:
        app.add_api_route(path, proxy, methods=["GET", "POST"], include_in_schema=False)

    app.router.on_shutdown.append(engine.aclose)
    install_ingest_edge(app, settings, service, proxied=PROXIED)
    return app
