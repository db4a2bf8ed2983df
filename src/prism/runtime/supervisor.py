"""`prism serve`: one command, three processes (ingest, engine, worker) on the embedded parts.

Separate processes because ingest, queries and the lake writer are each CPU-bound Python; on
two cores they must not share one interpreter lock. Children die with the supervisor
(PR_SET_PDEATHSIG) so a killed `serve` never leaves ports held, and a child that crashes is
restarted.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from prism.errors import ConfigError
from prism.runtime.bootstrap import bootstrap, first_start_message
from prism.runtime.parts import open_store
from prism.settings import Settings
from prism.web.auth import print_login_link

ROLES = ("ingest", "engine", "worker")
_PR_SET_PDEATHSIG = 1
_MAX_RESTARTS_PER_MIN = 5


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


@dataclass
class Child:
    role: str
    proc: subprocess.Popen[bytes]
    restarts: list[float] = field(default_factory=list)


def _spawn(role: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "prism.cli.main", role],
        preexec_fn=_die_with_parent,
        env=os.environ.copy(),
    )


def _wait_ready(settings: Settings, deadline_s: float = 60.0) -> None:
    urls = [
        f"http://{settings.host}:{settings.ingest_port}/healthz",
        f"http://{settings.host}:{settings.api_port}/healthz",
    ]
    end = time.monotonic() + deadline_s
    with httpx.Client(timeout=2.0) as client:
        for url in urls:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > end:
                    raise ConfigError(f"{url} did not come up within {deadline_s:.0f}s")
                time.sleep(0.1)


def check_ports(settings: Settings) -> None:
    """Refuse to start when a port is taken, naming the setting that moves it."""
    for env, port in (
        ("PRISM_INGEST_PORT", settings.ingest_port),
        ("PRISM_GRPC_PORT", settings.grpc_port),
        ("PRISM_API_PORT", settings.api_port),
    ):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((settings.host, port))
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {settings.host}:{port} ({exc.strerror}); "
                    f"stop what uses it or set {env} to another port"
                ) from None


def serve(settings: Settings, *, demo: bool = False) -> int:
    """Run until SIGINT/SIGTERM; returns the exit code. `demo` loads the demo history once."""
    check_ports(settings)
    _, keys = open_store(settings)  # migrate once, before the children race to
    new_key = bootstrap(settings, keys)
    if new_key is not None:
        print(first_start_message(settings, new_key), flush=True)
    children = {role: Child(role, _spawn(role)) for role in ROLES}
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        _wait_ready(settings)
    except ConfigError as exc:
        print(f"prism: {exc.message}", file=sys.stderr, flush=True)
        stopping = True
    else:
        print(
            f"Prism is ready: ingest http://{settings.host}:{settings.ingest_port} "
            f"(gRPC {settings.host}:{settings.grpc_port}), "
            f"API http://{settings.host}:{settings.api_port}, data in {settings.data_dir}",
            flush=True,
        )
        print_login_link(settings)  # issue 6: one-time dashboard sign-in for the admin
        if demo:
            from prism.demo.serve import start_in_background

            start_in_background(settings)
    code = 0
    while not stopping:
        for child in children.values():
            rc = child.proc.poll()
            if rc is None:
                continue
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > _MAX_RESTARTS_PER_MIN:
                print(f"prism: {child.role} keeps exiting (code {rc}); stopping", file=sys.stderr)
                stopping, code = True, 1
                break
            print(f"prism: {child.role} exited with {rc}; restarting", file=sys.stderr, flush=True)
            child.proc = _spawn(child.role)
        time.sleep(0.2)
    for child in children.values():
        if child.proc.poll() is None:
            child.proc.terminate()
    for child in children.values():
        try:
            child.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.proc.kill()
    return code
