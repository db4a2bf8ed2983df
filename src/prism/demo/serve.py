"""`prism serve --demo`: load the demo history into a just-started Prism, once per data dir.

A marker file, `<data dir>/demo/state.json`, makes it idempotent: `loading` while it runs,
`loaded` after. A load cut short (the server stopped) resumes at the next start with the same
end time, so the same history is generated again; the lake writer recognizes every batch it
already applied (same developer and bytes, same batch id) and stores it once.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prism.demo.cli import format_keys, format_summary, local_url
from prism.demo.generator import DemoConfig, DemoResult, LocalKeys, run_demo
from prism.settings import Settings


def state_path(settings: Settings) -> Path:
    return settings.data_dir / "demo" / "state.json"


def read_state(settings: Settings) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_path(settings).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return state


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def load_once(
    settings: Settings,
    config: DemoConfig | None = None,
    *,
    out: Callable[[str], None] = print,
) -> DemoResult | None:
    """Send the demo unless this data dir already has it; None when it was already loaded."""
    state = read_state(settings)
    if state is not None and state.get("status") == "loaded":
        first = (state.get("developers") or ["a demo developer"])[0]
        out(
            f"Demo history already loaded on {str(state.get('loaded_at', ''))[:10]} "
            f"({state.get('arcs', '?')} goal arcs of {len(state.get('developers', []))} "
            "developers); not loading it again."
        )
        out(f"A key for a demo developer: prism keys create --developer {first}")
        return None
    config = config or DemoConfig(settings.demo_developers, settings.demo_days, settings.demo_seed)
    until = config.resolved_until()
    if state is not None and state.get("status") == "loading" and state.get("until"):
        until = datetime.fromisoformat(state["until"])  # resume the same history
    config = DemoConfig(config.developers, config.days, config.seed, until)
    _write_state(
        settings,
        {
            "status": "loading",
            "seed": config.seed,
            "developers_count": config.developers,
            "days": config.days,
            "until": until.isoformat(),
            "started_at": datetime.now(UTC).isoformat(),
        },
    )
    from prism.runtime.parts import open_store

    _, store = open_store(settings, run_migrations=False)
    keys = LocalKeys(store, store.default_org_name() or settings.bootstrap_org)
    api = local_url(settings.host, settings.api_port)
    out(
        f"Loading the demo history ({config.developers} developers, {config.days} days) "
        "through OTLP ingest..."
    )
    result = run_demo(
        config,
        ingest_url=local_url(settings.host, settings.ingest_port),
        api_url=api,
        key_source=keys,
        manifest_path=settings.data_dir / "demo" / "manifest.json",
    )
    _write_state(
        settings,
        {
            "status": "loaded",
            "seed": config.seed,
            "days": config.days,
            "until": until.isoformat(),
            "loaded_at": datetime.now(UTC).isoformat(),
            "developers": list(result.keys),
            "arcs": result.manifest["totals"]["arcs"],
            "events": result.manifest["totals"]["events"],
        },
    )
    for line in format_summary(result.summary()) + format_keys(result.keys, api):
        out(line)
    out("The worker judges the history in the background; scores fill in within seconds.")
    return result


def start_in_background(settings: Settings, config: DemoConfig | None = None) -> threading.Thread:
    """Run `load_once` beside the supervisor's loop (which keeps watching its children)."""

    def run() -> None:
        try:
            load_once(settings, config, out=lambda line: print(line, flush=True))
        except Exception as exc:  # the server keeps running without the demo
            print(f"prism: the demo history was not loaded: {exc}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=run, name="prism-demo", daemon=True)
    thread.start()
    return thread
