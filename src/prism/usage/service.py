"""Building a usage report: from the local lake (CLI) or for an API caller (engine)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prism.usage.report import Report, bucket_minutes, build, window

ROLLUP_CACHE = "usage-rollup.db"


def compute(
    kind: str,
    lake: Any,
    *,
    org_id: str | None,
    developer_ids: tuple[str, ...] | None,
    tz: ZoneInfo,
    since: date | None,
    until: date | None,
) -> Report:
    """The report from a DataFusion query over the lake (`lake`: a `prism.lake.query.Lake`)."""
    from prism.usage.query import UsageFilter, usage_rows

    start, end = window(since, until, tz)
    f = UsageFilter(
        org_id=org_id,
        developer_ids=developer_ids,
        start=start,
        end=end,
        bucket_minutes=bucket_minutes(tz, start, end),
        by_session=kind == "session",
    )
    return build(kind, usage_rows(lake, f), tz)


def from_local_lake(
    kind: str,
    *,
    lake_root: Path,
    cache_dir: Path,
    developer_ids: tuple[str, ...] | None,
    tz: ZoneInfo,
    since: date | None,
    until: date | None,
) -> Report:
    """A local lake: from the rollup cache when it can answer, else from the query."""
    from prism.usage.rollup import cached_rows

    start, end = window(since, until, tz)
    rows = cached_rows(
        lake_root,
        cache_dir / ROLLUP_CACHE,
        developer_ids=developer_ids,
        start=start,
        end=end,
        by_session=kind == "session",
    )
    if rows is not None:
        return build(kind, rows, tz)
    from prism.lake.query import Lake
    from prism.lake.storage import open_storage

    lake = Lake(open_storage(str(lake_root)))
    return compute(
        kind, lake, org_id=None, developer_ids=developer_ids, tz=tz, since=since, until=until
    )


def local_report(
    kind: str,
    *,
    data_dir: Path | None,
    developer: str | None,
    tz: ZoneInfo,
    since: date | None,
    until: date | None,
) -> Report:
    """Offline: the whole local lake (every org), or one developer's rows of it."""
    from prism.cli.main import _settings

    settings = _settings(data_dir=data_dir)
    developer_ids = _developer_ids(settings, developer) if developer else None
    if settings.lake_root.startswith("s3://"):
        from prism.lake.query import Lake
        from prism.lake.storage import open_storage

        lake = Lake(open_storage(settings.lake_root))
        return compute(
            kind, lake, org_id=None, developer_ids=developer_ids, tz=tz, since=since, until=until
        )
    return from_local_lake(
        kind,
        lake_root=Path(settings.lake_root),
        cache_dir=settings.data_dir,
        developer_ids=developer_ids,
        tz=tz,
        since=since,
        until=until,
    )


def _developer_ids(settings: object, developer: str) -> tuple[str, ...]:
    from sqlalchemy import select

    from prism.runtime.parts import open_store
    from prism.store.models import Developer

    _, keys = open_store(settings)  # type: ignore[arg-type]
    with keys._sessions() as s:
        ids = s.scalars(
            select(Developer.id).where(
                (Developer.id == developer) | (Developer.email == developer.strip().lower())
            )
        ).all()
    # An unknown developer matches nothing (an empty report), not everything.
    return tuple(ids) or (developer,)
