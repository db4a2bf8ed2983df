"""Delivery signatures: HMAC-SHA256 over `<timestamp>.<body>` with the webhook's secret.

Headers: `X-Prism-Timestamp: <unix seconds>` and `X-Prism-Signature: v1=<hex>`. The timestamp
is inside the signed text, so a captured delivery cannot be replayed later with a fresh
timestamp; receivers reject timestamps older than a few minutes (`verify`'s tolerance). The
header may carry several comma-separated `v1=` values (a future secret rotation signs with
both); one match is enough. docs/webhooks.md shows the receiver side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
TIMESTAMP_HEADER = "X-Prism-Timestamp"
SIGNATURE_HEADER = "X-Prism-Signature"
TOLERANCE_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The two signature headers for `body`, timestamped now."""
    ts = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when one `v1=` value matches and the timestamp is within the tolerance."""
    if not timestamp or not signature_header:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = signature(secret, ts, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in signature_header.split(","))
