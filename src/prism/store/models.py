"""Metadata tables (SQLAlchemy 2 declarative). Alembic migrations in `migrations/` create them.

Tables are declared without a schema; on PostgreSQL the engine maps them into schema `prism`
(see `prism.store.db`), so one set of models serves SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Developer(Base):
    __tablename__ = "developers"
    __table_args__ = (UniqueConstraint("org_id", "email", name="uq_developers_org_email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An API key. Only the SHA-256 of the secret is kept: keys are 256-bit random, so a slow
    password hash would add latency to every ingest request without adding safety."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))  # admin | developer
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LakeCommit(Base):
    """One lake writer flush: the files it wrote. `state` is `renaming` between the journal
    commit and the renames of its temporary files, `done` after (see lake.writer)."""

    __tablename__ = "lake_commits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    files: Mapped[list[str]] = mapped_column(JSON)
    records: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LakeAppliedBatch(Base):
    """Batch ids already in the lake: the writer skips a batch seen here, which makes redelivery
    after a crash and an exporter's retry of the same body both no-ops."""

    __tablename__ = "lake_applied_batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    commit_id: Mapped[str] = mapped_column(String(36))
    records: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class MetricSeriesState(Base):
    """Last cumulative value per metric series, to turn cumulative sums into per-interval
    deltas across batches and restarts."""

    __tablename__ = "metric_series_state"

    series_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    start_time_ns: Mapped[int] = mapped_column(BigInteger)
    last_time_ns: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[float] = mapped_column(Float)


class Preference(Base):
    __tablename__ = "preferences"

    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id"), primary_key=True)
    score_pref: Mapped[str | None] = mapped_column(String(8), nullable=True)
    extra: Mapped[dict | None] = mapped_column(JSON, nullable=True)


Index("ix_api_keys_prefix", ApiKey.prefix)
