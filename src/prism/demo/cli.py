"""`prism demo`: the typer command (registered in `prism.cli.main`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from prism.errors import ConfigError


def local_url(host: str, port: int) -> str:
    """A URL this machine can reach a server on, also when it binds every address."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def format_summary(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"Demo history: {_n(summary['developers'], 'developer')}, {_n(summary['days'], 'day')} "
        f"({summary['from']} .. {summary['until'][:10]}), seed {summary['seed']}",
        f"  {summary['sessions']:,} sessions, {summary['arcs']:,} goal arcs, "
        f"{summary['events']:,} events, {summary['metric_points']:,} metric points",
        f"  sent in {summary['requests']:,} OTLP requests in {summary['seconds']:.1f} s"
        + (
            f" ({summary['events_per_second']:,} events/s)"
            if summary.get("events_per_second")
            else ""
        ),
        "  stories: " + ", ".join(f"{k} {v}" for k, v in summary["stories"].items()),
        "  sessions by shape: " + ", ".join(f"{k} {v}" for k, v in summary["shapes"].items()),
    ]
    if not summary["sessions"]:
        lines.append("  no session had ended by then: use more --days or an earlier --until")
    if summary.get("manifest"):
        lines.append(f"  manifest (intended verdict of every arc): {summary['manifest']}")
    return lines


def format_keys(keys: dict[str, str], api_url: str) -> list[str]:
    lines = ["Developer keys (shown only this once):"]
    width = max((len(e) for e in keys), default=0)
    lines += [f"  {email:<{width}}  {key}" for email, key in keys.items()]
    if keys:
        first = next(iter(keys.values()))
        lines += [
            "See a developer's numbers:",
            f'  curl -H "Authorization: Bearer {first}" '
            f"'{api_url}/v1/score_v3/score?window=weekly'",
        ]
    return lines


def demo(
    developers: int | None = typer.Option(
        None, "--developers", min=1, max=200, help="Developers [PRISM_DEMO_DEVELOPERS: 5]."
    ),
    days: int | None = typer.Option(
        None, "--days", min=1, max=366, help="Days of history [PRISM_DEMO_DAYS: 28]."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Same seed, same history [PRISM_DEMO_SEED: 7]."
    ),
    ingest_url: str | None = typer.Option(
        None, "--ingest-url", help="OTLP/HTTP ingest (default: this machine's PRISM_INGEST_PORT)."
    ),
    api_url: str | None = typer.Option(
        None, "--api-url", help="Engine API (default: this machine's PRISM_API_PORT)."
    ),
    key: str | None = typer.Option(
        None,
        "--key",
        envvar="PRISM_ADMIN_KEY",
        help="Admin key to create the demo developers' keys through the API. Without one, "
        "keys are made in the local store of PRISM_DATA_DIR.",
    ),
    until: str | None = typer.Option(
        None, "--until", help="End of the history, ISO 8601 (default: now)."
    ),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Where to write the manifest (default: <data dir>/demo/)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Wait for the verdicts and compare them with the stories."
    ),
    check_timeout: float = typer.Option(180.0, "--check-timeout", help="Seconds to wait."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Generate realistic multi-developer Claude Code history and send it to a running Prism."""
    from prism.demo.check import compare, wait_for_verdicts
    from prism.demo.generator import ApiKeys, DemoConfig, DemoError, LocalKeys, run_demo
    from prism.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"prism: {exc.message}", err=True)
        raise typer.Exit(2) from None
    ingest = (ingest_url or local_url(settings.host, settings.ingest_port)).rstrip("/")
    api = (api_url or local_url(settings.host, settings.api_port)).rstrip("/")
    try:
        end = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else None
    except ValueError:
        typer.echo(f"prism: --until must be ISO 8601, got {until!r}", err=True)
        raise typer.Exit(2) from None
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    config = DemoConfig(
        developers=developers or settings.demo_developers,
        days=days or settings.demo_days,
        seed=settings.demo_seed if seed is None else seed,
        until=end,
    )
    path = manifest or settings.data_dir / "demo" / f"manifest-seed{config.seed}.json"

    import httpx

    with httpx.Client(timeout=30.0) as client:
        if key:
            source: Any = ApiKeys(client, api, key)
        else:
            from prism.runtime.parts import open_store

            try:
                _, store = open_store(settings)
            except ConfigError as exc:
                typer.echo(f"prism: {exc.message}", err=True)
                raise typer.Exit(2) from None
            source = LocalKeys(store, store.default_org_name() or settings.bootstrap_org)
        try:
            result = run_demo(
                config, ingest_url=ingest, api_url=api, key_source=source, manifest_path=path
            )
        except DemoError as exc:
            typer.echo(f"prism: {exc}", err=True)
            raise typer.Exit(1) from None
    summary = result.summary()
    report = None
    if check:
        verdicts = wait_for_verdicts(result.manifest, result.keys, api, timeout_s=check_timeout)
        report = compare(result.manifest, verdicts)
    if as_json:
        out: dict[str, Any] = {**summary, "keys": result.keys}
        if report is not None:
            out["check"] = report.as_dict()
        typer.echo(json.dumps(out, indent=1))
    else:
        for line in format_summary(summary) + format_keys(result.keys, api):
            typer.echo(line)
        if report is not None:
            typer.echo(
                f"Verdicts match the stories for {report.matched}/{report.total} arcs "
                f"({report.rate:.1%}); clear-cut stories {report.clear_matched}/"
                f"{report.clear_total} ({report.clear_rate:.1%}); not scored yet: "
                f"{report.missing}"
            )
            for m in report.mismatches[:10]:
                typer.echo(f"  {m['story']} ({m['role']}) {m['arc_id']}: {m['diff']}")
    if report is not None and report.clear_matched < report.clear_total:
        raise typer.Exit(3)
