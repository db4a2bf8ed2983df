"""Helpers shared by the dashboard tests: read what a page says a metric is."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any


class _Metrics(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self.arc_ids: list[str] = []
        self.csrf: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("data-metric") is not None and a.get("data-value") is not None:
            self.values[str(a["data-metric"])] = json.loads(str(a["data-value"]))
        if tag == "tr" and a.get("data-arc-id"):
            self.arc_ids.append(str(a["data-arc-id"]))
        if tag == "input" and a.get("name") == "csrf_token" and self.csrf is None:
            self.csrf = a.get("value")


def page_metrics(html: str) -> dict[str, Any]:
    """{metric name: raw API value} of every `data-metric` element of a page."""
    p = _Metrics()
    p.feed(html)
    return p.values


def page_arc_ids(html: str) -> list[str]:
    p = _Metrics()
    p.feed(html)
    return p.arc_ids


def page_csrf(html: str) -> str | None:
    """The CSRF token the page's forms carry."""
    p = _Metrics()
    p.feed(html)
    return p.csrf


def flatten(section: dict[str, Any]) -> dict[str, Any]:
    """{"breakdown": {"input": 1}} -> {"breakdown.input": 1}, the way pages name nested values."""
    out: dict[str, Any] = {}
    for k, v in section.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out[f"{k}.{k2}"] = v2
        else:
            out[k] = v
    return out
