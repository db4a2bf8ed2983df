"""`prism import` on the command line, offline: summary, reruns, worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prism.usage.rollup import Rollups
from tests.importer.conftest import REPO
from tests.support.transcript_corpus import generate


def prism(data_dir: Path, *args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PRISM_DATA_DIR=str(data_dir), TZ="UTC")
    env.pop("PRISM_CONFIG_FILE", None)
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


def test_workers_serial_and_reruns_agree(tmp_path: Path) -> None:
    stats = generate(tmp_path / "cc", 8_000_000, seed=9, days=10, projects=3, corrupt_every=5)
    folder = str(tmp_path / "cc" / "projects")
    one = prism(tmp_path / "d1", "import", folder, "--json", "--workers", "1")
    two = prism(tmp_path / "d2", "import", folder, "--json", "--workers", "2")
    assert one["lines"] == two["lines"] == stats.lines
    assert one["skipped_lines"] == two["skipped_lines"] == {"corrupt_json": stats.corrupt_lines}
    assert one["events"] == two["events"]
    assert one["events_written"] == two["events_written"] > 0
    # The import left the usage rollups of everything it wrote: no file to read back.
    rollups = Rollups(tmp_path / "d2" / "lake", tmp_path / "d2" / "usage-rollup.db")
    try:
        assert rollups.refresh() == 0
    finally:
        rollups.close()
    daily_1 = prism(tmp_path / "d1", "usage", "daily", "--json")
    daily_2 = prism(tmp_path / "d2", "usage", "daily", "--json")
    assert daily_1["daily"] == daily_2["daily"]
    assert daily_1["totals"]["requests"] == stats.api_calls
    again = prism(tmp_path / "d2", "import", folder, "--json", "--workers", "2")
    assert again["files"]["unchanged"] == stats.files and again["events_written"] == 0
    forced = prism(tmp_path / "d2", "import", folder, "--json", "--force")
    assert forced["events_written"] == 0
    assert forced["events_already_stored"] == two["events_written"]
