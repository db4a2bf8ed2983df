"""`prism import --server` and `prism usage --server` against a real `prism serve`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.importer.conftest import CC197, PUBLIC, require_samples
from tests.support.prism_server import PrismServer, wait_for

pytestmark = [pytest.mark.e2e]
SESSION = "b7ab493d-1805-482a-bfef-540dd391eb0d"


def cli(server: PrismServer, *args: str, state: Path) -> dict[str, Any]:
    env = server.env()
    env["XDG_STATE_HOME"] = str(state)
    out = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    body: dict[str, Any] = json.loads(out.stdout)
    return body


def test_import_through_a_server_then_report(prism_server: PrismServer, tmp_path: Path) -> None:
    require_samples()
    project = tmp_path / "projects" / "-home-user-project"
    project.mkdir(parents=True)
    for p in PUBLIC.glob("*.jsonl"):
        shutil.copy(p, project / p.name)
    shutil.copy(CC197 / "transcript.jsonl", project / f"{SESSION}.jsonl")
    key = prism_server.create_key("importer@acme.test")["key"]
    url = prism_server.api_url
    args = ("import", str(tmp_path / "projects"), "--server", url, "--key", key, "--json")
    first = cli(prism_server, *args, state=tmp_path / "state")
    assert first["files"]["read"] == 9 and first["skipped_lines"] == {}
    assert first["events_written"] > 0
    again = cli(prism_server, *args, state=tmp_path / "state")  # the manifest: nothing to send
    assert again["files"]["unchanged"] == 9 and again["events_written"] == 0
    forced = cli(prism_server, *args, "--force", state=tmp_path / "state")
    assert forced["events_written"] == 0
    assert forced["events_already_stored"] == first["events_written"]

    logs = prism_server.telemetry(key)
    assert len(logs) == first["events_written"]
    daily = cli(
        prism_server,
        *("usage", "daily", "--server", url, "--key", key, "--json", "-z", "UTC"),
        state=tmp_path / "state",
    )
    assert [d["date"] for d in daily["daily"]] == [
        "2026-01-02",
        "2026-02-10",
        "2026-02-11",
        "2026-11-22",
    ]
    assert daily["totals"]["requests"] == first["events"]["api_request"]

    # The worker's sessionizer judges the imported history like live telemetry.
    def judged() -> list[dict[str, Any]] | None:
        r = prism_server.api("GET", "/v1/score_v3/realtime/sub-sessions", key)
        if r.status_code != 200:
            return None
        items: list[dict[str, Any]] = r.json()
        sessions = {i["claude_session_id"] for i in items}
        done = all(i["status"] == "scored" and i["outcome"] for i in items)
        return items if SESSION in sessions and done else None

    items = wait_for(judged, timeout=90, interval=0.5, what="imported arcs to be judged")
    (arc,) = [i for i in items if i["claude_session_id"] == SESSION]
    assert arc["title"] == "Create containing hello and verify"  # the agent's own title
