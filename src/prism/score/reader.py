"""Engine-side reads of PRISM Score v3.0: a developer's scored arcs and cached window reports.

A window report is a pure function of the developer's scored arcs, the window kind, the time
zone and the local date (working days elapsed change at local midnight). The sessionizer bumps
`score_versions.version` whenever a developer's arcs or verdicts change, so a report cached
under (developer, kind, zone, version, local date) is valid until one of those moves. A cache
hit costs one primary-key query (`state`) and loads no arcs.

Arcs are read with a lean column query (no ORM objects, no verdict JSON): the few JSON facts
the metrics need are extracted by the database.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, String, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from prism.errors import BadRequest
from prism.score import metrics as m
from prism.score.metrics import ScoredArc, history_start, window_report
from prism.score.thresholds import DEFAULT_CONFIG, RUBRIC_BOOLEANS, ScoringConfig
from prism.score.windows import Window, last_windows, window_at, zone
from prism.store.models import (
    ArcRubric,
    Developer,
    IntegrityFlagRow,
    Preference,
    ScoreVersion,
    SubSession,
)

T = TypeVar("T")
_CACHE_SIZE = 4096
FLAG_LEAD = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DeveloperState:
    """What a cached read is keyed on: the developer's zone and score version."""

    developer_id: str
    time_zone: str
    version: int


def as_utc(value: Any) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive datetimes or raw strings)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", UTC
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _as_utc_param(t: datetime) -> datetime:
    # SQLite stores timestamps without their offset: bind every bound in UTC.
    return t.astimezone(UTC)


def bucket(arcs: Sequence[ScoredArc], windows: Sequence[Window]) -> list[list[ScoredArc]]:
    """Arcs (sorted by `ended_at`) of each window, by bisection rather than a scan per window."""
    ends = [a.ended_at for a in arcs]
    out = []
    for w in windows:
        lo, hi = bisect_left(ends, w.start), bisect_left(ends, w.end)
        out.append(list(arcs[lo:hi]))
    return out


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


