"""Usage reports: buckets from `query.usage_rows` -> periods -> JSON and terminal tables.

The JSON follows ccusage's field names (`daily[].date`, `inputTokens`, `cacheCreationTokens`,
`modelBreakdowns[].modelName`, `totalCost`, `totals`), so scripts written for one read the
other. Money is summed as integer micro-USD and turned into USD only here, at the edge. A model
the price table does not know is never priced at zero: its breakdown says `"cost": null` with
`unpricedRequests`, and the report lists it under `unpricedModels`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

REPORTS = ("daily", "weekly", "monthly", "session", "model")
_PERIOD_FIELD = {"daily": "date", "weekly": "week", "monthly": "month", "session": "sessionId"}
_LIST_KEY = {
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "session": "sessions",
    "model": "models",
}


@dataclass
class Tally:
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    cost_micros: int = 0
    requests: int = 0
    unpriced: int = 0
    first: datetime | None = None
    last: datetime | None = None

    @property
    def total_tokens(self) -> int:
        return self.input + self.output + self.cache_creation + self.cache_read

    def add(self, row: dict[str, Any]) -> None:
        self.input += int(row["input_tokens"] or 0)
        self.output += int(row["output_tokens"] or 0)
        self.cache_creation += int(row["cache_creation_tokens"] or 0)
        self.cache_read += int(row["cache_read_tokens"] or 0)
        self.cost_micros += int(row["cost_micro_usd"] or 0)
        self.requests += int(row["requests"] or 0)
        self.unpriced += int(row["unpriced"] or 0)
        for t in (row.get("first_time"), row.get("last_time")):
            if t is None:
                continue
            if self.first is None or t < self.first:
                self.first = t
            if self.last is None or t > self.last:
                self.last = t

    def merge(self, other: Tally) -> None:
        self.input += other.input
        self.output += other.output
        self.cache_creation += other.cache_creation
        self.cache_read += other.cache_read
        self.cost_micros += other.cost_micros
        self.requests += other.requests
        self.unpriced += other.unpriced
        for t in (other.first, other.last):
            if t is None:
                continue
            if self.first is None or t < self.first:
                self.first = t
            if self.last is None or t > self.last:
                self.last = t

    def tokens_json(self) -> dict[str, Any]:
        return {
            "inputTokens": self.input,
            "outputTokens": self.output,
            "cacheCreationTokens": self.cache_creation,
            "cacheReadTokens": self.cache_read,
            "totalTokens": self.total_tokens,
        }


def usd(micros: int) -> float:
    return micros / 1_000_000


@dataclass
class Period:
    key: str
    total: Tally = field(default_factory=Tally)
    models: dict[str, Tally] = field(default_factory=dict)

    def add(self, model: str, row: dict[str, Any]) -> None:
        self.total.add(row)
        self.models.setdefault(model, Tally()).add(row)

    def to_json(self, kind: str) -> dict[str, Any]:
        ordered = sorted(self.models.items(), key=lambda kv: (-kv[1].cost_micros, kv[0]))
        breakdowns = []
        for name, t in ordered:
            b: dict[str, Any] = {"modelName": name, **t.tokens_json(), "requests": t.requests}
            b.pop("totalTokens")
            b["cost"] = usd(t.cost_micros) if t.unpriced < t.requests else None
            if t.unpriced:
                b["unpricedRequests"] = t.unpriced
            breakdowns.append(b)
        out: dict[str, Any] = {}
        if kind in _PERIOD_FIELD:
            out[_PERIOD_FIELD[kind]] = self.key
        else:
            out["modelName"] = self.key
        out.update(self.total.tokens_json())
        out["requests"] = self.total.requests
        out["totalCost"] = usd(self.total.cost_micros)
        if kind == "session":
            out["firstActivity"] = _iso(self.total.first)
            out["lastActivity"] = _iso(self.total.last)
        if kind != "model":
            out["modelsUsed"] = [name for name, _ in ordered]
            out["modelBreakdowns"] = breakdowns
        elif self.total.unpriced:
            out["totalCost"] = (
                None if self.total.unpriced == self.total.requests else out["totalCost"]
            )
            out["unpricedRequests"] = self.total.unpriced
        return out


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tz_of(name: str | None) -> ZoneInfo:
    """The report's time zone: `name`, else the machine's (TZ, /etc/localtime), else UTC."""
    if name:
        return ZoneInfo(name)
    import os

    env = os.environ.get("TZ")
    if env:
        try:
            return ZoneInfo(env.lstrip(":"))
        except Exception:
            pass
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            return ZoneInfo(link.split("zoneinfo/", 1)[1])
    except Exception:
        pass
    return ZoneInfo("UTC")


def bucket_minutes(tz: ZoneInfo, start: datetime | None, end: datetime | None) -> int:
    """60 when the zone is a whole number of hours off UTC over the window, else 15."""
    probes = [datetime(2024, m, 15, tzinfo=UTC) for m in (1, 7)]
    probes += [t for t in (start, end) if t is not None]
    for p in probes:
        off = p.astimezone(tz).utcoffset()
        if off is not None and off.total_seconds() % 3600:
            return 15
    return 60


def parse_day(text: str) -> date:
    """YYYY-MM-DD or YYYYMMDD (ccusage accepts both)."""
    text = text.strip()
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return date.fromisoformat(text)


def window(
    since: date | None, until: date | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """[since 00:00, until+1 00:00) in `tz`, as UTC instants (ValueError out of range)."""
    start = end = None
    for day in (since, until):
        if day is not None and not 1970 <= day.year <= 9998:
            raise ValueError(f"{day} is out of range (years 1970 to 9998)")
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=tz).astimezone(UTC)
    if until is not None:
        nxt = until + timedelta(days=1)
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
    return start, end


def period_key(kind: str, t: datetime, tz: ZoneInfo, week_start: int = 6) -> str:
    local = t.astimezone(tz)
    d = local.date()
    if kind == "daily":
        return d.isoformat()
    if kind == "monthly":
        return f"{d.year:04d}-{d.month:02d}"
    if kind == "weekly":
        # ccusage's weeks start on Sunday (weekday 6).
        delta = (d.weekday() - week_start) % 7
        return (d - timedelta(days=delta)).isoformat()
    raise ValueError(kind)


@dataclass
class Report:
    kind: str
    tz: str
    periods: list[Period]
    totals: Tally
    unpriced_models: list[str]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            _LIST_KEY[self.kind]: [p.to_json(self.kind) for p in self.periods],
            "totals": {
                **self.totals.tokens_json(),
                "requests": self.totals.requests,
                "totalCost": usd(self.totals.cost_micros),
            },
            "timezone": self.tz,
        }
        if self.unpriced_models:
            out["unpricedModels"] = self.unpriced_models
        return out


def build(kind: str, rows: list[dict[str, Any]], tz: ZoneInfo) -> Report:
    """Periods of `kind` from the query's buckets."""
    if kind not in REPORTS:
        raise ValueError(f"unknown report {kind!r}")
    periods: dict[str, Period] = {}
    totals = Tally()
    unpriced: set[str] = set()
    for row in rows:
        model = row.get("model") or "(unknown model)"
        if kind == "session":
            key = row.get("session_id") or "(no session)"
        elif kind == "model":
            key = model
        else:
            bucket = row["bucket"]
            if bucket.tzinfo is None:
                bucket = bucket.replace(tzinfo=UTC)
            key = period_key(kind, bucket, tz)
        p = periods.get(key)
        if p is None:
            p = periods[key] = Period(key)
        p.add(model, row)
        totals.add(row)
        if row["unpriced"]:
            unpriced.add(model)
    ordered: Iterable[Period]
    if kind == "session":
        ordered = sorted(
            periods.values(), key=lambda p: p.total.last or datetime.min.replace(tzinfo=UTC)
        )
    elif kind == "model":
        ordered = sorted(periods.values(), key=lambda p: (-p.total.cost_micros, p.key))
    else:
        ordered = sorted(periods.values(), key=lambda p: p.key)
    return Report(kind, str(tz), list(ordered), totals, sorted(unpriced))


