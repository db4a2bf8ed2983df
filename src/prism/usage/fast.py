"""`prism usage ...` answered before the full command line loads (typer, pydantic, DataFusion).

The common case, an offline report of the local lake, needs only the lake's location and the
rollup cache (`rollup.py`): stdlib modules, plus pyarrow for files not rolled up yet. The
`prism.cli` package hands such invocations here first; anything this module does not handle
(`--server`, `--developer`, `--help`, an S3 lake, a config it cannot read) returns None and the
full CLI runs as usual, with the same answers.

The lake's location follows the settings' precedence (`settings.py`): `--data-dir`, then
PRISM_LAKE_URL / PRISM_DATA_DIR, then the TOML file (PRISM_CONFIG_FILE, default ./prism.toml),
then ./prism-data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path

from prism.usage.report import REPORTS, parse_day, tz_of, window


class _Unhandled(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Unhandled(message)


def _parser() -> _Parser:
    p = _Parser(add_help=False, allow_abbrev=False)
    p.add_argument("kind", choices=REPORTS)
    p.add_argument("--since", "-s")
    p.add_argument("--until", "-u")
    p.add_argument("--timezone", "-z")
    p.add_argument("--json", "-j", action="store_true")
    p.add_argument("--data-dir")
    return p


def locate(data_dir: str | None) -> tuple[Path, Path] | None:
    """(lake root, data dir) as the settings would resolve them; None when unsure."""
    env = os.environ
    toml_path = Path(env.get("PRISM_CONFIG_FILE", "prism.toml"))
    conf: dict[str, object] = {}
    if toml_path.is_file():
        try:
            conf = tomllib.loads(toml_path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return None
    chosen = data_dir or env.get("PRISM_DATA_DIR") or conf.get("data_dir") or "./prism-data"
    base = Path(str(chosen))
    lake_url = env.get("PRISM_LAKE_URL") or conf.get("lake_url")
    if lake_url:
        url = str(lake_url)
        if not url.startswith("file://"):
            return None  # an object store: the full path knows how to reach it
        return Path(url[len("file://") :]), base
    return base / "lake", base


def main(argv: list[str]) -> int | None:
    """Print the report and return 0; None when the full CLI should answer instead."""
    try:
        args = _parser().parse_args(argv)
        where = locate(args.data_dir)
        if where is None:
            return None
        lake_root, data_dir = where
        if not lake_root.is_dir():
            return None
        tz = tz_of(args.timezone)
        since = parse_day(args.since) if args.since else None
        until = parse_day(args.until) if args.until else None
        window(since, until, tz)
    except (_Unhandled, ValueError, KeyError):
        return None
    from prism.usage.service import from_local_lake

    report = from_local_lake(
        args.kind,
        lake_root=lake_root,
        cache_dir=data_dir,
        developer_ids=None,
        tz=tz,
        since=since,
        until=until,
    )
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
        return 0
    from rich.console import Console

    from prism.usage.report import render

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    render(report, console)
    return 0


def hook() -> None:
    """Called as `prism.cli` loads: take over `prism usage ...` when it can be answered here."""
    argv = sys.argv
    if argv[1:2] != ["usage"]:
        return
    console_script = os.path.basename(argv[0]) == "prism"
    as_module = argv[0] == "-m" and "prism.cli.main" in getattr(sys, "orig_argv", ())
    if not (console_script or as_module):
        return
    code = main(argv[2:])
    if code is not None:
        sys.stdout.flush()
        raise SystemExit(code)