class ScoreReader:
    """Reads for the /v1/score_v3 endpoints; one per engine process, shared by requests."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: ScoringConfig = DEFAULT_CONFIG,
        *,
        clock: Callable[[], datetime] | None = None,
        cache_size: int = _CACHE_SIZE,
        engine: Engine | None = None,
    ) -> None:
        self.sessions = sessions
        # Core connections: an ORM Session costs ~1 ms more per query, a third of the hit path.
        bind = engine or sessions.kw.get("bind")
        self.engine: Engine | None = bind if isinstance(bind, Engine) else None
        self.config = config
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache_size = cache_size
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def now(self) -> datetime:
        return self.clock()

    def _connect(self) -> Connection | Session:
        return self.engine.connect() if self.engine is not None else self.sessions()

    # --- the cheap query every cached read makes --------------------------------------------
    def state(self, developer_id: str) -> DeveloperState:
        """Zone (preference override, else the developer's) and score version: one PK query."""
        stmt = (
            select(
                Developer.time_zone,
                ScoreVersion.version,
                Preference.extra["time_zone"].as_string(),
            )
            .select_from(Developer)
            .outerjoin(ScoreVersion, ScoreVersion.developer_id == Developer.id)
            .outerjoin(Preference, Preference.developer_id == Developer.id)
            .where(Developer.id == developer_id)
        )
        with self._connect() as c:
            row = c.execute(stmt).first()
        if row is None:
            return DeveloperState(developer_id, "UTC", 0)
        dev_tz, version, pref_tz = row
        return DeveloperState(developer_id, self._valid_zone(pref_tz or dev_tz), int(version or 0))

    @staticmethod
    def _valid_zone(name: str | None) -> str:
        # A bad stored zone must not turn every read into a 400: fall back to UTC.
        try:
            zone(name or "UTC")
        except BadRequest:
            return "UTC"
        return name or "UTC"

    def local_date(self, st: DeveloperState, now: datetime | None = None) -> date:
        return (now or self.now()).astimezone(zone(st.time_zone)).date()

    def window(self, kind: str, st: DeveloperState, now: datetime | None = None) -> Window:
        return window_at(kind, now or self.now(), st.time_zone)

    # --- cache -------------------------------------------------------------------------------
    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` once per key; concurrent misses of one key wait for the first."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.hits += 1
                return self._cache[key]  # type: ignore[no-any-return]
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._cache:
                    self.hits += 1
                    return self._cache[key]  # type: ignore[no-any-return]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._inflight.pop(key, None)
                raise
            with self._lock:
                self.misses += 1
                self._cache[key] = value
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                self._inflight.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- arcs --------------------------------------------------------------------------------
    def arcs(
        self, developer_id: str, start: datetime, end: datetime | None = None
    ) -> list[ScoredArc]:
        """Scored arcs with `ended_at` in [start, end), oldest first, as the metrics see them.

        Equivalent to `prism.store.scores.scored_arc(row, rubric)` for each row; timestamps are
        read as text on SQLite (parsed with `fromisoformat`, several times faster than the
        dialect's regex), the rubric's applicability and the correction cue come out of JSON in
        the database.
        """
        ts_start = type_coerce(SubSession.started_at, String)
        ts_end = type_coerce(SubSession.ended_at, String)
        cols = [
            SubSession.id,
            ts_start,
            ts_end,
            SubSession.qualifying,
            SubSession.crushed,
            SubSession.outcome,
            SubSession.is_rework,
            SubSession.reworked_later,
            SubSession.prompt_count,
            SubSession.digest["has_correction_after_first"].as_boolean(),
            SubSession.prompt_grade,
            SubSession.intent_class,
            SubSession.input_tokens,
            SubSession.output_tokens,
            SubSession.cache_read_tokens,
            SubSession.cache_write_tokens,
            SubSession.cost_micro_usd,
            SubSession.trivia_reason,
            ArcRubric.sub_session_id,
            SubSession.status,
            *(getattr(ArcRubric, b) for b in RUBRIC_BOOLEANS),
            *(ArcRubric.applicability[b].as_boolean() for b in RUBRIC_BOOLEANS),
        ]
        # No `status` in SQL: with it SQLite may pick ix_v3_sub_status and read every
        # developer's arcs; (developer_id, ended_at) is the index to use, open arcs are few.
        where = [
            SubSession.developer_id == developer_id,
            SubSession.ended_at >= _as_utc_param(start),
        ]
        if end is not None:
            where.append(SubSession.ended_at < _as_utc_param(end))
        stmt = (
            select(*cols)
            .outerjoin(ArcRubric, ArcRubric.sub_session_id == SubSession.id)
            .where(*where)
            .order_by(SubSession.ended_at)  # the index's order: no sort step
        )
        with self._connect() as c:
            rows = [r for r in c.execute(stmt).all() if r[19] == "scored"]
            times = [(as_utc(r[1]), as_utc(r[2])) for r in rows]
            flags = self._flag_kinds(
                c, developer_id, rows, min((t[0] for t in times), default=None)
            )
        n = len(RUBRIC_BOOLEANS)
        out: list[ScoredArc] = []
        for r, (started, ended) in zip(rows, times, strict=True):
            booleans: dict[str, bool] = {}
            applicability: dict[str, bool] = {}
            if r[18] is not None:
                values, applies = r[20 : 20 + n], r[20 + n : 20 + 2 * n]
                booleans = {
                    b: bool(v)
                    for b, v in zip(RUBRIC_BOOLEANS, values, strict=True)
                    if v is not None
                }
                applicability = {
                    b: bool(v)
                    for b, v in zip(RUBRIC_BOOLEANS, applies, strict=True)
                    if v is not None
                }
            out.append(
                ScoredArc(
                    arc_id=r[0],
                    started_at=started,
                    ended_at=ended,
                    qualifying=bool(r[3]),
                    crushed=bool(r[4]),
                    outcome=r[5] or "unclear",
                    is_rework=bool(r[6]),
                    reworked_later=bool(r[7]),
                    prompt_count=r[8] or 0,
                    has_correction_after_first=bool(r[9]),
                    grade=r[10],
                    booleans=booleans,
                    applicability=applicability,
                    intent_class=r[11] or "unclear",
                    input_tokens=r[12] or 0,
                    output_tokens=r[13] or 0,
                    cache_read_tokens=r[14] or 0,
                    cache_write_tokens=r[15] or 0,
                    cost_micro_usd=r[16] or 0,
                    trivia_reason=r[17],
                    flags=tuple(flags.get(r[0], ())),
                    seconds=(ended - started).total_seconds(),
                )
            )
        return out

    def flag_kinds(self, developer_id: str, arcs: Sequence[Any]) -> dict[str, list[str]]:
        """Integrity flag kinds (sorted) of `arcs` (anything with `id` and `started_at`)."""
        if not arcs:
            return {}
        with self._connect() as c:
            return self._flag_kinds(c, developer_id, arcs, min(as_utc(a[1]) for a in arcs))

    def _flag_kinds(
        self,
        c: Connection | Session,
        developer_id: str,
        arcs: Sequence[Any],
        first_start: datetime | None,
    ) -> dict[str, list[str]]:
        # Flags have no index by arc: read the developer's flags through (developer_id, at)
        # from a bound every flag of these arcs respects (a flag's `at` is inside its arc, or
        # for arc_splitting at most the splitting window before it), then keep these arcs'.
        if first_start is None:
            return {}
        ids = {a[0] for a in arcs}
        lead = max(FLAG_LEAD, 2 * timedelta(seconds=self.config.splitting_window_seconds))
        earliest = first_start - lead
        rows = c.execute(
            select(IntegrityFlagRow.sub_session_id, IntegrityFlagRow.kind).where(
                IntegrityFlagRow.developer_id == developer_id,
                IntegrityFlagRow.at >= _as_utc_param(earliest),
            )
        ).all()
        out: dict[str, list[str]] = {}
        for arc_id, kind in sorted(rows):
            if arc_id in ids:
                out.setdefault(arc_id, []).append(kind)
        return out

    # --- cached reads ------------------------------------------------------------------------
    def report(self, developer_id: str, kind: str) -> dict[str, Any]:
        """`window_report(...).as_dict()` of the current `kind` window (cached, do not mutate)."""
        st = self.state(developer_id)
        now = self.now()
        key = ("report", developer_id, kind, st.time_zone, st.version, self.local_date(st, now))

        def compute() -> dict[str, Any]:
            arcs = self.arcs(developer_id, history_start(kind, now, st.time_zone, self.config))
            return window_report(arcs, kind, now, st.time_zone, self.config).as_dict()

        return self.cached(key, compute)

    def tokens_trend(self, developer_id: str, kind: str, periods: int) -> list[dict[str, Any]]:
        """Token metrics of the last `periods` windows, oldest first (cached)."""
        st = self.state(developer_id)
        now = self.now()
        key = (
            "tokens",
            developer_id,
            kind,
            periods,
            st.time_zone,
            st.version,
            self.local_date(st, now),
        )
        base_n = self.config.tet_baseline_windows

        def compute() -> list[dict[str, Any]]:
            wins = last_windows(kind, now, st.time_zone, periods + base_n)
            per = bucket(self.arcs(developer_id, wins[0].start, wins[-1].end), wins)
            tpts = [m.tpt(a) for a in per]
            out = []
            for i in range(base_n, len(wins)):
                a, w = per[i], wins[i]
                q = m.qualifying(a)
                out.append(
                    {
                        "label": w.label,
                        "from": w.start,
                        "to": w.end,
                        "crushed_count": sum(1 for x in q if x.crushed),
                        "total_count": len(q),
                        "billed_tokens": sum(x.billed_tokens for x in q),
                        "crush_weight": _r(m.crush_weight(a), 3),
                        "tpt": _r(tpts[i], 1),
                        "tet": _r(m.tet(tpts[i], tpts[i - base_n : i]), 3),
                        "cpcs_estimate": _r(m.cpcs_estimate(a), 4),
                        "breakdown": m.breakdown(a),
                    }
                )
            return out

        return self.cached(key, compute)

    def trivia_trend(self, developer_id: str, kind: str, periods: int) -> list[dict[str, Any]]:
        """Trivia (floor-failing) arcs per window for the last `periods` windows (cached)."""
        st = self.state(developer_id)
        now = self.now()
        key = (
            "trivia",
            developer_id,
            kind,
            periods,
            st.time_zone,
            st.version,
            self.local_date(st, now),
        )

        def compute() -> list[dict[str, Any]]:
            wins = last_windows(kind, now, st.time_zone, periods)
            per = bucket(self.arcs(developer_id, wins[0].start, wins[-1].end), wins)
            out = []
            for w, a in zip(wins, per, strict=True):
                counts = m.trivia_counts(a)
                out.append(
                    {
                        "label": w.label,
                        "from": w.start,
                        "to": w.end,
                        "total": sum(counts.values()),
                        "by_reason": counts,
                    }
                )
            return out

        return self.cached(key, compute)
