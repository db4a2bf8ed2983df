"""Settings: defaults, PRISM_* overrides, the TOML file, readable errors, the docs drift check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prism import settings_docs
from prism.errors import ConfigError, PrismError
from prism.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PRISM_* from the caller's shell, and a working directory without a prism.toml."""
    for name in list(os.environ):
        if name.startswith("PRISM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults() -> None:
    s = load_settings()
    assert s.data_dir == Path("prism-data")
    assert s.database_url is None and s.queue_url is None and s.lake_url is None
    assert (s.host, s.ingest_port, s.grpc_port, s.api_port) == ("127.0.0.1", 4318, 4317, 8000)
    assert s.max_body_bytes == 8 * 1024 * 1024
    assert s.max_decompressed_bytes == 64 * 1024 * 1024
    assert s.store_content is True
    assert s.log_level == "info"
    assert (s.telemetry_default_limit, s.telemetry_max_limit) == (100, 1000)
    # derived values point into data_dir
    assert s.resolved_database_url == f"sqlite:///{(Path('prism-data') / 'prism.db').resolve()}"
    assert s.queue_path == Path("prism-data") / "queue.db"
    assert s.lake_root == str((Path("prism-data") / "lake").resolve())
    assert s.resolved_engine_url == "http://127.0.0.1:8000"
    assert s.resolved_public_url == "http://127.0.0.1:4318"


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRISM_INGEST_PORT", "9999")
    monkeypatch.setenv("PRISM_STORE_CONTENT", "false")
    monkeypatch.setenv("PRISM_LOG_LEVEL", "debug")
    monkeypatch.setenv("PRISM_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("PRISM_DATABASE_URL", "postgres://me@db.example/prism")
    monkeypatch.setenv("PRISM_LAKE_URL", f"file://{tmp_path}/lk")
    s = load_settings()
    assert s.ingest_port == 9999
    assert s.store_content is False
    assert s.log_level == "debug"
    assert s.data_dir == tmp_path / "d"
    assert s.queue_path == tmp_path / "d" / "queue.db"
    # postgres:// is rewritten to the installed psycopg 3 driver
    assert s.database_url == "postgresql+psycopg://me@db.example/prism"
    assert s.resolved_database_url == s.database_url
    assert s.lake_root == f"{tmp_path}/lk"


def test_keyword_arguments_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_API_PORT", "8100")
    assert load_settings(api_port=8200).api_port == 8200


def test_toml_file_named_by_prism_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = tmp_path / "elsewhere" / "my.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        'ingest_port = 5000\napi_port = 5001\nlog_level = "warning"\n'
        'queue_url = "nats://nats:4222"\nlake_flush_seconds = 1.5\n'
    )
    monkeypatch.setenv("PRISM_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("PRISM_API_PORT", "6001")  # env beats the file
    s = load_settings()
    assert s.ingest_port == 5000
    assert s.api_port == 6001
    assert s.log_level == "warning"
    assert s.queue_url == "nats://nats:4222"
    assert s.lake_flush_seconds == 1.5


def test_prism_toml_in_working_directory_is_the_default_file(clean_env: Path) -> None:
    (clean_env / "prism.toml").write_text("grpc_port = 14317\n")
    assert load_settings().grpc_port == 14317


def test_missing_config_file_falls_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_CONFIG_FILE", "/nonexistent/prism.toml")
    assert load_settings().ingest_port == 4318


@pytest.mark.parametrize(
    ("env", "value", "variable"),
    [
        ("PRISM_INGEST_PORT", "70000", "PRISM_INGEST_PORT"),
        ("PRISM_INGEST_PORT", "not-a-port", "PRISM_INGEST_PORT"),
        ("PRISM_LOG_LEVEL", "loud", "PRISM_LOG_LEVEL"),
        ("PRISM_QUEUE_URL", "redis://localhost", "PRISM_QUEUE_URL"),
        ("PRISM_LAKE_URL", "gs://bucket", "PRISM_LAKE_URL"),
        ("PRISM_DATABASE_URL", "mysql://x@y/z", "PRISM_DATABASE_URL"),
        ("PRISM_MAX_BODY_BYTES", "12", "PRISM_MAX_BODY_BYTES"),
        ("PRISM_STORE_CONTENT", "perhaps", "PRISM_STORE_CONTENT"),
        ("PRISM_LAKE_FLUSH_SECONDS", "0", "PRISM_LAKE_FLUSH_SECONDS"),
    ],
)
def test_invalid_env_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, variable: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert variable in str(info.value)
    assert isinstance(info.value, PrismError)
    assert str(info.value).startswith("invalid configuration:")


def test_inconsistent_limits_name_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_MAX_BODY_BYTES", str(32 * 1024 * 1024))
    monkeypatch.setenv("PRISM_MAX_DECOMPRESSED_BYTES", str(16 * 1024 * 1024))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "PRISM_MAX_DECOMPRESSED_BYTES" in str(info.value)
    assert "PRISM_MAX_BODY_BYTES" in str(info.value)


def test_default_limit_above_max_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="telemetry_default_limit"):
        load_settings(telemetry_default_limit=500, telemetry_max_limit=100)


def test_unknown_key_in_toml_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "typo.toml"
    cfg.write_text("ingest_prot = 5000\n")
    monkeypatch.setenv("PRISM_CONFIG_FILE", str(cfg))
    with pytest.raises(ConfigError, match="PRISM_INGEST_PROT"):
        load_settings()


def test_invalid_value_in_toml_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('api_port = "eighty"\n')
    monkeypatch.setenv("PRISM_CONFIG_FILE", str(cfg))
    with pytest.raises(ConfigError, match="PRISM_API_PORT"):
        load_settings()


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        s.ingest_port = 1  # type: ignore[misc]


def test_every_setting_has_a_description() -> None:
    missing = [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert missing == []


def test_configuration_docs_match_the_code() -> None:
    rendered = settings_docs.render()
    for name in Settings.model_fields:
        assert f"`PRISM_{name.upper()}`" in rendered
    on_disk = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert on_disk == rendered, (
        "docs/configuration.md is out of date with prism.settings.Settings; "
        "run `prism config docs > docs/configuration.md`"
    )
