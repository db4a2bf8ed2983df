"""The OpenAPI contract: committed and current, Prism's error shapes (400 not 422, 429), served
with a docs UI; and schemathesis against a live `prism serve`: no server errors, no response
that breaks the document."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from prism.api.openapi import build_specs, render
from tests.support.prism_server import PrismServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHODS = ("get", "post", "put", "patch", "delete")
# The stream never ends (tested in tests/events); webhook URLs would make the server resolve
# random host names (tested with loopback URLs in tests/webhooks).
SKIP = {
    ("GET", "/v1/events/stream"),
    ("POST", "/v1/webhooks"),
    ("PATCH", "/v1/webhooks/{webhook_id}"),
}
EXAMPLES = 25


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> dict[str, Any]:
    """Line-delimited JSON bodies (transcript import): strings as they are, else JSON."""
    return {"data": value.encode() if isinstance(value, str) else json.dumps(value).encode()}


BUDGET_S = 50.0


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    return build_specs()


@pytest.mark.parametrize("name", ["openapi.json", "openapi-ingest.json"])
def test_the_committed_document_is_current(specs: dict[str, dict[str, Any]], name: str) -> None:
    committed = (DOCS / name).read_text()
    assert committed == render(specs[name]), (
        f"docs/{name} is out of date: run `python -m prism.api.openapi` and commit it"
    )


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


@pytest.mark.parametrize("name", ["openapi.json", "openapi-ingest.json"])
def test_every_operation_declares_prisms_errors(
    specs: dict[str, dict[str, Any]], name: str
) -> None:
    spec = specs[name]
    assert "HTTPValidationError" not in json.dumps(spec)
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        assert "422" not in responses, where
        assert "429" in responses and "Retry-After" in responses["429"]["headers"], where
        if op.get("parameters") or op.get("requestBody"):
            assert "400" in responses, where
        for code, response in responses.items():
            assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                response["headers"]
            ), (where, code)
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (where, code)
        ok = [c for c in responses if c.startswith("2")]
        assert ok and all(responses[c].get("content") or c == "204" for c in ok), where


def test_engine_document_covers_the_new_endpoints(specs: dict[str, dict[str, Any]]) -> None:
    paths = specs["openapi.json"]["paths"]
    for path in (
        "/v1/events/stream",
        "/v1/webhooks",
        "/v1/webhooks/{webhook_id}",
        "/v1/webhooks/{webhook_id}/deliveries",
        "/metrics",
        "/healthz",
        "/",
    ):
        assert path in paths, path
    assert "text/event-stream" in paths["/v1/events/stream"]["get"]["responses"]["200"]["content"]
    assert "ingest service" in specs["openapi.json"]["info"]["description"]
    ingest = specs["openapi-ingest.json"]["paths"]["/v1/logs"]["post"]
    assert set(ingest["requestBody"]["content"]) == {"application/x-protobuf", "application/json"}
    assert {"400", "401", "413", "415", "429", "503"} <= set(ingest["responses"])


# --- against the live server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    s = PrismServer(
        tmp_path_factory.mktemp("schemathesis"),
        env={
            "PRISM_RATE_LIMIT_ADMIN_PER_MINUTE": "1000000",
            "PRISM_RATE_LIMIT_DEVELOPER_PER_MINUTE": "1000000",
            "PRISM_RATE_LIMIT_ANONYMOUS_PER_MINUTE": "1000000",
        },
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_live_server_serves_the_document_and_docs_ui(server: PrismServer) -> None:
    spec = httpx.get(server.api_url + "/openapi.json", timeout=30).json()
    assert "/v1/webhooks" in spec["paths"]
    docs = httpx.get(server.api_url + "/docs", timeout=30)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert httpx.get(server.ingest_url + "/openapi.json", timeout=30).status_code == 200
    metrics = httpx.get(server.api_url + "/metrics", timeout=30)
    assert metrics.status_code == 200
    for name in ("prism_queue_batches", "prism_lake_lag_seconds", "prism_judge_lag_seconds"):
        assert name in metrics.text
    health = httpx.get(server.api_url + "/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["checks"]["queue"]["status"] == "ok"


def test_schemathesis_finds_no_server_errors_or_schema_violations(server: PrismServer) -> None:
    assert server.admin_key is not None
    spec = httpx.get(server.api_url + "/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    started = time.monotonic()
    failures: list[str] = []
    tested = 0
    with httpx.Client(timeout=30):
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIP:
                continue
            tested += 1

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                case.call_and_validate(base_url=server.api_url, headers=headers, checks=checks)

            try:
                check()
            except Exception as exc:  # collect every operation's first failure
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    elapsed = time.monotonic() - started
    assert tested >= 25
    assert not failures, "\n\n".join(failures)
    assert elapsed < BUDGET_S, f"schemathesis took {elapsed:.0f}s"
