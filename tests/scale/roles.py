"""Single Prism roles (`prism ingest|engine|worker`) as processes, the way scale mode runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.prism_server import REPO, free_port, wait_for


class Role:
    """One `prism <role>` process with its own ports and log file; kill() is a SIGKILL."""

    def __init__(self, role: str, data_dir: Path, env: dict[str, str], name: str = "") -> None:
        self.role = role
        self.name = name or role
        self.data_dir = data_dir
        self.ingest_port = free_port()
        self.grpc_port = free_port()
        self.api_port = free_port()
        self.env = {
            **os.environ,
            **env,
            "PRISM_DATA_DIR": str(data_dir),
            "PRISM_HOST": "127.0.0.1",
            "PRISM_INGEST_PORT": str(self.ingest_port),
            "PRISM_GRPC_PORT": str(self.grpc_port),
            "PRISM_API_PORT": str(self.api_port),
            "PRISM_LOG_LEVEL": env.get("PRISM_LOG_LEVEL", "info"),
            "PYTHONPATH": str(REPO / "src"),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"{self.name}.log"

    @property
    def url(self) -> str:
        port = self.ingest_port if self.role == "ingest" else self.api_port
        return f"http://127.0.0.1:{port}"

    def start(self) -> Role:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prism.cli.main", self.role],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def healthy(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} is not running:\n{self.log()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self, timeout: float = 90.0) -> Role:
        wait_for(self.healthy, timeout=timeout, interval=0.2, what=f"{self.name} to answer")
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL the process group: no shutdown code runs, like a machine losing power."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None

    def terminate(self) -> None:
        """SIGTERM without waiting (stop() waits), so several roles shut down in parallel."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self.proc = None
