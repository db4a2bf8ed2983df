"""The Reports page's client of the report API (seed 001), dispatched in-process.

The report service is another part of Prism that lands separately; its contract is the HTTP
one (/v1/score_v3/report/* and /v1/insights/report/*), so the page speaks exactly that, through
the engine's own ASGI app (no socket, no second process), authenticated by the browser's
session cookie and its CSRF token. Until those routes exist they answer 404 and the page says
reports are not available yet.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import Request

from prism.web.auth import CSRF_HEADER, SESSION_COOKIE, SignedIn

V3_BASE = "/v1/score_v3/report"
V2_BASE = "/v1/insights/report"
SCOPE = "personal"
MISSING = (404, 405)


class ReportsUnavailable(Exception):
    """The report routes are not served by this Prism (yet)."""


class ReportError(Exception):
    """The report API refused or failed a call; `message` is its own sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ReportsClient:
    """One request's view of the report API: as the signed-in browser, in-process."""

    def __init__(self, request: Request, me: SignedIn, *, family: str = "v3") -> None:
        self.app = request.app
        self.me = me
        self.base = V2_BASE if family == "v2" else V3_BASE

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 300.0,
    ) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        base_headers = {
            "cookie": f"{SESSION_COOKIE}={self.me.token}",
            CSRF_HEADER: self.me.csrf,
            "accept": "application/json",
        }
        async with httpx.AsyncClient(
            transport=transport, base_url="http://prism.internal", timeout=timeout
        ) as client:
            return await client.request(
                method, self.base + path, params=params, headers={**base_headers, **(headers or {})}
            )

    @staticmethod
    def _json(r: httpx.Response) -> Any:
        try:
            return r.json()
        except ValueError:
            return None

    def _fail(self, r: httpx.Response) -> ReportError:
        body = self._json(r)
        message = body.get("message") if isinstance(body, dict) else None
        return ReportError(r.status_code, message or f"The report service answered {r.status_code}")

    async def history(self, limit: int = 20) -> list[dict[str, Any]]:
        r = await self._call("GET", "/history", params={"scope": SCOPE, "limit": limit})
        if r.status_code in MISSING:
            raise ReportsUnavailable()
        if r.status_code != 200:
            raise self._fail(r)
        body = self._json(r)
        reports = body.get("reports") if isinstance(body, dict) else None
        return [x for x in (reports or []) if isinstance(x, dict)]

    async def pending(self) -> dict[str, Any] | None:
        r = await self._call("GET", "/pending")
        if r.status_code == 200:
            body = self._json(r)
            return body if isinstance(body, dict) else None
        return None

    async def get(self, report_id: str) -> dict[str, Any]:
        r = await self._call("GET", "/" + quote(report_id, safe=""))
        if r.status_code != 200:
            raise self._fail(r)
        body = self._json(r)
        if not isinstance(body, dict):
            raise ReportError(502, "The report service sent something that is not a report")
        return body

    async def generate(self, language: str) -> dict[str, Any]:
        r = await self._call(
            "POST", "/generate", params={"scope": SCOPE}, headers={"accept-language": language}
        )
        if r.status_code in MISSING:
            raise ReportsUnavailable()
        if r.status_code not in (200, 201, 202):
            raise self._fail(r)
        body = self._json(r)
        return body if isinstance(body, dict) else {}

    async def delete(self, report_id: str) -> None:
        r = await self._call("DELETE", "/" + quote(report_id, safe=""))
        if r.status_code == 405:
            raise ReportsUnavailable()
        if r.status_code not in (200, 202, 204):
            raise self._fail(r)


def report_id(report: dict[str, Any]) -> str | None:
    for key in ("id", "report_id"):
        value = report.get(key)
        if value:
            return str(value)
    return None
