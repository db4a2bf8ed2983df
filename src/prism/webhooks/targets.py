"""Which URLs a webhook may call: http(s), no credentials, and (unless
`PRISM_WEBHOOK_ALLOW_PRIVATE`) no private, loopback, link-local or otherwise special address.

The host is resolved and every address checked when the webhook is saved and again before each
delivery, so a name that later points inside the network (DNS rebinding) is refused then. The
HTTP client resolves once more to connect; that window is small and documented.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from prism.errors import BadRequest

RESOLVE_TIMEOUT_S = 3.0


def _special(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def parse(url: str) -> tuple[str, int]:
    """Host and port of an acceptable webhook URL, or BadRequest saying what is wrong."""
    if len(url) > 2048:
        raise BadRequest("url is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise BadRequest("url must start with http:// or https://")
    if not parts.hostname:
        raise BadRequest("url has no host")
    if parts.username or parts.password:
        raise BadRequest("url must not carry credentials; use the signature to authenticate")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check(url: str, *, allow_private: bool) -> None:
    """Raise BadRequest unless `url` may be called (see module doc)."""
    host, port = parse(url)
    try:
        addresses = await asyncio.wait_for(
            asyncio.to_thread(_resolve, host, port), timeout=RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError):
        raise BadRequest(f"url host {host!r} does not resolve") from None
    if not addresses:
        raise BadRequest(f"url host {host!r} does not resolve")
    if allow_private:
        return
    for address in addresses:
        if _special(ipaddress.ip_address(address.split("%", 1)[0])):
            raise BadRequest(
                f"url host {host!r} resolves to a private or loopback address ({address}); "
                "set PRISM_WEBHOOK_ALLOW_PRIVATE=true to allow it"
            )
