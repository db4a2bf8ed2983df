"""The scale parts one by one against the real services: the JetStream queue, the S3 lake
storage and its swap lock, concurrent migrations, and start-up checks that name the fix."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from prism.lake.s3 import S3Storage
from prism.queue.base import Batch, QueueFull
from prism.queue.nats import NatsQueue
from prism.settings import load_settings
from prism.store.db import make_engine, migrate
from tests.scale.conftest import (
    AWS,
    NATS_URL,
    ScaleParts,
    create_database,
    delete_stream,
    drop_database,
)
from tests.support.prism_server import REPO, free_port

pytestmark = [pytest.mark.postgres]


def batch(i: int, size: int = 2000) -> Batch:
    return Batch(f"batch-{i}", "logs", "protobuf", "org", "dev", time.time_ns(), 3, b"x" * size)


@pytest.fixture
def stream(scale_parts: ScaleParts) -> Iterator[str]:
    name = f"PRISMQ_{uuid.uuid4().hex[:10]}"
    yield name
    delete_stream(name)


def test_jetstream_queue_dedupes_limits_claims_and_redelivers(stream: str, tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        queue_url=NATS_URL,
        nats_stream=stream,
        queue_high_water_batches=6,
        nats_ack_wait_seconds=1,
    )

    async def run() -> None:
        queue = NatsQueue(settings, poll_s=0.2)
        await asyncio.gather(*(queue.put(batch(i)) for i in range(5)))
        await queue.put(batch(0))  # an exporter's retry: same id, dropped by JetStream
        assert queue.stats.duplicates == 1
        assert (await queue.depth()).batches == 5
        await queue.put(batch(5))
        with pytest.raises(QueueFull):  # the stream's limit, not a dropped old batch
            await queue.put(batch(6))

        first = await queue.claim(4)
        assert [c.batch.batch_id for c in first] == [f"batch-{i}" for i in range(4)]
        assert first[0].batch.payload == batch(0).payload  # compressed on the wire, not here
        await queue.ack([c.handle for c in first[:2]])
        # batch-2 and batch-3 were not acked (a failed flush): they come back. JetStream may
        # hand out the new batches before it redelivers the nak'd ones, so claim until all
        # four are seen (bounded).
        again: list[Any] = []
        deadline = time.monotonic() + 15
        while len({c.batch.batch_id for c in again}) < 4 and time.monotonic() < deadline:
            again += await queue.claim(10)
        assert sorted({c.batch.batch_id for c in again}) == [
            "batch-2",
            "batch-3",
            "batch-4",
            "batch-5",
        ]
        await queue.close()

        # A writer that dies with claims: another sees them again after the ack wait.
        other = NatsQueue(settings, poll_s=0.2)
        deadline = time.monotonic() + 15
        seen: list[str] = []
        while len(seen) < 4 and time.monotonic() < deadline:
            claimed = await other.claim(10)
            seen += [c.batch.batch_id for c in claimed]
            await other.ack([c.handle for c in claimed])
        assert sorted(seen) == ["batch-2", "batch-3", "batch-4", "batch-5"]
        # Acks are processed by the server asynchronously: poll the depth to zero.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            other._depth_at = 0.0
            if (await other.depth()).batches == 0:
                break
            await asyncio.sleep(0.05)
        assert (await other.depth()).batches == 0
        await other.close()

    asyncio.run(run())


def test_s3_storage_stages_publishes_and_locks(scale_parts: ScaleParts) -> None:
    storage = scale_parts.storage()
    assert isinstance(storage, S3Storage)
    rel = "events/org_id=o/date=2026-01-01/part-1.parquet"
    storage.stage(rel, b"PAR1-data")
    assert storage.list("events") == [] and [f.path for f in storage.list_staged()] == [rel]
    assert storage.publish(rel) is True
    assert storage.publish(rel) is False  # a second publish (recovery) is a no-op
    assert [f.path for f in storage.list("events")] == [rel] and storage.list_staged() == []
    assert storage.read(rel) == b"PAR1-data" and storage.exists(rel)
    assert storage.table_url("events") == f"s3://{scale_parts.lake_url[5:]}/events/"
    storage.delete(rel)
    assert not storage.exists(rel)

    # Shared holders exclude an exclusive one, across connections (i.e. processes, machines).
    order: list[str] = []
    with storage.swap_lock(exclusive=False):
        swapper = threading.Thread(
            target=lambda: (storage.swap_lock(exclusive=True).__enter__(), order.append("swap"))
        )
        swapper.start()
        swapper.join(timeout=1.0)
        assert swapper.is_alive() and order == []  # waits for the reader
        order.append("read done")
    swapper.join(timeout=10)
    assert order == ["read done", "swap"]


def test_migrations_run_once_when_processes_start_together() -> None:
    database = create_database()
    url = f"{scale_url()}/{database}"
    code = (
        "import sys; from prism.store.db import make_engine, migrate; "
        "migrate(make_engine(sys.argv[1]))"
    )
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, url],
                env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        engine = make_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM prism.alembic_version")).all()
        assert len(versions) == 1
        migrate(engine)  # and once more is a no-op
        engine.dispose()
    finally:
        drop_database(database)


def scale_url() -> str:
    from tests.conftest import PG_URL

    return PG_URL.rsplit("/", 1)[0]


@pytest.mark.parametrize(
    ("broken", "fix"),
    [
        ({"queue_url": "nats://127.0.0.1:{port}"}, "Start nats-server with JetStream"),
        (
            {"database_url": "postgresql+psycopg://postgres@127.0.0.1:{port}/x"},
            "PRISM_DATABASE_URL",
        ),
        ({"s3_endpoint_url": "http://127.0.0.1:{port}"}, "PRISM_S3_ENDPOINT_URL"),
        ({"lake_url": "s3://no-such-bucket-{port}/p"}, "aws s3 mb s3://no-such-bucket"),
    ],
)
def test_unreachable_parts_stop_start_up_naming_the_fix(
    broken: dict[str, str], fix: str, scale_parts: ScaleParts, tmp_path: Path
) -> None:
    from prism.errors import ConfigError
    from prism.runtime.preflight import check_parts

    port = free_port()
    settings = scale_parts.settings(tmp_path, **{k: v.format(port=port) for k, v in broken.items()})
    with pytest.raises(ConfigError) as failure:
        check_parts(settings)  # type: ignore[arg-type]
    assert fix in failure.value.message


def test_prism_serve_refuses_to_start_without_its_parts(
    scale_parts: ScaleParts, tmp_path: Path
) -> None:
    """The CLI prints one line with the fix and exits 1: no traceback, no child processes."""
    env = {k: v for k, v in scale_parts.env().items() if k.startswith("PRISM_")}
    env["PRISM_QUEUE_URL"] = f"nats://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "prism.cli.main", "serve"],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO / "src"),
            "PRISM_DATA_DIR": str(tmp_path),
            "PRISM_INGEST_PORT": str(free_port()),
            "PRISM_GRPC_PORT": str(free_port()),
            "PRISM_API_PORT": str(free_port()),
            **AWS,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("prism: cannot reach NATS"), result.stderr
    assert "nats-server -js" in result.stderr and "Traceback" not in result.stderr
