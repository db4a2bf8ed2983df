"""Prism's exceptions: a small tree, each class with its HTTP status and a stable code.

    PrismError                     500  internal
    ├── ConfigError                  -  bad settings; stops start-up (never reaches HTTP)
    ├── BadRequest                 400  bad_request        undecodable body, bad parameter
    ├── Unauthorized               401  unauthorized       missing, unknown or revoked key
    ├── Forbidden                  403  forbidden          a developer key on an admin path
    ├── NotFound                   404  not_found          also for other developers' objects
    ├── Conflict                   409  conflict
    ├── PayloadTooLarge            413  payload_too_large  body, inflated body
    ├── UnsupportedMediaType       415  unsupported_media_type
    ├── RateLimited                429  rate_limited       carries Retry-After
    └── Unavailable                503  unavailable        queue over high water; Retry-After

The core raises these and never imports the web framework; `prism.api.errors` maps them to
`{"code": <status>, "message": "<sentence>"}` once, at the edge (and `receive.grpc` to gRPC codes).
"""

from __future__ import annotations


class PrismError(Exception):
    """Base of every error Prism raises on purpose."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ConfigError(PrismError):
    code = "config"


class BadRequest(PrismError):
    status = 400
    code = "bad_request"


class Unauthorized(PrismError):
    status = 401
    code = "unauthorized"


class Forbidden(PrismError):
    status = 403
    code = "forbidden"


class NotFound(PrismError):
    status = 404
    code = "not_found"


class Conflict(PrismError):
    status = 409
    code = "conflict"


class PayloadTooLarge(PrismError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(PrismError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(PrismError):
    status = 429
    code = "rate_limited"


class Unavailable(PrismError):
    status = 503
    code = "unavailable"
