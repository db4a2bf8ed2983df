"""Prism's event log: `bus` writes it (any process), `stream` tails it and fans it out (engine).

worker ── sessionizer listeners, lake flushes ──► bus.publish ──► events table (append-only)
engine ── stream.EventHub polls / LISTENs ──► per-client bounded buffers ──► SSE
worker ── webhooks.sender.WebhookSender reads the same table ──► signed HTTP deliveries
"""

from __future__ import annotations

from prism.events.bus import EVENT_TYPES, Event

__all__ = ["EVENT_TYPES", "Event"]
