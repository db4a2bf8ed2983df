"""Jinja filters: numbers, shares, money, durations and times as the pages print them.

Every printed metric also carries its raw API value in a `data-value` attribute (`raw`), so a
test can check the page against the API without parsing formatted text.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment

from prism.score.windows import zone

DASH = "—"


def raw(value: Any) -> str:
    """The JSON of an API value, for a `data-value` attribute."""
    if isinstance(value, datetime):
        return json.dumps(value.isoformat())
    return json.dumps(value)


def num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return DASH
    if digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage."""
    return DASH if value is None else f"{value * 100:.{digits}f}%"


def signed(value: float | None, digits: int = 1) -> str:
    if value is None:
        return DASH
    text = f"{abs(value):.{digits}f}"
    if round(value, digits) == 0:
        return f"±{text}"
    return f"+{text}" if value > 0 else f"−{text}"


def usd(value: float | None) -> str:
    if value is None:
        return DASH
    if 0 < abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h} h"


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value


def when(value: Any, tz: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time in the developer's zone."""
    t = _as_datetime(value)
    if t is None:
        return DASH if value is None else str(value)
    if t.tzinfo is None:
        return t.strftime(fmt)
    return t.astimezone(zone(tz)).strftime(fmt)


def iso(value: Any) -> str:
    t = _as_datetime(value)
    return "" if t is None else t.isoformat()


def last_moment(value: datetime) -> datetime:
    """The last instant before an exclusive end (a window's last day, not the next one's)."""
    return value - timedelta(microseconds=1)


def last_iso(value: Any) -> datetime | None:
    """`last_moment` of an ISO string or datetime (None passes through)."""
    t = _as_datetime(value)
    return None if t is None else last_moment(t)


def kpi(value: float | int | None, fmt: str | None, signed_: bool = False) -> str:
    """A report KPI in its declared format (points, int, ratio2, share, money, duration)."""
    if value is None:
        return DASH
    if fmt == "share":
        text = pct(abs(value) if signed_ else value)
    elif fmt == "money":
        text = usd(abs(value) if signed_ else value)
    elif fmt == "duration":
        text = duration(abs(value) if signed_ else value)
    elif fmt == "int":
        text = num(abs(value) if signed_ else value)
    elif fmt == "ratio2":
        text = num(abs(value) if signed_ else value, 2)
    else:
        text = num(abs(value) if signed_ else value, 1)
    if not signed_:
        return text
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def label(value: str | None) -> str:
    """snake_case -> Sentence case."""
    if not value:
        return DASH
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


def install(env: Environment) -> None:
    env.filters.update(
        raw=raw,
        num=num,
        pct=pct,
        signed=signed,
        usd=usd,
        duration=duration,
        when=when,
        iso=iso,
        label=label,
        last_moment=last_moment,
        last_iso=last_iso,
    )
