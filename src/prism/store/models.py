"""Metadata tables (SQLAlchemy 2 declarative). Alembic migrations in `migrations/` create them.

Tables are declared without a schema; on PostgreSQL the engine maps them into schema `prism`
(see `prism.store.db`), so one set of models serves SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
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


# --- PRISM Score v3.0 ---------------------------------------------------------------------------


class ScoreSession(Base):
    """One agent session (Claude Code `session.id`) of one developer."""

    __tablename__ = "score_v3_sessions"
    __table_args__ = (Index("ix_v3_sessions_dev_started", "developer_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    developer_id: Mapped[str] = mapped_column(String(36))
    claude_session_id: Mapped[str] = mapped_column(String(200))
    agent: Mapped[str] = mapped_column(String(32), default="claude_code")
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    title_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    arc_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SubSession(Base):
    """A goal arc: the scored unit. Verdict fields hold the current verdict (see ArcVerdictRow
    for every verdict ever given, with its judge's name and version)."""

    __tablename__ = "score_v3_sub_sessions"
    __table_args__ = (
        Index("ix_v3_sub_dev_started", "developer_id", "started_at"),
        Index("ix_v3_sub_dev_ended", "developer_id", "ended_at"),
        Index("ix_v3_sub_status", "status", "ended_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_row_id: Mapped[str] = mapped_column(ForeignKey("score_v3_sessions.id"), index=True)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    developer_id: Mapped[str] = mapped_column(String(36))
    claude_session_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8))  # open | scored
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    title_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    prompt_count: Mapped[int] = mapped_column(Integer, default=0)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    # current verdict (null while open)
    qualifying: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    trivia_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    crushed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    is_rework: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reworks_arc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reworked_later: Mapped[bool] = mapped_column(Boolean, default=False)
    reworked_by_arc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    intent_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    prompt_grade: Mapped[float | None] = mapped_column(Float, nullable=True)
    letter_grade: Mapped[str | None] = mapped_column(String(2), nullable=True)
    judge_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    judge_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    judge_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    verdict: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # full verdict + evidence
    digest: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # inputs for other arcs
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArcVerdictRow(Base):
    """Every verdict given to an arc: re-judging adds a row and moves `is_current`."""

    __tablename__ = "score_v3_verdicts"
    __table_args__ = (Index("ix_v3_verdicts_arc", "sub_session_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sub_session_id: Mapped[str] = mapped_column(ForeignKey("score_v3_sub_sessions.id"))
    judge_name: Mapped[str] = mapped_column(String(64))
    judge_version: Mapped[str] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    verdict: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArcRubric(Base):
    """The arc-level rubric roll-up (one row per arc, current verdict)."""

    __tablename__ = "score_v3_arc_rubrics"

    sub_session_id: Mapped[str] = mapped_column(
        ForeignKey("score_v3_sub_sessions.id"), primary_key=True
    )
    developer_id: Mapped[str] = mapped_column(String(36), index=True)
    intent_class: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    judge_status: Mapped[str] = mapped_column(String(16))
    goal_explicit: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    scope_bounded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    references_concrete: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    context_sufficient: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    verification_requested: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    root_cause_oriented: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    plan_first: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    applicability: Mapped[dict] = mapped_column(JSON)
    prompt_grade: Mapped[float | None] = mapped_column(Float, nullable=True)
    letter_grade: Mapped[str | None] = mapped_column(String(2), nullable=True)


class PromptRubricRow(Base):
    """Prompt-level rubric rows (LEFT JOINed to the prompts of an arc)."""

    __tablename__ = "score_v3_prompt_rubrics"
    __table_args__ = (Index("ix_v3_prompt_rubrics_arc", "sub_session_id"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # sub_session_id:prompt_id
    sub_session_id: Mapped[str] = mapped_column(ForeignKey("score_v3_sub_sessions.id"))
    prompt_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    values: Mapped[dict] = mapped_column(JSON)  # booleans, applicability, grade, letter, intent


class TriviaRow(Base):
    __tablename__ = "score_v3_trivia"
    __table_args__ = (Index("ix_v3_trivia_dev_at", "developer_id", "created_at"),)

    sub_session_id: Mapped[str] = mapped_column(
        ForeignKey("score_v3_sub_sessions.id"), primary_key=True
    )
    developer_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IntegrityFlagRow(Base):
    __tablename__ = "score_v3_integrity_flags"
    __table_args__ = (Index("ix_v3_flags_dev_at", "developer_id", "at"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # sub_session_id:kind
    sub_session_id: Mapped[str] = mapped_column(ForeignKey("score_v3_sub_sessions.id"))
    developer_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    blocking: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionizeCursor(Base):
    """Per developer: the earliest event time not yet sessionized (null = up to date)."""

    __tablename__ = "sessionize_cursors"

    developer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36))
    dirty_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScoreVersion(Base):
    """Bumped whenever a developer's arcs or verdicts change: engines key caches on it."""

    __tablename__ = "score_versions"

    developer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- events and webhooks (issue 5) ---------------------------------------------------------------


class StreamEvent(Base):
    """The append-only event log: written by whichever process sees the change (mostly the
    worker), tailed by every engine process for SSE and by the webhook sender. `id` only grows
    (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so it is the SSE `id` clients resume
    from with Last-Event-ID."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_org_dev_id", "org_id", "developer_id", "id"),
        Index("ix_events_created", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str] = mapped_column(String(36))
    developer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventCursor(Base):
    """How far a consumer of the event log (the webhook sender) has read."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    """A URL subscribed to event types. `secret` signs deliveries, so it is kept as written (an
    HMAC key cannot be stored as a hash); it is returned once, at creation."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    developer_id: Mapped[str] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(16))  # developer | org
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event for one webhook: the exact body, its attempts, and where it stands."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_hook", "webhook_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    attempt_log: Mapped[list[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- dashboard sign-in (issue 6) ------------------------------------------------------------------


class WebSession(Base):
    """A signed-in dashboard browser. The cookie holds a random token; only its SHA-256 is kept
    here. A session acts as the API key it was opened with, so revoking the key ends it."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    developer_id: Mapped[str] = mapped_column(String(36))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebLoginToken(Base):
    """A single-use, short-lived sign-in link (`prism serve` prints one for the admin)."""

    __tablename__ = "web_login_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the link token
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# --- reports and LLM usage (issue 4) --------------------------------------------------------------


class InsightReport(Base):
    """One report generation: a job while `pending`/`running`, a report once `completed`.

    `content` (structured JSON) and `markdown` are written only when the job completes, in the
    same statement that moves the status, so a cancelled or failed job never leaves a partial
    report. `family` is `v2` (/v1/insights/report) or `v3` (/v1/score_v3/report); `scope` is a
    free tag.
    """

    __tablename__ = "insight_reports"
    __table_args__ = (
        Index("ix_insight_reports_dev", "developer_id", "family", "scope", "created_at"),
        Index("ix_insight_reports_status", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36))
    developer_id: Mapped[str] = mapped_column(String(36))
    requested_by: Mapped[str] = mapped_column(String(36))
    family: Mapped[str] = mapped_column(String(4))  # v2 | v3
    scope: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # pending|running|completed|failed|cancelled
    step: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    requested_language: Mapped[str | None] = mapped_column(String(200), nullable=True)
    window_kind: Mapped[str] = mapped_column(String(16))  # daily|weekly|monthly|custom
    window_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    writer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    writer_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    content: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    markdown: Mapped[str | None] = mapped_column(Text, nullable=True)
    llm_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    llm_output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    llm_cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LlmUsage(Base):
    """Prism's own LLM calls (judging, titles, reports): tokens and exact cost, per call."""

    __tablename__ = "llm_usage"
    __table_args__ = (Index("ix_llm_usage_at", "at"), Index("ix_llm_usage_ref", "ref"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(16))  # outcome|rubric|titles|reports
    outcome: Mapped[str] = mapped_column(String(32))  # ok | the failure reason
    ref: Mapped[str | None] = mapped_column(String(80), nullable=True)  # arc or report id
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
