"""Request and response models of the engine API (they make /openapi.json real)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: int = Field(description="HTTP status")
    message: str = Field(description="What went wrong, as a sentence")


class TelemetryPage(BaseModel):
    logs: list[dict[str, Any]] | None = None
    metrics: list[dict[str, Any]] | None = None
    spans: list[dict[str, Any]] | None = None
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class KeyCreate(BaseModel):
    developer: str = Field(min_length=1, max_length=320, description="developer email or name")
    org: str | None = Field(None, max_length=200, description="defaults to the caller's org")
    scope: Literal["admin", "developer"] = "developer"
    name: str | None = Field(None, max_length=200)


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="the secret: shown this once, stored only as a hash")
    developer: str
    org: str
    scope: str


class KeyItem(BaseModel):
    id: str
    prefix: str
    developer: str
    developer_id: str
    org: str
    scope: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyList(BaseModel):
    keys: list[KeyItem]


class Health(BaseModel):
    status: str
    service: str
    version: str
    checks: dict[str, Any] = {}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request"},
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key"},
    404: {"model": ErrorBody, "description": "Not found (also other developers' objects)"},
}
