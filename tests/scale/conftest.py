"""Scale-mode parts for tests: PostgreSQL and NATS JetStream on this machine, moto's S3 server.

Each test module gets its own PostgreSQL database, JetStream stream and lake prefix (dropped
afterwards), so modules never see each other's data. A missing service skips with what to
install; with CI=true it fails instead.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, require_postgres
from tests.support.prism_server import free_port, wait_for

NATS_URL = os.environ.get("PRISM_TEST_NATS_URL", "nats://127.0.0.1:4222")
BUCKET = "prism-test"
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
NATS_STOP = ["start-stop-daemon", "--stop", "--retry", "10", "--exec", "/usr/sbin/nats-server"]
NATS_START = [
    "start-stop-daemon",
    "--start",
    "--oknodo",
    "--background",
    "--exec",
    "/usr/sbin/nats-server",
    "--",
    *("-a", "127.0.0.1", "-p", "4222", "-js", "-sd", "/var/lib/nats-server"),
    *("-l", "/var/log/nats-server.log"),
]


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_nats() -> str:
    from prism.errors import ConfigError
    from prism.queue.nats import check_nats

    try:
        check_nats(NATS_URL, timeout=2)
    except ConfigError as exc:
        _missing(f"{exc.message} (apt-get install nats-server; scripts/services.sh starts it)")
    return NATS_URL


def nats_up() -> bool:
    from prism.errors import ConfigError
    from prism.queue.nats import check_nats

    try:
        check_nats(NATS_URL, timeout=1)
    except ConfigError:
        return False
    return True


def start_nats() -> None:
    """Start the local nats-server again (the command scripts/services.sh uses)."""
    subprocess.run(NATS_START, check=False, capture_output=True, timeout=30)
    wait_for(nats_up, timeout=30, what="nats-server to accept connections again")


def stop_nats() -> None:
    subprocess.run(NATS_STOP, check=False, capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 server on a free port, with the test bucket; yields its endpoint URL."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        _missing("moto is not installed (pip install 'moto[server]')")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: httpx.get(endpoint, timeout=1).status_code < 500,
            timeout=30,
            what="moto S3 server",
        )
        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            access_key="test",
            secret_key="test",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        fs.create_dir(BUCKET)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _admin_url() -> str:
    return PG_URL.replace("+psycopg", "")


def create_database() -> str:
    import psycopg

    name = f"prism_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_stream(name: str) -> None:
    async def run() -> None:
        import nats

        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=1)
        try:
            await nc.jetstream().delete_stream(name)
        except Exception:
            pass
        await nc.close()

    if nats_up():
        asyncio.run(run())


@dataclass
class ScaleParts:
    """One isolated set of scale parts: database, stream, lake prefix."""

    database_url: str
    database: str
    stream: str
    lake_url: str
    s3_endpoint: str

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PRISM_DATABASE_URL": self.database_url,
            "PRISM_QUEUE_URL": NATS_URL,
            "PRISM_NATS_STREAM": self.stream,
            "PRISM_NATS_ACK_WAIT_SECONDS": "3",
            "PRISM_LAKE_URL": self.lake_url,
            "PRISM_S3_ENDPOINT_URL": self.s3_endpoint,
            "PRISM_LAKE_FLUSH_SECONDS": "0.2",
            "PRISM_SESSIONIZE_TICK_SECONDS": "0.3",
            **AWS,
            **extra,
        }

    def settings(self, data_dir: Path, **overrides: object) -> object:
        from prism.settings import load_settings

        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": self.database_url,
            "queue_url": NATS_URL,
            "nats_stream": self.stream,
            "lake_url": self.lake_url,
            "s3_endpoint_url": self.s3_endpoint,
        }
        return load_settings(**{**values, **overrides})

    def storage(self) -> object:
        from prism.lake.s3 import S3Storage

        return S3Storage(
            self.lake_url,
            endpoint_url=self.s3_endpoint,
            database_url=self.database_url,
            access_key="test",
            secret_key="test",
        )

    def engine(self) -> object:
        from prism.store.db import make_engine

        return make_engine(self.database_url)


@pytest.fixture(scope="module")
def scale_parts(moto_s3: str) -> Iterator[ScaleParts]:
    require_postgres()
    require_nats()
    for key, value in AWS.items():
        os.environ.setdefault(key, value)
    database = create_database()
    base = PG_URL.rsplit("/", 1)[0]
    tag = uuid.uuid4().hex[:10]
    parts = ScaleParts(
        database_url=f"{base}/{database}",
        database=database,
        stream=f"PRISMT_{tag}",
        lake_url=f"s3://{BUCKET}/{tag}",
        s3_endpoint=moto_s3,
    )
    try:
        yield parts
    finally:
        if not nats_up():
            start_nats()
        delete_stream(parts.stream)
        drop_database(database)