# --- terminal rendering ---------------------------------------------------------------------------
def _n(v: int) -> str:
    return f"{v:,}"


def _money(micros: int, unpriced: int = 0, requests: int = 0) -> str:
    if requests and unpriced == requests:
        return "?"
    text = f"${micros / 1_000_000:,.2f}"
    return text + ("+?" if unpriced else "")


def render(report: Report, console: Any) -> None:
    """A ccusage-like table: one row per period, one indented row per model, then totals."""
    from rich import box
    from rich.table import Table

    label = {
        "daily": "Date",
        "weekly": "Week",
        "monthly": "Month",
        "session": "Session",
        "model": "Model",
    }[report.kind]
    title = f"Claude Code usage, {report.kind} ({report.tz})"
    table = Table(title=title, box=box.SIMPLE_HEAVY, header_style="bold cyan", title_style="bold")
    table.add_column(label, style="bold", no_wrap=True)
    if report.kind != "model":
        table.add_column("Models", no_wrap=True)
    for col in ("Input", "Output", "Cache Create", "Cache Read", "Total Tokens"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("Cost (USD)", justify="right", style="green", no_wrap=True)
    for p in report.periods:
        t = p.total
        cells = [p.key[:36] if report.kind == "session" else p.key]
        if report.kind != "model":
            cells.append(_short(next(iter(p.models))) if len(p.models) == 1 else "")
        cells += [
            _n(t.input),
            _n(t.output),
            _n(t.cache_creation),
            _n(t.cache_read),
            _n(t.total_tokens),
            _money(t.cost_micros, t.unpriced, t.requests),
        ]
        table.add_row(*cells)
        if report.kind != "model" and len(p.models) > 1:
            for name, mt in sorted(p.models.items(), key=lambda kv: -kv[1].cost_micros):
                table.add_row(
                    "",
                    f"└ {_short(name)}",
                    _n(mt.input),
                    _n(mt.output),
                    _n(mt.cache_creation),
                    _n(mt.cache_read),
                    _n(mt.total_tokens),
                    _money(mt.cost_micros, mt.unpriced, mt.requests),
                    style="dim",
                )
    t = report.totals
    cells = ["Total"] + ([""] if report.kind != "model" else [])
    cells += [
        _n(t.input),
        _n(t.output),
        _n(t.cache_creation),
        _n(t.cache_read),
        _n(t.total_tokens),
        _money(t.cost_micros, t.unpriced, t.requests),
    ]
    table.add_section()
    table.add_row(*cells, style="bold yellow")
    console.print(table)
    if report.unpriced_models:
        console.print(
            "[yellow]Not in the price table (cost unknown, not counted): "
            + ", ".join(report.unpriced_models)
            + "[/yellow]"
        )


def _short(model: str) -> str:
    """`claude-opus-4-6` -> `opus-4-6`; dates dropped, as ccusage shows them."""
    name = model.removeprefix("claude-")
    parts = name.split("-")
    if parts and len(parts[-1]) == 8 and parts[-1].isdigit():
        parts = parts[:-1]
    return "-".join(parts)


def report_from_json(kind: str, body: dict[str, Any]) -> Report:
    """The engine's JSON answer back into a `Report`, for rendering on the client."""
    periods: list[Period] = []
    field_name = _PERIOD_FIELD.get(kind, "modelName")
    for item in body.get(_LIST_KEY[kind], []):
        p = Period(str(item.get(field_name)))
        p.total = _tally(item)
        for b in item.get("modelBreakdowns", []):
            p.models[str(b.get("modelName"))] = _tally(b)
        if kind == "model":
            p.models[p.key] = p.total
        periods.append(p)
    totals = _tally(body.get("totals", {}))
    return Report(
        kind, str(body.get("timezone", "UTC")), periods, totals, body.get("unpricedModels", [])
    )


def _tally(item: dict[str, Any]) -> Tally:
    cost = item.get("cost", item.get("totalCost"))
    requests = int(item.get("requests") or 0)
    unpriced = int(item.get("unpricedRequests") or 0)
    if cost is None and requests:
        unpriced = requests
    return Tally(
        input=int(item.get("inputTokens") or 0),
        output=int(item.get("outputTokens") or 0),
        cache_creation=int(item.get("cacheCreationTokens") or 0),
        cache_read=int(item.get("cacheReadTokens") or 0),
        cost_micros=round(float(cost or 0) * 1_000_000),
        requests=requests,
        unpriced=unpriced,
    )
