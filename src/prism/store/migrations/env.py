"""Alembic environment: runs against the engine Prism hands over in `config.attributes`."""

from __future__ import annotations

from alembic import context

from prism.store.db import PG_SCHEMA, is_postgres
from prism.store.models import Base

config = context.config
engine = config.attributes["engine"]
postgres = is_postgres(str(engine.url))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table_schema=PG_SCHEMA if postgres else None,
        render_as_batch=not postgres,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
