"""Webhooks: `store` (subscriptions and the delivery log), `signing` (HMAC-SHA256 over
timestamp + "." + body), `targets` (which URLs may be called), `sender` (the worker that
turns events into signed, retried deliveries)."""
