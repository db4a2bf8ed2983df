"""Start-up checks of the parts the settings choose, before any process starts serving.

Scale mode depends on services Prism does not run itself. A wrong URL or a stopped server must
stop `prism serve|ingest|engine|worker` at once with one line naming the setting or command
that fixes it, not a traceback later, and not a supervisor restarting children in a loop.
"""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from prism.settings import Settings
from prism.store.db import check_reachable, is_postgres


def check_parts(settings: Settings) -> None:
    """Raise ConfigError (with the fix) when the metadata store, NATS or S3 is unusable."""
    url = settings.resolved_database_url
    if is_postgres(url):
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        try:
            check_reachable(engine)
        finally:
            engine.dispose()
    if settings.queue_url:
        from prism.queue.nats import check_nats

        check_nats(settings.queue_url)
    if settings.lake_root.startswith("s3://"):
        from prism.lake.s3 import S3Storage

        S3Storage(
            settings.lake_root,
            endpoint_url=settings.s3_endpoint_url,
            database_url=url,
        ).check()
