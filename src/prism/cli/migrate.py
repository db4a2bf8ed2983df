"""`prism migrate`: move an embedded installation into scale mode.

Source: the data folder of an embedded Prism (SQLite `prism.db`, the local queue `queue.db`,
the Parquet lake `lake/`); stop it first. Target: the parts the current settings name
(`PRISM_DATABASE_URL`, `PRISM_LAKE_URL`, `PRISM_QUEUE_URL`, ...), i.e. the configuration the
scale-mode processes will run with.

  1. check the target parts (as start-up does) and bring the source schema up to date;
  2. finish interrupted lake commits and drain the local queue into the local lake, so nothing
     acknowledged stays behind (NATS starts empty; nothing is left to move);
  3. copy every published Parquet file to the target lake under the same relative path
     (atomic object writes; files already there with the same size are skipped, so a
     migration that was interrupted can simply be run again);
  4. copy every metadata table, in foreign-key order, in ONE PostgreSQL transaction: keys,
     orgs, the lake journal, sessions, arcs, verdicts, cursors ... (key hashes move, so every
     key keeps working); integer id sequences continue after the copied ids;
  5. compare row counts and lake files, and print them.
The target metadata store must be empty; the source is only read (and drained).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from prism.errors import ConfigError
from prism.settings import Settings, load_settings

SKIP_TABLES = {"alembic_version"}
CHUNK = 1000


@dataclass
class MigrationReport:
    drained_batches: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # rows copied per table
    files: int = 0
    files_skipped: int = 0
    bytes: int = 0


def _source_settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir, database_url=None, queue_url=None, lake_url=None)


def _drain(source: Settings, echo: Callable[[str], None]) -> int:
    """Finish interrupted commits and write every queued batch into the local lake."""
    from prism.lake.storage import LocalStorage
    from prism.lake.writer import LakeWriter
    from prism.queue.local import LocalQueue
    from prism.runtime.parts import normalize_options
    from prism.sessions.worker import dirty_hook
    from prism.store.db import make_engine, session_factory

    engine = make_engine(source.resolved_database_url)
    queue = LocalQueue(source.queue_path) if source.queue_path.exists() else None
    storage: Any = LocalStorage(source.lake_root)
    writer = LakeWriter(
        queue=queue,  # type: ignore[arg-type]
        storage=storage,
        sessions=session_factory(engine),
        options=normalize_options(source),
    )
    writer.in_transaction.append(dirty_hook)  # the scale-mode worker sessionizes what lands
    writer.recover()
    drained = 0

    async def run() -> None:
        nonlocal drained
        assert queue is not None
        while claimed := await queue.claim(writer.claim_size(), 300.0):
            await writer.flush(claimed)
            drained += len(claimed)
        left = queue.depth_sync()
        await queue.close()
        if left.batches:
            raise ConfigError(f"the local queue still holds {left.batches} batches; run again")

    if queue is not None:
        asyncio.run(run())
    engine.dispose()
    if drained:
        echo(f"  drained {drained} queued batches into the local lake")
    return drained


def _copy_lake(source: Settings, target: Settings, report: MigrationReport) -> None:
    from prism.lake import schema
    from prism.lake.storage import LocalStorage
    from prism.lake.storage import open_storage as _open

    src = LocalStorage(source.lake_root)
    dst: Any
    if target.lake_root.startswith("s3://"):
        from prism.lake.s3 import S3Storage

        dst = S3Storage(
            target.lake_root,
            endpoint_url=target.s3_endpoint_url,
            database_url=target.resolved_database_url,
        )
    else:
        dst = _open(target.lake_root)
    if dst.root.rstrip("/") == src.root.rstrip("/"):
        raise ConfigError("source and target lake are the same place; set PRISM_LAKE_URL")
    files = [f for table in schema.TABLES for f in src.list(table)]
    present = {f.path: f.size for table in schema.TABLES for f in dst.list(table)}

    def copy(path: str, size: int) -> bool:
        if present.get(path) == size:
            return False
        dst.stage(path, src.read(path))
        dst.publish(path)
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        copied = list(pool.map(lambda f: copy(f.path, f.size), files))
    report.files = sum(copied)
    report.files_skipped = len(files) - report.files
    report.bytes = sum(f.size for f in files)
    after = {f.path: f.size for table in schema.TABLES for f in dst.list(table)}
    missing = [f.path for f in files if after.get(f.path) != f.size]
    if missing:
        raise ConfigError(f"{len(missing)} lake files did not arrive, e.g. {missing[0]}; run again")


def _aware(value: Any) -> Any:
    # SQLite hands back naive datetimes (Prism stores UTC); PostgreSQL columns are timestamptz.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _check_empty(conn: Any, tables: dict[str, Any]) -> None:
    from sqlalchemy import func, select

    for name in ("orgs", "api_keys"):
        if name in tables and conn.execute(select(func.count()).select_from(tables[name])).scalar():
            raise ConfigError(
                "the target metadata store already holds data: migrate into an empty "
                "database (PRISM_DATABASE_URL)"
            )


def _target_is_empty(target: Settings) -> None:
    from sqlalchemy import MetaData

    from prism.store.db import PG_SCHEMA, make_engine, migrate

    engine = make_engine(target.resolved_database_url)
    migrate(engine)
    meta = MetaData(schema=PG_SCHEMA)
    meta.reflect(engine)
    with engine.connect() as conn:
        _check_empty(conn, {t.name: t for t in meta.sorted_tables})
    engine.dispose()


def _copy_metadata(source: Settings, target: Settings, report: MigrationReport) -> None:
    from sqlalchemy import MetaData, func, insert, select, text

    from prism.store.db import PG_SCHEMA, is_postgres, make_engine, migrate

    src_engine = make_engine(source.resolved_database_url)
    dst_engine = make_engine(target.resolved_database_url)
    migrate(dst_engine)
    src_meta, dst_meta = MetaData(), MetaData(schema=PG_SCHEMA)
    src_meta.reflect(src_engine)
    dst_meta.reflect(dst_engine)
    targets = {t.name: t for t in dst_meta.sorted_tables}
    unknown = [t.name for t in src_meta.sorted_tables if t.name not in targets]
    if unknown:
        raise ConfigError(
            f"tables {unknown} exist only in the source; run `prism migrate` with the same Prism "
            "version as the embedded installation"
        )
    with dst_engine.begin() as dst:
        _check_empty(dst, targets)
        with src_engine.connect() as src:
            for table in src_meta.sorted_tables:
                if table.name in SKIP_TABLES:
                    continue
                out = targets[table.name]
                columns = [c.name for c in table.columns if c.name in out.columns]
                rows = 0
                result = src.execution_options(yield_per=CHUNK).execute(
                    select(*(table.c[c] for c in columns))
                )
                for chunk in result.partitions(CHUNK):
                    dst.execute(
                        insert(out),
                        [{c: _aware(v) for c, v in zip(columns, r, strict=True)} for r in chunk],
                    )
                    rows += len(chunk)
                report.tables[table.name] = rows
        if is_postgres(target.resolved_database_url):
            # Integer ids come from sequences; continue them after the copied ids.
            for table in dst_meta.sorted_tables:
                for col in table.primary_key.columns:
                    seq = dst.execute(
                        text("SELECT pg_get_serial_sequence(:t, :c)"),
                        {"t": f"{PG_SCHEMA}.{table.name}", "c": col.name},
                    ).scalar()
                    if seq:
                        dst.execute(
                            text(
                                f'SELECT setval(:s, COALESCE((SELECT MAX("{col.name}") FROM '
                                f'{PG_SCHEMA}."{table.name}"), 0) + 1, false)'
                            ),
                            {"s": seq},
                        )
    with src_engine.connect() as src, dst_engine.connect() as dst:
        for name, rows in report.tables.items():
            got = dst.execute(select(func.count()).select_from(targets[name])).scalar()
            want = src.execute(select(func.count()).select_from(src_meta.tables[name])).scalar()
            if got != want or rows != want:
                raise ConfigError(f"table {name}: {want} rows in the source, {got} in the target")
    src_engine.dispose()
    dst_engine.dispose()


def migrate_installation(
    source_dir: Path, target: Settings, echo: Callable[[str], None] = print
) -> MigrationReport:
    """Steps 1-5 of the module docstring; raises ConfigError naming the fix on any problem."""
    from prism.runtime.preflight import check_parts
    from prism.store.db import is_postgres, make_engine, migrate

    source = _source_settings(source_dir)
    db_file = source.data_dir / "prism.db"
    if not db_file.exists():
        raise ConfigError(f"no embedded installation at {source.data_dir} (no prism.db)")
    if not is_postgres(target.resolved_database_url):
        raise ConfigError("set PRISM_DATABASE_URL=postgresql+psycopg://... (the target store)")
    if target.lake_url is None:
        raise ConfigError("set PRISM_LAKE_URL=s3://bucket/prefix (the target lake)")
    check_parts(target)
    _target_is_empty(target)
    report = MigrationReport()
    echo(f"migrating {source.data_dir} -> {target.lake_root} + PostgreSQL")
    src_engine = make_engine(source.resolved_database_url)
    migrate(src_engine)
    src_engine.dispose()
    report.drained_batches = _drain(source, echo)
    _copy_lake(source, target, report)
    echo(
        f"  lake: {report.files} files copied, {report.files_skipped} already there "
        f"({report.bytes / 1e6:.1f} MB)"
    )
    _copy_metadata(source, target, report)
    for name, rows in report.tables.items():
        echo(f"  {name}: {rows} rows")
    echo("done: start prism ingest/engine/worker (or prism serve) with these settings")
    return report


def migrate_command(
    from_dir: Path = typer.Option(
        ...,
        "--from",
        help="Data folder of the embedded installation (its prism.db, queue.db and lake/). "
        "Stop that Prism first.",
    ),
) -> None:
    """Move an embedded installation into scale mode: the PostgreSQL, S3 lake and NATS named by
    PRISM_DATABASE_URL, PRISM_LAKE_URL and PRISM_QUEUE_URL (the target must be empty)."""
    try:
        target = load_settings()
        migrate_installation(from_dir, target, echo=typer.echo)
    except ConfigError as exc:
        typer.echo(f"prism: {exc.message}", err=True)
        raise typer.Exit(1) from None
