"""Drive the real Claude Code CLI non-interactively for tests.

``claude_binary()`` finds (installing on demand via ``scripts/install-claude-cli.sh``) the pinned
CLI; ``run_claude()`` runs one ``claude -p`` session against a fake Anthropic API (see
``tests/support/fake_anthropic.py``) with its OpenTelemetry export pointed at ``otlp_endpoint``.

The CLI runs with a private HOME / CLAUDE_CONFIG_DIR and a minimal environment (nothing from the
machine's ``ANTHROPIC_*`` / ``OTEL_*`` / proxy settings leaks in). Outbound traffic other than to
127.0.0.1 is routed to a dead local proxy, so the CLI never reaches the internet: its optional
start-up fetches to api.anthropic.com (bootstrap) fail at once and are ignored by the CLI.
The CLI flushes its OTLP exporters before it exits, so once ``run_claude`` returns the telemetry
has been sent (a receiver may still be processing it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PINNED_VERSION = "2.1.197"
ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "install-claude-cli.sh"
INSTALL_DIR = Path(os.environ.get("CLAUDE_CLI_DIR") or ROOT / ".cache" / "claude-cli")
ALLOWED_TOOLS = "Bash Write Edit Read"
PROTOCOLS = ("http/protobuf", "http/json", "grpc")
# A local port nothing listens on: any proxied (i.e. non-loopback) request is refused at once.
_DEAD_PROXY = "http://127.0.0.1:9"

INSTALL_HINT = (
    "the Claude Code CLI tests need Node.js (>= 18) with npm and access to the npm registry: "
    "install them (e.g. `apt-get install -y nodejs npm`), then run "
    "`scripts/install-claude-cli.sh` (installs @anthropic-ai/claude-code@"
    f"{PINNED_VERSION} into .cache/claude-cli)"
)


class ClaudeCliUnavailable(RuntimeError):
    """The CLI is not installed and could not be installed; the message says what to install."""


def _installed_binary(install_dir: Path) -> Path | None:
    pkg = install_dir / "node_modules" / "@anthropic-ai" / "claude-code"
    try:
        version = json.loads((pkg / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    if version != PINNED_VERSION:
        return None
    binary = pkg / "bin" / "claude.exe"
    # Before the native binary is linked in, bin/claude.exe is a ~500-byte placeholder script.
    if binary.is_file() and binary.stat().st_size > 1_000_000 and os.access(binary, os.X_OK):
        return binary
    return None


def claude_binary(*, install: bool = True) -> Path:
    """Path of the pinned native ``claude`` binary, installing it first if needed.

    ``PRISM_CLAUDE_BIN`` overrides the lookup (any ``claude`` executable you trust).
    Raises :class:`ClaudeCliUnavailable` with install instructions when it cannot be had.
    """
    override = os.environ.get("PRISM_CLAUDE_BIN")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ClaudeCliUnavailable(f"PRISM_CLAUDE_BIN={override} is not an executable file")
        return path
    found = _installed_binary(INSTALL_DIR)
    if found is not None:
        return found
    if not install:
        raise ClaudeCliUnavailable(f"Claude Code CLI not installed; {INSTALL_HINT}")
    if shutil.which("npm") is None:
        raise ClaudeCliUnavailable(f"npm not found; {INSTALL_HINT}")
    proc = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = _installed_binary(INSTALL_DIR)
    if proc.returncode != 0 or found is None:
        raise ClaudeCliUnavailable(
            f"scripts/install-claude-cli.sh failed (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-2000:]}\n{INSTALL_HINT}"
        )
    return found


@dataclass
class CompletedRun:
    returncode: int
    stdout: str
    stderr: str
    output: dict[str, Any] | None  # stdout parsed as JSON (``--output-format json``), if it was
    session_id: str | None
    duration_s: float
    cwd: Path
    home: Path
    env: dict[str, str] = field(repr=False)
    argv: list[str] = field(repr=False)

    @property
    def config_dir(self) -> Path:
        return self.home / ".claude"

    def transcript_path(self) -> Path | None:
        """The session's local transcript (``<config>/projects/<cwd-slug>/<session>.jsonl``)."""
        if not self.session_id:
            return None
        hits = sorted((self.config_dir / "projects").glob(f"*/{self.session_id}.jsonl"))
        return hits[0] if hits else None

    def check(self) -> CompletedRun:
        """Raise with stdout/stderr when the CLI failed; returns self for chaining."""
        if self.returncode != 0 or (self.output or {}).get("is_error"):
            raise AssertionError(
                f"claude exited {self.returncode}\nstdout: {self.stdout[-3000:]}\n"
                f"stderr: {self.stderr[-3000:]}"
            )
        return self


