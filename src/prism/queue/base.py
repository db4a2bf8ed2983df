"""The queue between ingest and the lake writer: a small interface, several implementations.

Ingest `put`s validated batches and answers 200 only after `put` returns (the batch is durable).
Lake writers `claim` batches, write them, then `ack` them; an unacked claim comes back after its
visibility timeout, so a writer that dies mid-way loses nothing. Delivery is at-least-once: the
lake's journal of applied batch ids makes applying twice a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SIGNALS = ("logs", "metrics", "traces")
ENCODINGS = ("protobuf", "json")


@dataclass(frozen=True, slots=True)
class Batch:
    """One accepted export request, as received (decompressed) plus who sent it."""

    batch_id: str  # sha256 of developer|signal|body: an exporter's retry gets the same id
    signal: str  # logs | metrics | traces
    encoding: str  # protobuf | json
    org_id: str
    developer_id: str
    received_at_ns: int
    records: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    """A batch handed to one consumer; `handle` acks it."""

    handle: int | str
    batch: Batch


@dataclass(frozen=True, slots=True)
class Depth:
    batches: int
    bytes: int


class Queue(Protocol):
    async def put(self, batch: Batch) -> None:
        """Return only once the batch is durable."""

    async def claim(self, max_batches: int, visibility_s: float = 60.0) -> list[Claimed]:
        """Take up to `max_batches` batches, oldest first; may return none."""

    async def ack(self, handles: list[int | str]) -> None:
        """Forget batches that are safely in the lake."""

    async def depth(self) -> Depth:
        """Batches and bytes waiting (claimed or not), for backpressure and metrics."""

    async def close(self) -> None: ...


class QueueFull(Exception):
    """Raised by `put` when the queue is over its high-water mark."""
