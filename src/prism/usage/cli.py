"""`prism usage daily|weekly|monthly|session|model`: the reports on the command line.

Offline (default) the local lake under PRISM_DATA_DIR is read directly, every developer in it
unless `--developer` names one; with `--server URL --key gck_...` the engine answers
(`GET /v1/usage/{report}`) for the key's owner, or for `--developer` when the key is an admin's.
Heavy modules are imported inside the commands so `prism --help` stays quick.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

usage_app = typer.Typer(
    help="Token and cost reports from the lake (ccusage-style).", no_args_is_help=True
)


def run_report(
    kind: str,
    *,
    since: str | None,
    until: str | None,
    developer: str | None,
    timezone: str | None,
    as_json: bool,
    server: str | None,
    key: str | None,
    data_dir: Path | None,
) -> None:
    from prism.usage.report import parse_day, tz_of, window

    try:
        tz = tz_of(timezone)
        d0 = parse_day(since) if since else None
        d1 = parse_day(until) if until else None
        window(d0, d1, tz)
    except (ValueError, KeyError) as exc:
        typer.echo(f"prism: {exc}", err=True)
        raise typer.Exit(2) from None
    if server:
        payload = _remote(kind, server, key, d0, d1, developer, str(tz))
        if as_json:
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
            return
        from prism.usage.report import report_from_json

        report = report_from_json(kind, payload)
    else:
        from prism.usage.service import local_report

        report = local_report(
            kind, data_dir=data_dir, developer=developer, tz=tz, since=d0, until=d1
        )
        if as_json:
            sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
            return
    from rich.console import Console

    from prism.usage.report import render

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped: no terminal width to fit, keep rows whole
    render(report, console)


def _remote(
    kind: str,
    server: str,
    key: str | None,
    d0: Any,
    d1: Any,
    developer: str | None,
    tz: str,
) -> dict[str, Any]:
    import httpx

    if not key:
        typer.echo("prism: --server needs --key (or PRISM_KEY)", err=True)
        raise typer.Exit(2)
    params = {"timezone": tz}
    if d0:
        params["since"] = d0.isoformat()
    if d1:
        params["until"] = d1.isoformat()
    if developer:
        params["developer"] = developer
    try:
        r = httpx.get(
            f"{server.rstrip('/')}/v1/usage/{kind}",
            params=params,
            headers={"Authorization": f"Bearer {key}"},
            timeout=120.0,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"prism: cannot reach {server}: {exc}", err=True)
        raise typer.Exit(1) from None
    if r.status_code != 200:
        try:
            message = r.json().get("message", r.text)
        except ValueError:
            message = r.text
        typer.echo(f"prism: {r.status_code} {message}", err=True)
        raise typer.Exit(1)
    body: dict[str, Any] = r.json()
    return body


def _make(kind: str, doc: str) -> None:
    def command(
        since: str | None = typer.Option(
            None, "--since", "-s", help="First day (YYYY-MM-DD or YYYYMMDD), inclusive."
        ),
        until: str | None = typer.Option(
            None, "--until", "-u", help="Last day (YYYY-MM-DD or YYYYMMDD), inclusive."
        ),
        developer: str | None = typer.Option(
            None, "--developer", help="Only this developer (email or id); on a server, admins only."
        ),
        timezone: str | None = typer.Option(
            None, "--timezone", "-z", help="IANA zone for days and weeks (default: this machine's)."
        ),
        as_json: bool = typer.Option(False, "--json", "-j", help="Print JSON (ccusage's shape)."),
        server: str | None = typer.Option(
            None, "--server", help="Ask a running Prism engine (its API URL) instead."
        ),
        key: str | None = typer.Option(
            None, "--key", envvar="PRISM_KEY", help="API key for --server."
        ),
        data_dir: Path | None = typer.Option(
            None, "--data-dir", help="Folder for embedded data (PRISM_DATA_DIR)."
        ),
    ) -> None:
        run_report(
            kind,
            since=since,
            until=until,
            developer=developer,
            timezone=timezone,
            as_json=as_json,
            server=server,
            key=key,
            data_dir=data_dir,
        )

    command.__doc__ = doc
    usage_app.command(kind)(command)


_make("daily", "Tokens and cost per day, per model.")
_make("weekly", "Tokens and cost per week (weeks start on Sunday, as in ccusage).")
_make("monthly", "Tokens and cost per month.")
_make("session", "Tokens and cost per agent session.")
_make("model", "Tokens and cost per model over the whole window.")
