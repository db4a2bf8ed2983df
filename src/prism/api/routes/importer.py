"""POST /v1/import/transcripts (history import) and, included here, GET /v1/usage/{report}.

The import body is NDJSON: Claude Code transcript lines exactly as they are on disk, each file
introduced by a marker line `{"type": "prism-file", "path": "<project>/<session>.jsonl"}`
(the path says which session and subagent a file is). It may be gzip-compressed. The engine
maps and writes the lines itself, attributed to the key's owner, exactly as `prism import` does
offline (`importer/runner.py`): events already stored are skipped, so sending the same body
twice adds nothing. `prism import --server URL --key gck_...` is the client.

One router carries both issue-7 endpoints, so the app registers them with one line.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from prism.api.deps import EngineContext, context, principal
from prism.api.routes import usage
from prism.api.schemas import ErrorBody
from prism.importer.runner import Pipeline, import_body
from prism.importer.sink import LakeSink
from prism.lake.normalize import NormalizeOptions
from prism.receive.body import inflate, read_limited
from prism.store.keys import Principal

router = APIRouter(tags=["import"])
router.include_router(usage.router)


class ImportReport(BaseModel):
    """What one import request read, wrote and skipped."""

    model_config = ConfigDict(extra="allow")

    files: int
    lines: int
    bytes: int
    records: int
    skipped_lines: dict[str, int]
    unknown_types: dict[str, int]
    events: dict[str, int]
    events_written: int
    events_already_stored: int
    duplicate_responses: int
    unpriced_models: dict[str, int]


@router.post(
    "/v1/import/transcripts",
    response_model=ImportReport,
    summary="Import Claude Code transcript lines",
    responses={
        413: {"model": ErrorBody, "description": "body over PRISM_MAX_BODY_BYTES (as sent)"},
        415: {"model": ErrorBody, "description": "a Content-Encoding other than gzip"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "transcript lines, see above"}
                }
            },
        }
    },
)
async def import_transcripts(
    request: Request,
    ctx: EngineContext = Depends(context),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Map transcript lines to events of the key's owner and store the ones not stored yet."""
    settings = ctx.settings
    raw = await read_limited(
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=settings.max_body_bytes,
    )
    body = inflate(
        raw, request.headers.get("content-encoding"), max_bytes=settings.max_decompressed_bytes
    )
    assert ctx.sessions is not None
    sink = LakeSink(
        storage=ctx.lake.storage,
        sessions=ctx.sessions,
        lake=ctx.lake,
        options=NormalizeOptions(
            max_attribute_length=settings.max_attribute_length,
            store_content=settings.store_content,
        ),
        org_id=who.org_id,
        developer_id=who.developer_id,
    )
    pipeline = Pipeline(
        max_length=settings.max_attribute_length, store_content=settings.store_content
    )
    return await asyncio.to_thread(import_body, body, sink, pipeline)
