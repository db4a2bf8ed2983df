"""Read a request body under limits, whether it comes with Content-Length or chunked.

Both limits are enforced while streaming: the compressed size as bytes arrive, the inflated size
while inflating in bounded steps, so a gzip bomb is refused after at most `max_decompressed`
bytes of output and never held whole in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from prism.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

_INFLATE_STEP = 1 << 20


async def read_limited(
    chunks: AsyncIterator[bytes], *, content_length: str | None, max_bytes: int
) -> bytes:
    """Collect the raw body, refusing it as soon as it passes `max_bytes`."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if declared > max_bytes:
            raise PayloadTooLarge(f"Request body of {declared} bytes exceeds {max_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def inflate(body: bytes, encoding: str | None, *, max_bytes: int) -> bytes:
    """Undo Content-Encoding (identity or gzip/deflate) without exceeding `max_bytes`."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif enc == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported (use gzip)")
    inflater = zlib.decompressobj(wbits)
    out: list[bytes] = []
    total = 0
    data = body
    try:
        while True:
            chunk = inflater.decompress(data, _INFLATE_STEP)
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(f"Decompressed body exceeds {max_bytes} bytes")
            out.append(chunk)
            data = inflater.unconsumed_tail
            if not data:
                break
        tail = inflater.flush()
        total += len(tail)
        if total > max_bytes:
            raise PayloadTooLarge(f"Decompressed body exceeds {max_bytes} bytes")
        out.append(tail)
    except zlib.error as exc:
        raise BadRequest(f"Body is not valid {enc}: {exc}") from None
    if not inflater.eof:
        raise BadRequest(f"Body is truncated {enc} data")
    return b"".join(out)
