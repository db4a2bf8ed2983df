"""The one place errors become HTTP responses: `{"code": <status>, "message": "<sentence>"}`.

Prism's own errors carry their status; framework errors (404 route, 405 method, request
validation) are reshaped to the same body, with validation answering 400 rather than 422;
anything unexpected is logged with a request id and answered as a bare 500.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prism.errors import PrismError

log = logging.getLogger("prism.api")

_PHRASES = {
    400: "Bad request",
    401: "Invalid API key",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
    503: "Service unavailable",
}


def error_response(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"code": status, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PrismError)
    async def _prism(_: Request, exc: PrismError) -> JSONResponse:
        if exc.status >= 500 and exc.status != 503:
            log.error("internal error: %s", exc.message)
            return error_response(500, "Internal server error")
        return error_response(exc.status, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) and exc.detail else None
        if message is None or message == _PHRASES.get(exc.status_code, ""):
            message = _PHRASES.get(exc.status_code, "Error")
        if exc.status_code == 404 and message == "Not Found":
            message = "Not found"
        if exc.status_code == 405 and message == "Method Not Allowed":
            message = "Method not allowed"
        return error_response(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = uuid.uuid4().hex[:12]
        log.exception(
            "unhandled error (request %s %s %s)", request_id, request.method, request.url.path
        )
        return error_response(500, f"Internal server error (request {request_id})")
