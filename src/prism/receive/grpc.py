"""OTLP/gRPC ingest on port 4317: the three Export services, same auth and durability as HTTP.

Handlers take the request as raw bytes (no deserializer) so the payload queued is exactly what
the exporter sent; `IngestService.accept` validates it like an HTTP body.
"""

from __future__ import annotations

import logging

import grpc
from grpc import aio

from prism.errors import PrismError
from prism.receive import otlp
from prism.receive.service import IngestService

log = logging.getLogger(__name__)

_SERVICES = {
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
}
_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def _handler(service: IngestService, signal: str, max_bytes: int) -> grpc.RpcMethodHandler:
    async def export(request: bytes, context: aio.ServicerContext) -> bytes:
        metadata = dict(context.invocation_metadata() or ())
        try:
            principal = service.authenticate(metadata.get("authorization"))
            checked = await service.accept(principal, signal, "protobuf", request)
        except PrismError as exc:
            if exc.retry_after is not None:
                # OTLP/gRPC clients read the retry delay from RetryInfo; the message says it too.
                await context.abort(
                    _STATUS.get(exc.status, grpc.StatusCode.INTERNAL),
                    f"{exc.message} (retry after {exc.retry_after}s)",
                )
            await context.abort(_STATUS.get(exc.status, grpc.StatusCode.INTERNAL), exc.message)
            raise  # unreachable: abort raises
        except Exception:
            log.exception("unexpected gRPC ingest error")
            await context.abort(grpc.StatusCode.INTERNAL, "Internal server error")
            raise
        return otlp.success_response(signal, checked.rejected, checked.message, as_json=False)

    return grpc.unary_unary_rpc_method_handler(export)


def create_grpc_server(
    service: IngestService, *, host: str, port: int, max_bytes: int
) -> tuple[aio.Server, int]:
    """Build (not start) the server; returns it with the port actually bound."""
    server = aio.server(
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    for signal, name in _SERVICES.items():
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    name, {"Export": _handler(service, signal, max_bytes)}
                ),
            )
        )
    bound = server.add_insecure_port(f"{host}:{port}")
    return server, bound
