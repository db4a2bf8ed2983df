"""`prism import [PATH ...]`: Claude Code history into Prism, offline or through a server."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

PARALLEL_FROM_BYTES = 32 << 20


def _state_path(server: str | None, data_dir: Path) -> Path:
    if server is None:
        return data_dir / "import-state.db"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "prism" / "import-state.db"


def import_command(
    paths: list[Path] | None = typer.Argument(
        None,
        help="Transcript folders or files (default: ~/.claude/projects, ~/.config/claude/"
        "projects and $CLAUDE_CONFIG_DIR/projects).",
    ),
    developer: str | None = typer.Option(
        None,
        "--developer",
        help="Offline: email of the developer the history belongs to "
        "(default: PRISM_BOOTSTRAP_ADMIN_EMAIL). With --server it is the key's owner.",
    ),
    org: str | None = typer.Option(None, "--org", help="Offline: org name (default: the first)."),
    server: str | None = typer.Option(
        None, "--server", help="Import into a running Prism: its engine (API) URL."
    ),
    key: str | None = typer.Option(None, "--key", envvar="PRISM_KEY", help="API key for --server."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder for embedded data (PRISM_DATA_DIR)."
    ),
    state: Path | None = typer.Option(
        None, "--state", help="Manifest of imported files (what makes reruns quick)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Read every file again, even unchanged ones."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    workers: int = typer.Option(
        0, "--workers", help="Processes that read and map files (0: one per CPU, up to 4)."
    ),
) -> None:
    """Import Claude Code transcripts so history is scored like live telemetry.

    Idempotent (importing twice adds nothing) and resumable (a rerun skips files already
    imported and unchanged); a corrupt line is counted and skipped.
    """
    from rich.console import Console

    from prism.cli.main import _fail, _settings
    from prism.errors import PrismError
    from prism.importer.runner import Manifest, import_local, import_remote, worker_pool
    from prism.importer.transcripts import default_roots, discover

    settings = _settings(data_dir=data_dir)
    roots = list(paths) if paths else default_roots()
    if not roots:
        typer.echo("prism: no transcripts found (~/.claude/projects does not exist)", err=True)
        raise typer.Exit(1)
    files = discover(roots)
    err = Console(stderr=True)
    total = sum(f.size for f in files)
    manifest: Manifest | None = None
    pool = None
    if not server:
        # Worker processes pay off past a few files; fork them before any thread starts.
        n = workers if workers else min(4, os.cpu_count() or 1)
        pool = worker_pool(n if total >= PARALLEL_FROM_BYTES or workers else 1)
    try:
        with _progress(err, total) as advance:
            if server:
                if not key:
                    typer.echo("prism: --server needs --key (or PRISM_KEY)", err=True)
                    raise typer.Exit(2)
                owner = hashlib.sha256(key.encode()).hexdigest()[:16]
                if not force:
                    manifest = Manifest(
                        state or _state_path(server, settings.data_dir), server, owner
                    )
                summary = import_remote(
                    files, _poster(server, key, settings.max_body_bytes), manifest, progress=advance
                )
            else:
                sink, owner = _local_sink(settings, developer, org)
                if not force:
                    manifest = Manifest(
                        state or _state_path(None, settings.data_dir), "local", owner
                    )
                summary = import_local(
                    files,
                    sink,
                    manifest,
                    max_length=settings.max_attribute_length,
                    store_content=settings.store_content,
                    pool=pool,
                    progress=advance,
                )
    except PrismError as exc:
        _fail(exc)
        return
    finally:
        if manifest is not None:
            manifest.close()
        if pool is not None:
            pool.shutdown()
    out = summary.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        _print_summary(Console(), out)


def _local_sink(settings: Any, developer: str | None, org: str | None) -> tuple[Any, str]:
    from prism.importer.sink import LakeSink
    from prism.lake.query import Lake
    from prism.lake.storage import open_storage
    from prism.runtime.parts import normalize_options, open_store
    from prism.usage.service import ROLLUP_CACHE

    _, keys = open_store(settings)
    with keys._sessions.begin() as s:
        org_row = keys.ensure_org(s, org or keys.default_org_name() or settings.bootstrap_org)
        dev_row = keys.ensure_developer(s, org_row, developer or settings.bootstrap_admin_email)
        org_id, dev_id = org_row.id, dev_row.id
    storage = open_storage(settings.lake_root)
    local = not settings.lake_root.startswith("s3://")
    sink = LakeSink(
        storage=storage,
        sessions=keys._sessions,
        lake=Lake(storage),
        options=normalize_options(settings),
        org_id=org_id,
        developer_id=dev_id,
        rollup_cache=settings.data_dir / ROLLUP_CACHE if local else None,
    )
    sink.writer.recover()  # finish a commit an interrupted import left half-published
    return sink, dev_id


def _poster(server: str, key: str, max_body: int) -> Any:
    import time

    import httpx

    client = httpx.Client(base_url=server.rstrip("/"), timeout=600.0)
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }

    def post(body: bytes) -> dict[str, Any]:
        if len(body) > max_body:
            raise typer.BadParameter(
                f"a session group compresses to {len(body)} bytes, over the server's "
                f"{max_body}-byte limit (PRISM_MAX_BODY_BYTES)"
            )
        for _attempt in range(8):
            r = client.post("/v1/import/transcripts", content=body, headers=headers)
            if r.status_code in (429, 503):
                # Backpressure: honour Retry-After like the OTLP exporters do.
                time.sleep(min(30.0, float(r.headers.get("retry-after", "2") or 2)))
                continue
            if r.status_code != 200:
                try:
                    message = r.json().get("message", r.text)
                except ValueError:
                    message = r.text
                typer.echo(f"prism: import refused: {r.status_code} {message}", err=True)
                raise typer.Exit(1)
            result: dict[str, Any] = r.json()
            return result
        typer.echo("prism: the server stayed busy; rerun to continue", err=True)
        raise typer.Exit(1)

    return post


class _progress:
    """A rich progress bar over bytes on a terminal; nothing otherwise."""

    def __init__(self, console: Any, total: int) -> None:
        self.console = console
        self.total = total
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.console.is_terminal:
            return None
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            "[bold]importing",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task("import", total=self.total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _print_summary(console: Any, s: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title="Import summary", show_header=False, title_style="bold")
    t.add_column(style="bold")
    t.add_column(justify="right")
    files = s["files"]
    t.add_row("files", f"{files['read']:,} read, {files['unchanged']:,} unchanged")
    t.add_row("lines", f"{s['lines']:,}")
    t.add_row("records", f"{s['records']:,}")
    t.add_row("events written", f"[green]{s['events_written']:,}[/green]")
    t.add_row("events already stored", f"{s['events_already_stored']:,}")
    t.add_row("duplicate responses", f"{s['duplicate_responses']:,}")
    skipped = s["skipped_lines"]
    t.add_row(
        "skipped lines",
        ", ".join(f"{k}: {v:,}" for k, v in skipped.items()) if skipped else "none",
    )
    if s["unknown_types"]:
        t.add_row(
            "unknown record types",
            ", ".join(f"{k}: {v:,}" for k, v in s["unknown_types"].items()),
        )
    if s["unpriced_models"]:
        t.add_row(
            "[yellow]models without a price[/yellow]",
            ", ".join(f"{k} ({v:,} requests)" for k, v in s["unpriced_models"].items()),
        )
    if s.get("mb_per_s"):
        t.add_row("time", f"{s['seconds']:.1f} s ({s['mb_per_s']} MB/s)")
    console.print(t)
