"""First start: with an empty store, create the org and an admin key and show it once."""

from __future__ import annotations

from prism.settings import Settings
from prism.store.keys import KeyStore, NewKey


def claude_code_env(settings: Settings, key: str, protocol: str = "http/protobuf") -> str:
    """The env block that points Claude Code's exporter at this Prism."""
    endpoint = settings.resolved_public_url
    if protocol == "grpc":
        endpoint = f"http://{settings.host}:{settings.grpc_port}"
    return "\n".join(
        [
            "export CLAUDE_CODE_ENABLE_TELEMETRY=1",
            "export OTEL_LOGS_EXPORTER=otlp",
            "export OTEL_METRICS_EXPORTER=otlp",
            f"export OTEL_EXPORTER_OTLP_PROTOCOL={protocol}",
            f"export OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}",
            f'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {key}"',
            "export OTEL_LOG_USER_PROMPTS=1",
            "export OTEL_LOG_TOOL_DETAILS=1",
        ]
    )


def bootstrap(settings: Settings, keys: KeyStore) -> NewKey | None:
    """Create the first admin key when the store has none; None when keys already exist."""
    if keys.count_keys() > 0:
        return None
    return keys.create_key(
        developer=settings.bootstrap_admin_email,
        org=settings.bootstrap_org,
        scope="admin",
        name="bootstrap admin key",
    )


def first_start_message(settings: Settings, new: NewKey) -> str:
    return (
        f"\nPrism created org {new.org!r} and an admin API key for {new.developer}.\n"
        "It is shown only this once; store it now:\n\n"
        f"    {new.key}\n\n"
        'Point Claude Code at Prism (paste into your shell, or the "env" block of '
        "~/.claude/settings.json):\n\n"
        f"{claude_code_env(settings, new.key)}\n\n"
        "Make a key per developer with: prism keys create --developer you@example.com\n"
    )
