"""The `prism` command line (typer)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from prism.errors import ConfigError, PrismError
from prism.settings import Settings, load_settings

app = typer.Typer(
    help="Prism: outcome analytics for AI coding agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage API keys (works on the local store).", no_args_is_help=True)
config_app = typer.Typer(help="Inspect and document the configuration.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(config_app, name="config")


def _settings(**overrides: Any) -> Settings:
    """Load settings; flags become PRISM_* variables so child processes see the same values."""
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"PRISM_{name.upper()}"] = str(value)
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"prism: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _fail(exc: PrismError) -> None:
    typer.echo(f"prism: {exc.message}", err=True)
    raise typer.Exit(1)


DataDir = typer.Option(None, "--data-dir", help="Folder for embedded data (PRISM_DATA_DIR).")


@app.command()
def serve(
    data_dir: Path | None = DataDir,
    host: str | None = typer.Option(None, help="Bind address (PRISM_HOST)."),
    ingest_port: int | None = typer.Option(None, help="OTLP/HTTP port (PRISM_INGEST_PORT)."),
    grpc_port: int | None = typer.Option(None, help="OTLP/gRPC port (PRISM_GRPC_PORT)."),
    api_port: int | None = typer.Option(None, help="API port (PRISM_API_PORT)."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo history (once per data dir)."),
) -> None:
    """Run ingest, engine and worker together on the embedded defaults."""
    from prism.runtime.supervisor import serve as run

    settings = _settings(
        data_dir=data_dir,
        host=host,
        ingest_port=ingest_port,
        grpc_port=grpc_port,
        api_port=api_port,
    )
    try:
        _check_parts(settings)
        raise typer.Exit(run(settings, demo=demo))
    except ConfigError as exc:
        _fail(exc)


def _check_parts(settings: Settings) -> None:
    """Unreachable PostgreSQL, NATS or S3 stops start-up with the fix (runtime/preflight.py)."""
    from prism.runtime.preflight import check_parts

    check_parts(settings)


def _run_role(main: Any) -> None:
    settings = _settings()
    try:
        _check_parts(settings)
        main(settings)
    except ConfigError as exc:
        _fail(exc)


@app.command()
def ingest() -> None:
    """Run only the ingest service (OTLP/HTTP and OTLP/gRPC)."""
    from prism.runtime.ingest import main

    _run_role(main)


@app.command()
def engine() -> None:
    """Run only the engine API."""
    from prism.runtime.engine import main

    _run_role(main)


@app.command()
def worker() -> None:
    """Run only the background worker (lake writer, compaction)."""
    from prism.runtime.worker import main

    _run_role(main)


def _key_store(settings: Settings) -> Any:
    from prism.runtime.parts import open_store

    try:
        return open_store(settings)[1]
    except ConfigError as exc:
        _fail(exc)


@keys_app.command("create")
def keys_create(
    developer: str = typer.Option(..., "--developer", help="Developer email (owner of the key)."),
    org: str | None = typer.Option(None, "--org", help="Org name (default: the first org)."),
    admin: bool = typer.Option(False, "--admin", help="Make an admin key."),
    name: str | None = typer.Option(None, "--name", help="A label for the key."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create a key; the secret is printed this once and stored only as a hash."""
    settings = _settings(data_dir=data_dir)
    store = _key_store(settings)
    org_name = org or store.default_org_name() or settings.bootstrap_org
    try:
        new = store.create_key(
            developer=developer, org=org_name, scope="admin" if admin else "developer", name=name
        )
    except PrismError as exc:
        _fail(exc)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": new.id,
                    "key": new.key,
                    "developer": new.developer,
                    "org": new.org,
                    "scope": new.scope,
                }
            )
        )
    else:
        from prism.runtime.bootstrap import claude_code_env

        typer.echo(f"Created {new.scope} key {new.id} for {new.developer} in org {new.org}.")
        typer.echo("The secret is shown only this once:\n")
        typer.echo(f"    {new.key}\n")
        typer.echo("Claude Code settings for this developer:\n")
        typer.echo(claude_code_env(settings, new.key))


@keys_app.command("list")
def keys_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    data_dir: Path | None = DataDir,
) -> None:
    """List keys (prefix, owner, scope, dates; never the secret)."""
    store = _key_store(_settings(data_dir=data_dir))
    rows = store.list_keys()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": k.id,
                        "prefix": k.prefix,
                        "developer": k.developer,
                        "org": k.org,
                        "scope": k.scope,
                        "created_at": k.created_at.isoformat(),
                        "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                    }
                    for k in rows
                ]
            )
        )
        return
    for k in rows:
        state = "revoked" if k.revoked_at else "active"
        typer.echo(f"{k.id}  {k.prefix}…  {k.scope:9}  {state:7}  {k.org}/{k.developer}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: Path | None = DataDir) -> None:
    """Revoke a key; requests with it fail from the next one on."""
    store = _key_store(_settings(data_dir=data_dir))
    try:
        info = store.revoke_key(key_id)
    except PrismError as exc:
        _fail(exc)
    typer.echo(f"Revoked key {info.id} ({info.prefix}…) of {info.developer}.")


@config_app.command("docs")
def config_docs() -> None:
    """Print the configuration reference (docs/configuration.md is this output)."""
    from prism.settings_docs import render

    sys.stdout.write(render())


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print the resolved values."""
    settings = _settings()
    for name in Settings.model_fields:
        typer.echo(f"{name} = {getattr(settings, name)!r}")


from prism.cli.migrate import migrate_command  # noqa: E402  (registered after the core commands)

app.command("migrate")(migrate_command)

from prism.demo.cli import demo as demo_command  # noqa: E402

app.command("demo")(demo_command)

from prism.importer.cli import import_command  # noqa: E402  (issue 7: history and usage)
from prism.usage.cli import usage_app  # noqa: E402

app.command("import")(import_command)
app.add_typer(usage_app, name="usage")

if __name__ == "__main__":
    app()
