"""What every ingest transport does with a request, once decoded from its framing.

HTTP and gRPC both call `IngestService.accept`: authenticate, validate and count, derive the
batch id, put the batch on the durable queue, answer. Keeping it here means the two transports
cannot drift in auth, limits or durability.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from prism.errors import Unavailable
from prism.queue.base import Batch, Queue, QueueFull
from prism.receive import otlp, redact
from prism.store.keys import KeyStore, Principal


@dataclass
class IngestCounters:
    requests: int = 0
    batches: int = 0
    records: int = 0
    rejected: int = 0
    bytes: int = 0
    refused_full: int = 0


def batch_id(principal: Principal, signal: str, payload: bytes) -> str:
    """Same sender, signal and bytes -> same id: an exporter's retry is recognised downstream."""
    h = hashlib.sha256()
    h.update(principal.developer_id.encode())
    h.update(b"\x00")
    h.update(signal.encode())
    h.update(b"\x00")
    h.update(payload)
    return h.hexdigest()


class IngestService:
    def __init__(self, *, keys: KeyStore, queue: Queue, store_content: bool = True) -> None:
        self.keys = keys
        self.queue = queue
        # False (PRISM_STORE_CONTENT=false): prompts, responses and tool inputs are stripped
        # here, before queueing, so they never reach disk (see `receive.redact`).
        self.store_content = store_content
        self.counters = IngestCounters()

    def authenticate(self, authorization: str | None) -> Principal:
        secret = None
        if authorization:
            scheme, _, token = authorization.strip().partition(" ")
            secret = token.strip() if scheme.lower() == "bearer" else None
        return self.keys.authenticate(secret)

    async def accept(
        self, principal: Principal, signal: str, encoding: str, payload: bytes
    ) -> otlp.Checked:
        """Validate, queue durably, and return the counts for the response."""
        checked = otlp.check(signal, encoding, payload)
        self.counters.requests += 1
        if checked.records == 0:
            # Nothing to store (an empty export is legal OTLP): answer success without queueing.
            return checked
        if not self.store_content:
            payload = redact.redact(signal, encoding, payload)
        batch = Batch(
            batch_id=batch_id(principal, signal, payload),
            signal=signal,
            encoding=encoding,
            org_id=principal.org_id,
            developer_id=principal.developer_id,
            received_at_ns=time.time_ns(),
            records=checked.records,
            payload=payload,
        )
        try:
            await self.queue.put(batch)
        except QueueFull:
            self.counters.refused_full += 1
            raise Unavailable("Ingest queue is full; retry later", retry_after=5) from None
        self.counters.batches += 1
        self.counters.records += checked.records
        self.counters.rejected += checked.rejected
        self.counters.bytes += len(payload)
        return checked
