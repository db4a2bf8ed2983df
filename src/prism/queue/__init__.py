"""Durable queue between receive and lake: `base` is the seam, `local` the embedded one."""

from __future__ import annotations

from prism.queue.base import Batch, Claimed, Depth, Queue, QueueFull
from prism.settings import Settings


def open_queue(settings: Settings) -> Queue:
    """The queue the settings choose: embedded SQLite, or NATS JetStream for `nats://` URLs."""
    if settings.queue_url:
        from prism.queue.nats import NatsQueue  # imported lazily: only scale mode needs nats-py

        return NatsQueue(settings)
    from prism.queue.local import LocalQueue

    return LocalQueue(
        settings.queue_path,
        high_water_batches=settings.queue_high_water_batches,
        high_water_bytes=settings.queue_high_water_bytes,
        commit_window_s=settings.group_commit_window_ms / 1000.0,
    )


__all__ = ["Batch", "Claimed", "Depth", "Queue", "QueueFull", "open_queue"]
