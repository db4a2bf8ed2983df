"""`prism migrate`: an embedded installation (SQLite, local lake, local queue) moves into scale
mode (PostgreSQL, S3, NATS) and every engine endpoint answers the same before and after."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from prism.agents.claude_code_otlp import logs_request
from prism.cli.migrate import migrate_installation
from prism.errors import ConfigError
from tests.scale.conftest import ScaleParts
from tests.scale.roles import Role
from tests.support.prism_server import REPO, PrismServer, wait_for
from tests.unit import scenarios as sc

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]

# Streams and process-local views: not "numbers" an installation holds.
SKIP_PATHS = {"/", "/healthz", "/metrics", "/v1/events/stream"}
# Updated by every authenticated request, so it differs whenever the key was used again.
VOLATILE = {"last_used_at"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def answers(base_url: str, dev_key: str, admin_key: str, span: tuple[str, str]) -> dict[str, Any]:
    """GET every engine endpoint the OpenAPI document lists, with a fixed time span (`from`,
    `to`) where an endpoint takes one (their default `to` is "now")."""
    doc = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:

        def get(path: str, key: str, **params: Any) -> Any:
            r = client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})
            if r.headers.get("content-type", "").startswith("application/json"):
                return r.status_code, _strip(r.json())
            return r.status_code, r.text

        for path, item in sorted(doc["paths"].items()):
            if "get" not in item or path in SKIP_PATHS or "{" in path:
                continue
            names = {p["name"] for p in item["get"].get("parameters", [])}
            params = {"window": "monthly"} if "window" in names else {}
            if "from" in names:
                params["from"] = span[0]
            if "to" in names:
                params["to"] = span[1]
            key = admin_key if path == "/v1/keys" else dev_key
            out[path] = get(path, key, **params)
        arcs = out["/v1/score_v3/speed/sessions"][1]
        for arc in arcs:
            path = f"/v1/score_v3/sessions/{arc['id']}/prompts"
            out[path] = get(path, dev_key)
    return out


def test_migrate_moves_an_embedded_installation_and_every_endpoint_agrees(
    tmp_path: Path, scale_parts: ScaleParts
) -> None:
    data_dir = tmp_path / "embedded"
    now = datetime.now(UTC)
    span = ((now - timedelta(days=7)).isoformat(), (now + timedelta(hours=1)).isoformat())
    with PrismServer(data_dir, env={"PRISM_SESSIONIZE_TICK_SECONDS": "0.3"}) as embedded:
        assert embedded.admin_key
        created = embedded.api(
            "POST", "/v1/keys", embedded.admin_key, json={"developer": "mover@example.com"}
        ).json()
        start = datetime.now(UTC) - timedelta(hours=2)
        for i, story in enumerate((sc.feature_crushed, sc.bug_failed, sc.question_trivia)):
            events = sc.event_dicts(story(start=start + timedelta(minutes=25 * i)))
            r = httpx.post(
                f"{embedded.ingest_url}/v1/logs",
                content=logs_request(events).SerializeToString(),
                headers={
                    "Authorization": f"Bearer {created['key']}",
                    "Content-Type": "application/x-protobuf",
                },
                timeout=30,
            )
            assert r.status_code == 200, r.text

        def scored() -> bool:
            body = embedded.api(
                "GET", "/v1/score_v3/score", created["key"], params={"window": "monthly"}
            ).json()
            return body.get("total_count") == 2  # the trivia arc does not qualify

        wait_for(scored, timeout=60, what="the embedded worker to judge the arcs")
        before = answers(embedded.api_url, created["key"], embedded.admin_key, span)
        admin_key = embedded.admin_key

    result = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", "migrate", "--from", str(data_dir)],
        env={
            **PrismServer(tmp_path / "cli").env(),
            **scale_parts.env(),
            "PYTHONPATH": str(REPO / "src"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "api_keys: 2 rows" in result.stdout and "done" in result.stdout

    engine = Role("engine", tmp_path / "scale", scale_parts.env()).start()
    try:
        engine.wait_healthy()
        after = answers(engine.url, created["key"], admin_key, span)
    finally:
        engine.stop()
    assert before["/v1/score_v3/score"][1]["total_count"] == 2
    assert len(before["/v1/telemetry/logs"][1]["logs"]) > 0
    assert after == before

    with pytest.raises(ConfigError, match="already holds data"):  # never merges into data
        migrate_installation(
            data_dir, scale_parts.settings(tmp_path / "again"), echo=lambda _: None
        )  # type: ignore[arg-type]
