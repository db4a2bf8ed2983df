"""Prism's one typed settings object.

Every knob lives here, declared once with a description; `docs/configuration.md` is generated
from these fields (`prism config docs`) and a test fails when the two drift. Values come from,
highest priority first: keyword arguments, `PRISM_*` environment variables, the TOML file named by
`PRISM_CONFIG_FILE` (default `./prism.toml` when it exists), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from prism.errors import ConfigError

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Configuration of every Prism process (ingest, engine, worker, serve)."""

    model_config = SettingsConfigDict(
        env_prefix="PRISM_", extra="forbid", validate_default=True, frozen=True
    )

    # --- where things live -------------------------------------------------------------------
    data_dir: Path = Field(
        Path("./prism-data"),
        description="Folder for the embedded parts: SQLite metadata, the local queue, the lake.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata store. Unset: SQLite at <data_dir>/prism.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db (tables go in schema `prism`).",
    )
    queue_url: str | None = Field(
        None,
        description="Queue between ingest and the lake writer. Unset: the embedded durable queue "
        "at <data_dir>/queue.db. nats://host:4222 selects NATS JetStream.",
    )
    lake_url: str | None = Field(
        None,
        description="Where the Parquet lake lives. Unset: <data_dir>/lake. s3://bucket/prefix "
        "selects an S3-compatible object store.",
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of a non-AWS S3-compatible store (MinIO, moto, ...)."
    )

    # --- network -------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address every Prism server binds to.")
    ingest_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP ingest port.")
    grpc_port: int = Field(4317, ge=0, le=65535, description="OTLP/gRPC ingest port.")
    api_port: int = Field(8000, ge=0, le=65535, description="Engine API (and dashboard) port.")
    engine_url: str | None = Field(
        None,
        description="Base URL ingest uses to proxy the engine paths it also answers. "
        "Unset: http://<host>:<api_port>.",
    )
    public_url: str | None = Field(
        None,
        description="URL developers' agents use to reach ingest, shown in the Claude Code env "
        "block. Unset: http://<host>:<ingest_port>.",
    )

    # --- ingest limits and durability ----------------------------------------------------------
    max_body_bytes: int = Field(
        8 * MiB, ge=1024, description="Largest request body accepted as sent (compressed)."
    )
    max_decompressed_bytes: int = Field(
        64 * MiB, ge=1024, description="Largest request body accepted after gzip inflation."
    )
    max_attribute_length: int = Field(
        65536,
        ge=64,
        description="Longest string attribute kept; longer values are cut and end with "
        "the marker '…[truncated]'. Claude Code itself caps content at 61,440 UTF-16 units.",
    )
    queue_high_water_batches: int = Field(
        20000, ge=1, description="Queued batches above which ingest answers 503 + Retry-After."
    )
    queue_high_water_bytes: int = Field(
        1024 * MiB, ge=MiB, description="Queued bytes above which ingest answers 503."
    )
    group_commit_window_ms: float = Field(
        2.0,
        ge=0,
        description="How long the queue's committer waits to gather more batches into one "
        "fsync. Larger: more throughput, higher ack latency.",
    )
    store_content: bool = Field(
        True,
        description="Keep prompt, response and tool-input text. false drops them at ingest "
        "and keeps only their lengths.",
    )

    # --- lake -----------------------------------------------------------------------------------
    lake_flush_seconds: float = Field(
        0.5, gt=0, description="Longest time a queued batch waits before the writer flushes."
    )
    lake_flush_batches: int = Field(
        2000, ge=1, description="Batches the lake writer takes per flush at most."
    )
    lake_compact_min_files: int = Field(
        16, ge=2, description="Small files in one partition that trigger a compaction."
    )
    lake_compact_small_bytes: int = Field(
        8 * MiB, ge=1024, description="A Parquet file below this size counts as small."
    )
    telemetry_default_limit: int = Field(100, ge=1, description="Default rows per telemetry read.")
    telemetry_max_limit: int = Field(
        1000, ge=1, description="Most rows one telemetry read returns."
    )

    # --- sessions and judging (issue 3 builds on these) -----------------------------------------
    arc_gap_seconds: int = Field(
        1200, ge=1, description="Idle gap that closes a goal arc (scoring.md arc_gap_minutes)."
    )

    # --- scoring thresholds (docs/scoring.md; defaults are scoring.md's) ---
    new_task_min_tokens: int = Field(
        3, description="Content words a prompt needs before low similarity may start a new arc."
    )
    new_task_max_similarity: float = Field(
        0.2,
        description=(
            "Share of a prompt's content words already seen in the arc below which it is a "
            "new goal."
        ),
    )
    min_prompts: int = Field(1, description="Substance floor: prompts an arc needs.")
    min_work_actions: int = Field(
        2,
        description=(
            "Substance floor: work actions (edits, writes, bash, other tool results) an arc needs."
        ),
    )
    min_seconds: float = Field(
        60.0, description="Substance floor: seconds from first prompt to last activity."
    )
    min_output_tokens: int = Field(500, description="Substance floor: output tokens an arc needs.")
    complete_min_evidence: float = Field(
        0.3, description="Summed weight of completion evidence needed for goal_complete."
    )
    complete_margin: float = Field(
        0.2,
        description=(
            "How much completion evidence must exceed evidence against it for goal_complete."
        ),
    )
    rework_window_days: int = Field(
        7, description="An arc redoing a goal completed this many days before is rework."
    )
    rework_file_jaccard: float = Field(
        0.5, description="Jaccard overlap of touched files that makes two arcs the same goal."
    )
    rework_text_similarity: float = Field(
        0.5, description='Overlap coefficient of goal words that makes two goals "similar text".'
    )
    revoke_reworked: bool = Field(
        False,
        description=(
            "When true, an arc marked reworked_later loses its crush (spec default: shown only)."
        ),
    )
    intent_min_confidence: float = Field(
        0.5, description="Confidence an intent class needs for the arc to count as committed."
    )
    infer_intent_without_text: bool = Field(
        True,
        description=(
            "Infer intent from tool activity when prompts carry no text (see docs/scoring.md)."
        ),
    )
    grade_a: float = Field(0.85, description="Prompt grade cut-off for letter A.")
    grade_b: float = Field(0.7, description="Prompt grade cut-off for letter B.")
    grade_c: float = Field(0.55, description="Prompt grade cut-off for letter C.")
    grade_d: float = Field(0.4, description="Prompt grade cut-off for letter D.")
    storm_identical_prompts: int = Field(
        5, description="auto_retry_storm: identical normalized prompts ..."
    )
    storm_identical_window_seconds: int = Field(600, description="... within this many seconds.")
    storm_api_errors: int = Field(10, description="auto_retry_storm: API errors/retries ...")
    storm_api_errors_window_seconds: int = Field(300, description="... within this many seconds.")
    tiny_prompt_count: int = Field(
        8, description="tiny_prompt_burst: prompts under tiny_prompt_max_chars ..."
    )
    tiny_prompt_max_chars: int = Field(
        15, description="A prompt is tiny when shorter than this many characters."
    )
    tiny_prompt_window_seconds: int = Field(300, description="... within this many seconds.")
    splitting_arc_count: int = Field(6, description="arc_splitting: arcs barely over the floor ...")
    splitting_window_seconds: int = Field(3600, description="... within this many seconds.")
    splitting_margin: float = Field(
        2.0,
        description=(
            'An arc is "barely over the floor" when work, seconds and output tokens are all '
            "within this factor of their floor."
        ),
    )
    blocking_flags: list[str] = Field(
        ["arc_splitting", "auto_retry_storm", "self_grading"],
        description="Integrity flags that block a crush.",
    )
    score_grade_a: float = Field(80.0, description="PRISM score cut-off for letter A.")
    score_grade_b: float = Field(60.0, description="PRISM score cut-off for letter B.")
    score_grade_c: float = Field(40.0, description="PRISM score cut-off for letter C.")
    score_grade_d: float = Field(20.0, description="PRISM score cut-off for letter D.")
    tier_min_qualifying: int = Field(
        3, description="Below this many qualifying arcs the tier is warming_up."
    )
    tier_exploring_below: float = Field(
        40.0, description="Score below which the tier is exploring."
    )
    tier_building_below: float = Field(60.0, description="Score below which the tier is building.")
    tier_scaling_below: float = Field(
        80.0, description="Score below which the tier is scaling (else crushing)."
    )
    sparkline_windows: int = Field(4, description="Windows in a sparkline.")
    tet_baseline_windows: int = Field(
        4, description="Previous windows whose median TPT is the TET baseline."
    )
    ie_target_prompts: float = Field(
        2.0, description="v2.1 IE: min(1, this / mean prompts per completed arc)."
    )
    ttc_target_seconds: float = Field(
        1800.0, description="v2.1 Speed: min(1, this / median time-to-complete)."
    )
    sessionize_tick_seconds: float = Field(
        1.0, gt=0, description="How often the worker looks for new events and silent arcs."
    )

    # --- events, webhooks, rate limits (issue 5) ------------------------------------------------
    events_retention_hours: float = Field(
        24.0,
        gt=0,
        description="How long events stay in the event log; a client resuming with an older "
        "Last-Event-ID gets only what is left.",
    )
    events_poll_seconds: float = Field(
        0.2,
        gt=0,
        le=10,
        description="How often each engine process looks for new events (on PostgreSQL "
        "LISTEN/NOTIFY wakes it sooner).",
    )
    events_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Seconds between SSE heartbeat comments on an idle stream."
    )
    events_client_buffer: int = Field(
        1000,
        ge=1,
        description="Events buffered per SSE client; a client that falls this far behind is "
        "disconnected and resumes with Last-Event-ID.",
    )
    events_max_clients: int = Field(
        1000, ge=1, description="Most SSE clients one engine process serves at once (503 past it)."
    )
    webhook_allow_private: bool = Field(
        False,
        description="Allow webhook targets on private, loopback and link-local addresses "
        "(refused by default: they reach into the server's own network).",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a webhook target has to answer one delivery."
    )
    webhook_max_attempts: int = Field(
        8, ge=1, description="Attempts per delivery before it is marked failed."
    )
    webhook_retry_base_seconds: float = Field(
        10.0,
        gt=0,
        description="First retry delay; each later one doubles it (half of each delay random).",
    )
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, description="Longest delay between two attempts of one delivery."
    )
    webhook_disable_after_failures: int = Field(
        20,
        ge=1,
        description="Consecutive failed attempts after which a webhook is disabled (the user "
        "re-enables it with PATCH /v1/webhooks/{id}).",
    )
    webhook_poll_seconds: float = Field(
        0.5, gt=0, description="How often the webhook sender looks for new events and due retries."
    )
    webhook_log_retention_days: float = Field(
        14.0, gt=0, description="How long finished deliveries stay in the delivery log."
    )
    rate_limit_enabled: bool = Field(
        True, description="Token-bucket rate limits per API key on every HTTP endpoint."
    )
    rate_limit_admin_per_minute: int = Field(
        3000, ge=1, description="Engine requests per minute (and burst) for an admin key."
    )
    rate_limit_developer_per_minute: int = Field(
        1200, ge=1, description="Engine requests per minute (and burst) for a developer key."
    )
    rate_limit_anonymous_per_minute: int = Field(
        600,
        ge=1,
        description="Requests per minute per client address without a valid key (health "
        "probes, scrapes, bad keys).",
    )
    rate_limit_ingest_per_minute: int = Field(
        120000,
        ge=1,
        description="OTLP/HTTP export requests per minute (and burst) per key on the ingest "
        "port: its own, larger budget.",
    )

    # --- scale mode: NATS JetStream queue ---------------------------------------------------------
    nats_stream: str = Field(
        "PRISM",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="JetStream stream holding queued batches (subjects <stream>.logs|metrics|"
        "traces). Created on first start; edit its limits or replicas with the nats CLI later.",
    )
    nats_ack_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a claimed batch stays hidden from other lake writers; a live "
        "writer extends it while it works, a crashed writer's batches return after this.",
    )
    nats_max_inflight: int = Field(
        4096,
        ge=1,
        description="Publishes awaiting their JetStream ack, per ingest process, above which "
        "ingest answers 503 + Retry-After.",
    )

    # --- demo (prism demo, prism serve --demo) ---------------------------------------------------
    demo_developers: int = Field(
        5, ge=1, le=200, description="Developers in the demo history (`prism demo` default)."
    )
    demo_days: int = Field(
        28, ge=1, le=366, description="Days of demo history, ending now (`prism demo` default)."
    )
    demo_seed: int = Field(
        7, description="Seed of the demo history: the same seed gives the same history."
    )

    # --- dashboard -------------------------------------------------------------------------------
    web_session_hours: float = Field(
        12.0,
        gt=0,
        le=720,
        description="How long a dashboard sign-in lasts before the browser must sign in again.",
    )
    web_login_link_minutes: float = Field(
        15.0,
        gt=0,
        le=1440,
        description="How long the one-time dashboard sign-in link that `prism serve` prints "
        "stays valid; it works once.",
    )
    web_cookie_secure: bool = Field(
        False,
        description="Mark the dashboard's cookies Secure (sent over HTTPS only); turn it on when "
        "Prism is reached through HTTPS.",
    )

    # --- reports and LLM judges/writers (issue 4) ------------------------------------------------
    report_workers: int = Field(
        2, ge=1, le=32, description="Threads per engine process that run async report jobs."
    )
    report_stale_seconds: float = Field(
        600.0,
        gt=0,
        description="A report job with no progress for this long is taken as dead (its engine "
        "stopped) and marked failed.",
    )
    llm_provider: Literal["anthropic", "openai"] | None = Field(
        None,
        description="LLM provider for the tasks in PRISM_LLM_TASKS: `anthropic` (Messages API) "
        "or `openai` (any OpenAI-compatible chat endpoint: Ollama, vLLM, LM Studio, LiteLLM). "
        "Unset: the heuristic judge and writer do everything, offline.",
    )
    llm_model: str | None = Field(
        None, description="Model name sent to the provider (e.g. claude-sonnet-4-5, llama3.1)."
    )
    llm_base_url: str | None = Field(
        None,
        description="Provider endpoint; unset uses the SDK's default (api.anthropic.com or "
        "api.openai.com). Ollama: http://localhost:11434/v1.",
    )
    llm_api_key: str | None = Field(
        None,
        description="API key for the provider (local OpenAI-compatible servers accept any).",
        repr=False,
    )
    llm_tasks: list[Literal["outcome", "rubric", "titles", "reports"]] = Field(
        [],
        description="Tasks the LLM does: outcome, rubric (the LLM judge), titles (sub-session "
        "titles and summaries), reports (report prose). Others stay heuristic.",
    )
    llm_task_models: dict[str, str] = Field(
        {},
        description='Per-task override "provider:model", e.g. {"reports": "openai:llama3.1"}.',
    )
    llm_timeout_seconds: float = Field(
        60.0, gt=0, description="Time limit of one LLM request (connect and answer)."
    )
    llm_max_retries: int = Field(
        3, ge=0, le=10, description="Retries of an LLM request answered 429 or 5xx."
    )
    llm_max_retry_wait_seconds: float = Field(
        30.0,
        ge=0,
        description="Longest wait before a retry; a longer Retry-After gives up at once.",
    )
    llm_concurrency: int = Field(
        4, ge=1, le=256, description="LLM requests in flight at once, per process."
    )
    llm_max_tokens: int = Field(
        2048, ge=64, description="Most output tokens one LLM answer may use."
    )
    llm_stream: bool = Field(
        False, description="Read LLM answers as a stream (SSE) instead of one response."
    )
    llm_input_usd_per_mtok: str | None = Field(
        None,
        description="Price of input tokens (USD per million) for Prism's own LLM cost when the "
        "model is not in the price table (local models: leave unset = 0).",
    )
    llm_output_usd_per_mtok: str | None = Field(
        None, description="Price of output tokens (USD per million); see the input price."
    )

    # --- operations ------------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of every Prism process."
    )
    bootstrap_org: str = Field(
        "default", description="Name of the org created on first start with an empty store."
    )
    bootstrap_admin_email: str = Field(
        "admin@localhost", description="Developer who owns the admin key made on first start."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("PRISM_CONFIG_FILE", "prism.toml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if Path(toml_path).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # The psycopg 3 driver is the one installed; say so instead of failing on import.
            _, rest = value.split("://", 1)
            return f"postgresql+psycopg://{rest}"
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
            raise ValueError("use sqlite:///path/to/prism.db or postgresql+psycopg://user@host/db")
        return value

    @field_validator("queue_url")
    @classmethod
    def _known_queue(cls, value: str | None) -> str | None:
        if value and not value.startswith("nats://"):
            raise ValueError("leave unset for the embedded queue, or use nats://host:4222")
        return value

    @field_validator("lake_url")
    @classmethod
    def _known_lake(cls, value: str | None) -> str | None:
        if value and not (value.startswith("s3://") or value.startswith("file://")):
            raise ValueError("leave unset for <data_dir>/lake, or use s3://bucket/prefix")
        return value

    @model_validator(mode="after")
    def _limits_consistent(self) -> Settings:
        if self.max_decompressed_bytes < self.max_body_bytes:
            raise ValueError(
                "max_decompressed_bytes must be >= max_body_bytes "
                "(PRISM_MAX_DECOMPRESSED_BYTES >= PRISM_MAX_BODY_BYTES)"
            )
        if self.telemetry_default_limit > self.telemetry_max_limit:
            raise ValueError("telemetry_default_limit must be <= telemetry_max_limit")
        return self

    # --- derived values ---------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'prism.db').resolve()}"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    @property
    def lake_root(self) -> str:
        """Lake location as a URL-ish string: a local folder path, or s3://..."""
        if self.lake_url is None:
            return str((self.data_dir / "lake").resolve())
        if self.lake_url.startswith("file://"):
            return self.lake_url[len("file://") :]
        return self.lake_url

    @property
    def resolved_engine_url(self) -> str:
        return self.engine_url or f"http://{self.host}:{self.api_port}"

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.ingest_port}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"PRISM_{name.upper()}" if err["loc"] else "settings"
            lines.append(f"{env}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from None
