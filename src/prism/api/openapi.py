"""The OpenAPI documents of the engine and of ingest, as Prism answers (not FastAPI's defaults).

FastAPI documents a 422 validation error that Prism never sends; `install_openapi` rewrites
each operation to say what really happens: 400 `{"code","message"}` for bad input, 429 with
`Retry-After` over the rate limit, the X-RateLimit-* headers on every response. The ingest
document adds the OTLP request bodies its handlers read raw.

The generated documents are committed (docs/openapi.json, docs/openapi-ingest.json) and a test
fails when they drift. Regenerate with:

    python -m prism.api.openapi            (writes both files under docs/)
    python -m prism.api.openapi --check    (exit 1 when they differ)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from prism.api.schemas import ErrorBody

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
RATE_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests per minute (and burst) of this key's bucket",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Whole requests left in the bucket",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "Seconds until the bucket is full again",
        "schema": {"type": "integer"},
    },
}
RETRY_AFTER = {
    "description": "Seconds to wait before the next request",
    "schema": {"type": "integer"},
}
OTLP_BODY = {
    "required": True,
    "description": "An OTLP Export{Logs,Metrics,Trace}ServiceRequest; `Content-Encoding: gzip` "
    "accepted. Limits: PRISM_MAX_BODY_BYTES as sent, PRISM_MAX_DECOMPRESSED_BYTES inflated.",
    "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    },
}
OTLP_RESPONSES: dict[str, Any] = {
    "200": {
        "description": "Durably queued. The OTLP Export*ServiceResponse, in the request's "
        "encoding; `partialSuccess` counts rejected records.",
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        },
    },
    "400": {
        "description": "Undecodable body",
        "content": {"application/json": {"schema": ERROR_REF}},
    },
    "401": {
        "description": "Missing, unknown or revoked key",
        "content": {"application/json": {"schema": ERROR_REF}},
    },
    "413": {
        "description": "Body over the limit (as sent or inflated)",
        "content": {"application/json": {"schema": ERROR_REF}},
    },
    "415": {
        "description": "Unknown Content-Type",
        "content": {"application/json": {"schema": ERROR_REF}},
    },
    "503": {
        "description": "Queue over its high-water mark; retry after `Retry-After`",
        "headers": {"Retry-After": RETRY_AFTER},
        "content": {"application/json": {"schema": ERROR_REF}},
    },
}
ENGINE_NOTE = (
    "\n\nEvery response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and "
    "`X-RateLimit-Reset`; over the limit the answer is 429 with `Retry-After`. The OTLP "
    "ingest endpoints (POST /v1/logs, /v1/metrics, /v1/traces) are served by the ingest "
    "service (default port 4318); their contract is that service's /openapi.json "
    "(docs/openapi-ingest.json in the repository)."
)
INGEST_NOTE = (
    "OTLP/HTTP ingest for Claude Code and any OpenTelemetry exporter. A 200 means the records "
    'are durably queued. Errors are `{"code": <status>, "message": "..."}`; 429 and 503 '
    "carry `Retry-After`, which OpenTelemetry exporters honour. The same port also answers "
    "/v1/telemetry/logs and /v1/insights/report[/generate] by proxying the engine (see the "
    "engine's document)."
)


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if headers:
        out["headers"] = headers
    return out


def fix(schema: dict[str, Any], *, service: str) -> dict[str, Any]:
    """Rewrite FastAPI's document to Prism's behaviour (see module doc)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    components.setdefault("headers", {}).update(RATE_HEADERS)
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            if service == "ingest" and path in ("/v1/logs", "/v1/metrics", "/v1/traces"):
                op["requestBody"] = OTLP_BODY
                responses.clear()
                responses.update(json.loads(json.dumps(OTLP_RESPONSES)))
            had_validation = responses.pop("422", None) is not None
            if (had_validation or op.get("parameters") or op.get("requestBody")) and (
                "400" not in responses
            ):
                responses["400"] = _error("Invalid parameter or body")
            if service == "engine" and path.startswith("/v1/"):
                responses.setdefault("401", _error("Missing, unknown or revoked API key"))
                names = {p.get("name") for p in op.get("parameters", [])}
                if "{" in path or "user_id" in names:
                    responses.setdefault(
                        "404", _error("Not found (also other developers' objects)")
                    )
            responses["429"] = _error("Over the rate limit", {"Retry-After": RETRY_AFTER})
            for code, response in responses.items():
                if code.startswith(("4", "5")):  # every Prism error is this JSON, whatever
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            for response in responses.values():
                response.setdefault("headers", {})
                for name in RATE_HEADERS:
                    response["headers"].setdefault(name, {"$ref": f"#/components/headers/{name}"})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema


def install_openapi(app: FastAPI, *, service: str) -> None:
    """Make `app.openapi()` (and so /openapi.json and /docs) serve the fixed document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            note = ENGINE_NOTE if service == "engine" else ""
            app.openapi_schema = fix(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=(INGEST_NOTE if service == "ingest" else app.description) + note,
                    routes=app.routes,
                ),
                service=service,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- generation ---------------------------------------------------------------------------


def build_specs() -> dict[str, dict[str, Any]]:
    """Both documents, from apps built over throwaway parts (nothing is read or written)."""
    from prism.api.app import create_engine_app
    from prism.lake.query import Lake
    from prism.lake.storage import open_storage
    from prism.receive.http import create_ingest_app
    from prism.receive.service import IngestService
    from prism.settings import load_settings
    from prism.store.db import make_engine, session_factory
    from prism.store.keys import KeyStore

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        engine = make_engine(settings.resolved_database_url)
        keys = KeyStore(session_factory(engine))
        engine_app = create_engine_app(
            settings, keys_store=keys, lake=Lake(open_storage(settings.lake_root))
        )
        ingest_app = create_ingest_app(settings, IngestService(keys=keys, queue=None))  # type: ignore[arg-type]
        specs = {"openapi.json": engine_app.openapi(), "openapi-ingest.json": ingest_app.openapi()}
        engine.dispose()
    return specs


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) docs/openapi*.json.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the files differ")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "docs")
    args = parser.parse_args(argv)
    stale = []
    for name, spec in build_specs().items():
        path = args.out / name
        text = render(spec)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run: python -m prism.api.openapi)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
