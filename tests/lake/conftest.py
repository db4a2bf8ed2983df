"""Lake fixtures: a real SQLite store, a real local queue, real Parquet under tmp_path.

The OTLP/JSON builders and the put/write helpers are imported by this package's tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session, sessionmaker

from prism.lake.normalize import NormalizeOptions
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.lake.writer import LakeWriter
from prism.queue.base import Batch, Claimed
from prism.queue.local import LocalQueue
from prism.store.db import make_engine, migrate, session_factory


def ns(t: datetime) -> int:
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in d.items()]


class Otlp:
    """OTLP/JSON bodies shaped like Claude Code's, and batches carrying them."""

    RESOURCE = {"service.name": "claude-code", "service.version": "2.1.130"}

    @staticmethod
    def event(name: str, t: datetime, **extra: Any) -> dict[str, Any]:
        return {
            "timeUnixNano": str(ns(t)),
            "observedTimeUnixNano": str(ns(t)),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": attrs({"event.name": name, **extra}),
        }

    @classmethod
    def logs(cls, records: list[dict[str, Any]]) -> bytes:
        return orjson.dumps(
            {
                "resourceLogs": [
                    {
                        "resource": {"attributes": attrs(cls.RESOURCE)},
                        "scopeLogs": [
                            {
                                "scope": {"name": "com.anthropic.claude_code.events"},
                                "logRecords": records,
                            }
                        ],
                    }
                ]
            }
        )

    @classmethod
    def metrics(cls, metrics: list[dict[str, Any]]) -> bytes:
        return orjson.dumps(
            {
                "resourceMetrics": [
                    {
                        "resource": {"attributes": attrs(cls.RESOURCE)},
                        "scopeMetrics": [
                            {"scope": {"name": "com.anthropic.claude_code"}, "metrics": metrics}
                        ],
                    }
                ]
            }
        )

    @staticmethod
    def sum_metric(
        name: str,
        points: list[tuple[datetime, datetime, float, dict[str, Any]]],
        *,
        temporality: int = 2,
        kind: str = "sum",
    ) -> dict[str, Any]:
        """points: (start, time, value, attributes); temporality 1 delta, 2 cumulative."""
        data: dict[str, Any] = {
            "dataPoints": [
                {
                    "startTimeUnixNano": str(ns(start)),
                    "timeUnixNano": str(ns(t)),
                    "asDouble": value,
                    "attributes": attrs(a),
                }
                for start, t, value, a in points
            ]
        }
        if kind == "sum":
            data["aggregationTemporality"] = temporality
            data["isMonotonic"] = True
        return {"name": name, "unit": "1", kind: data}

    @classmethod
    def spans(cls, spans: list[dict[str, Any]]) -> bytes:
        return orjson.dumps(
            {
                "resourceSpans": [
                    {
                        "resource": {"attributes": attrs(cls.RESOURCE)},
                        "scopeSpans": [
                            {"scope": {"name": "com.anthropic.claude_code"}, "spans": spans}
                        ],
                    }
                ]
            }
        )

    @staticmethod
    def span(
        trace_id: str, span_id: str, name: str, start: datetime, ms: float, **extra: Any
    ) -> dict[str, Any]:
        return {
            "traceId": trace_id,
            "spanId": span_id,
            "name": name,
            "kind": 3,
            "startTimeUnixNano": str(ns(start)),
            "endTimeUnixNano": str(ns(start) + int(ms * 1e6)),
            "attributes": attrs(extra),
        }

    @staticmethod
    def batch(signal: str, payload: bytes, *, org: str = "org-1", dev: str = "dev-a") -> Batch:
        """A batch as ingest makes it: the id is a hash of sender, signal and body."""
        bid = hashlib.sha256(f"{dev}\0{signal}\0".encode() + payload).hexdigest()
        return Batch(bid, signal, "json", org, dev, time.time_ns(), 1, payload)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "prism.db"


@pytest.fixture
def sessions(db_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{db_path}")
    migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "lake")


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[LocalQueue]:
    q = LocalQueue(tmp_path / "queue.db", commit_window_s=0)
    try:
        yield q
    finally:
        asyncio.run(q.close())


@pytest.fixture
def writer(queue: LocalQueue, storage: LocalStorage, sessions: sessionmaker[Session]) -> LakeWriter:
    return LakeWriter(queue=queue, storage=storage, sessions=sessions, options=NormalizeOptions())


@pytest.fixture
def lake(storage: LocalStorage) -> Lake:
    return Lake(storage)


def put(queue: LocalQueue, *batches: Batch) -> None:
    async def run() -> None:
        for b in batches:
            await queue.put(b)

    asyncio.run(run())


def write(writer: LakeWriter, *batches: Batch) -> list[int | str]:
    """Apply batches straight through the writer (one flush), as claimed items."""
    return writer.apply([Claimed(handle=i, batch=b) for i, b in enumerate(batches)])
