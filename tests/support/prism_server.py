"""Run a real `prism serve` as a subprocess on free ports, for end-to-end tests and benches."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
_KEY_RE = re.compile(r"gck_[A-Za-z0-9_-]{20,}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        try:
            last = predicate()
        except (httpx.TransportError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class PrismServer:
    """`prism serve` in a temp data dir. `start()` waits until both HTTP ports answer."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.ingest_port = free_port()
        self.grpc_port = free_port()
        self.api_port = free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "serve.log"
        self.admin_key: str | None = None

    # --- addresses -----------------------------------------------------------------------------
    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def env(self) -> dict[str, str]:
        env = os.environ.copy()
        env.update(
            {
                "PRISM_DATA_DIR": str(self.data_dir),
                "PRISM_INGEST_PORT": str(self.ingest_port),
                "PRISM_GRPC_PORT": str(self.grpc_port),
                "PRISM_API_PORT": str(self.api_port),
                "PRISM_HOST": "127.0.0.1",
                "PRISM_LOG_LEVEL": "warning",
                "PYTHONPATH": str(REPO / "src"),
            }
        )
        env.update(self.extra_env)
        return env

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> PrismServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The log is appended across restarts: wait for a new "ready" line, not an old one.
        readies = self.log().count("Prism is ready")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prism.cli.main", "serve"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() can take the whole tree
            )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prism serve exited early:\n{self.log()}")
            return self.log().count("Prism is ready") > readies

        wait_for(ready, timeout=timeout, what="prism serve to be ready")
        if self.admin_key is None:
            match = _KEY_RE.search(self.log())
            self.admin_key = match.group(0) if match else None
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process tree at once, as a machine crash would."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self.proc = None

    def __enter__(self) -> PrismServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- keys and requests -----------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prism.cli.main", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def create_key(
        self, developer: str, *, admin: bool = False, org: str | None = None
    ) -> dict[str, str]:
        args = ["keys", "create", "--developer", developer, "--json"]
        if admin:
            args.append("--admin")
        if org:
            args += ["--org", org]
        result: dict[str, str] = json.loads(self.cli(*args).stdout)
        return result

    def api(self, method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)

    def telemetry(self, key: str, kind: str = "logs", **params: Any) -> list[dict[str, Any]]:
        """Every row of one telemetry read (follows pagination)."""
        rows: list[dict[str, Any]] = []
        offset = 0
        field = {"logs": "logs", "metrics": "metrics", "traces": "spans"}[kind]
        while True:
            r = self.api(
                "GET",
                f"/v1/telemetry/{kind}",
                key,
                params={**params, "limit": 1000, "offset": offset},
            )
            r.raise_for_status()
            body = r.json()
            rows += body[field]
            if body["next_offset"] is None:
                return rows
            offset = body["next_offset"]
