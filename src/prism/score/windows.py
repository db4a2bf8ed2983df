"""Calendar windows in the developer's time zone: daily, weekly (ISO, Monday first), monthly.

Bounds are local midnights converted to aware datetimes, so a window is 23 or 25 hours long
across a DST change, as a developer reading a calendar expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from prism.errors import BadRequest

KINDS: tuple[str, ...] = ("daily", "weekly", "monthly")
DEFAULT_KIND = "weekly"


def parse_kind(value: str | None) -> str:
    """The window kind of a `window=` parameter; missing means weekly, unknown is a 400."""
    if value is None or value == "":
        return DEFAULT_KIND
    if value not in KINDS:
        raise BadRequest(f"window must be one of {', '.join(KINDS)}, got {value!r}")
    return value


def zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz or "UTC")
    except (KeyError, ValueError) as exc:
        raise BadRequest(f"unknown time zone {tz!r}") from exc


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) of one calendar window; both aware, in the window's zone."""

    kind: str
    start: datetime
    end: datetime

    @property
    def tz(self) -> ZoneInfo:
        assert isinstance(self.start.tzinfo, ZoneInfo)
        return self.start.tzinfo

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """Window end as a UTC instant (aware arithmetic in one zone is wall-clock time)."""
        return self.end.astimezone(UTC)

    def contains(self, t: datetime) -> bool:
        return self.start_utc <= t.astimezone(UTC) < self.end_utc

    @property
    def label(self) -> str:
        d = self.start.date()
        if self.kind == "daily":
            return d.isoformat()
        if self.kind == "weekly":
            y, w, _ = d.isocalendar()
            return f"{y}-W{w:02d}"
        return f"{d.year}-{d.month:02d}"


def _bounds(kind: str, d: date) -> tuple[date, date]:
    if kind == "daily":
        return d, d + timedelta(days=1)
    if kind == "weekly":
        start = d - timedelta(days=d.weekday())
        return start, start + timedelta(days=7)
    if kind == "monthly":
        start = d.replace(day=1)
        nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return start, nxt
    raise BadRequest(f"window must be one of {', '.join(KINDS)}, got {kind!r}")


def _make(kind: str, d: date, tz: ZoneInfo) -> Window:
    a, b = _bounds(kind, d)
    return Window(
        kind, datetime.combine(a, time(), tzinfo=tz), datetime.combine(b, time(), tzinfo=tz)
    )


def window_at(kind: str, at: datetime, tz: str | ZoneInfo | None = "UTC") -> Window:
    """The window of `kind` that contains instant `at` in zone `tz`."""
    z = zone(tz)
    return _make(kind, at.astimezone(z).date(), z)


def previous(w: Window) -> Window:
    """The window just before `w`."""
    return _make(w.kind, w.start.date() - timedelta(days=1), w.tz)


def last_windows(
    kind: str, at: datetime, tz: str | ZoneInfo | None = "UTC", n: int = 4
) -> list[Window]:
    """The `n` windows ending with the current one, oldest first (a sparkline's x axis)."""
    w = window_at(kind, at, tz)
    out = [w]
    for _ in range(n - 1):
        w = previous(w)
        out.append(w)
    return out[::-1]


def _weekdays(a: date, b: date) -> int:
    """Mon-Fri days in [a, b)."""
    days = (b - a).days
    if days <= 0:
        return 0
    full, rest = divmod(days, 7)
    count = full * 5
    wd = a.weekday()
    for i in range(rest):
        if (wd + i) % 7 < 5:
            count += 1
    return count


def working_days_elapsed(w: Window, now: datetime) -> int:
    """Mon-Fri days of `w` up to and including today (all of them once `w` is over); >= 1."""
    start, end = w.start.date(), w.end.date()
    if now >= w.end_utc:
        return max(1, _weekdays(start, end))
    if now < w.start_utc:
        return 1
    today = now.astimezone(w.tz).date()
    return max(1, _weekdays(start, today + timedelta(days=1)))