def _prepare_home(home: Path) -> None:
    """A private HOME whose config says onboarding is done (no first-run prompts)."""
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    config = {"hasCompletedOnboarding": True, "autoUpdates": False}
    for path in (home / ".claude.json", home / ".claude" / ".claude.json"):
        if not path.exists():
            path.write_text(json.dumps(config))


def claude_env(
    *,
    home: Path,
    otlp_endpoint: str,
    protocol: str,
    api_key: str,
    fake_url: str,
    compression: str | None = None,
    export_interval_ms: int = 500,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment ``run_claude`` gives the CLI (a minimal base, nothing inherited
    but PATH/locale/TMPDIR)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    no_proxy = "127.0.0.1,localhost,::1"
    env.update(
        {
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "SHELL": "/bin/bash",
            "TERM": "dumb",
            # The fake model.
            "ANTHROPIC_BASE_URL": fake_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-0000000000000000",
            # Third-party telemetry (what Prism receives).
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOG_USER_PROMPTS": "1",
            "OTEL_LOG_TOOL_DETAILS": "1",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {api_key}",
            "OTEL_METRIC_EXPORT_INTERVAL": str(export_interval_ms),
            "OTEL_LOGS_EXPORT_INTERVAL": str(export_interval_ms),
            # Offline and quiet: no updater, no Anthropic-side telemetry / error reports, no
            # fast-mode org check. (CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC would also stop the
            # session-title request, which Prism wants to see, so it is not set.)
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_FAST_MODE": "1",
            "CLAUDE_CODE_SKIP_FAST_MODE_ORG_CHECK": "1",
            "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
            "ENABLE_CLAUDEAI_MCP_SERVERS": "false",
            # Everything not on loopback goes to a dead proxy (fails at once, no DNS).
            "HTTP_PROXY": _DEAD_PROXY,
            "HTTPS_PROXY": _DEAD_PROXY,
            "http_proxy": _DEAD_PROXY,
            "https_proxy": _DEAD_PROXY,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }
    )
    if compression:
        env["OTEL_EXPORTER_OTLP_COMPRESSION"] = compression
    if extra_env:
        env.update(extra_env)
    return env


def run_claude(
    prompt: str,
    *,
    cwd: Path | str,
    otlp_endpoint: str,
    protocol: str,
    api_key: str,
    fake_url: str,
    compression: str | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 120,
    home: Path | str | None = None,
    extra_args: list[str] | None = None,
) -> CompletedRun:
    """Run ``claude -p PROMPT --output-format json --allowedTools "Bash Write Edit Read"``.

    ``otlp_endpoint`` is the OTLP base URL (``http://127.0.0.1:PORT``; the HTTP exporters append
    ``/v1/logs`` and ``/v1/metrics``), ``api_key`` goes into ``Authorization: Bearer`` on every
    export, ``fake_url`` is the fake Anthropic API. ``home`` defaults to a fresh temp dir (kept, so
    the transcript can be read; pass a pytest ``tmp_path`` sub-folder to have it cleaned up).
    """
    binary = claude_binary()
    cwd = Path(cwd)
    home_path = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="claude-home-"))
    _prepare_home(home_path)
    env = claude_env(
        home=home_path,
        otlp_endpoint=otlp_endpoint,
        protocol=protocol,
        api_key=api_key,
        fake_url=fake_url,
        compression=compression,
        extra_env=extra_env,
    )
    argv = [
        str(binary),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--allowedTools",
        ALLOWED_TOOLS,
        # Only MCP servers given on the command line (none): also skips the MCP registry fetch.
        "--strict-mcp-config",
        *(extra_args or []),
    ]
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    duration = time.monotonic() - started
    output: dict[str, Any] | None = None
    try:
        parsed = json.loads(proc.stdout)
        if isinstance(parsed, dict):
            output = parsed
    except ValueError:
        pass
    return CompletedRun(
        returncode=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        output=output,
        session_id=(output or {}).get("session_id"),
        duration_s=duration,
        cwd=cwd,
        home=home_path,
        env=env,
        argv=argv,
    )
