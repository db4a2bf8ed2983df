"""`prism demo`: weeks of multi-developer Claude Code history, sent through the real OTLP ingest.

Planning is pure and deterministic: the same seed, size and end time give the same sessions,
events and manifest. Each developer gets a persona (how often their work lands), one or two
repositories, a model mix and working hours; weekdays hold several sessions, weekends few or
none. Every session is a sequence of stories (`prism.demo.stories`): one goal, or two goals
joined by a new-task cue ("Next, ..."), or by an idle gap. Every story kind appears at least
once when the demo is large enough to hold them; beyond that the mix follows the weights.

Sending is what a fleet of Claude Code processes would do: one OTLP/HTTP protobuf export of
logs and one of metrics per session, with each developer's own key, retrying 429/502/503/504
after Retry-After. Developers are sent in parallel, each in time order, so an arc that reworks
an earlier one is always judged after it.

The manifest records, for every arc, its anchor (developer, session id, first prompt id), its
story and the verdict the story intends, so `prism.demo.check` can compare the judge's
verdicts with the stories.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from prism.agents.claude_code_otlp import logs_request, metrics_request
from prism.demo import catalog as cat
from prism.demo import stories as st
from prism.sessions.arcs import ARC_NAMESPACE

MANIFEST_VERSION = 1
_NS = uuid.UUID("a7d4c1e2-9b3f-4d6a-8e5c-1f2a3b4c5d6e")
CUTOFF = timedelta(minutes=30)
"""Sessions must end this long before `until`, so every arc is closed when it arrives."""
RETRY_STATUSES = frozenset({429, 502, 503, 504})

NAMES = (
    ("Ana", "Lima"),
    ("Ben", "Okafor"),
    ("Chen", "Wei"),
    ("Dara", "Novak"),
    ("Eli", "Haddad"),
    ("Fatima", "Rossi"),
    ("Goran", "Berg"),
    ("Hana", "Sato"),
    ("Ivan", "Petrov"),
    ("Jade", "Moreau"),
    ("Kofi", "Mensah"),
    ("Lena", "Fischer"),
)
PERSONAS: dict[str, dict[str, float]] = {
    "steady": {},
    "strong": {
        "feature_crushed": 1.3,
        "bugfix_crushed": 1.2,
        "refactor_crushed": 1.3,
        "tests_crushed": 1.5,
        "bug_failed": 0.5,
        "abandoned": 0.6,
        "question_trivia": 0.8,
        "fix_then_rework": 0.6,
    },
    "learning": {
        "feature_crushed": 0.8,
        "bug_failed": 1.8,
        "abandoned": 1.6,
        "fix_then_rework": 1.6,
        "question_trivia": 1.4,
        "explore": 1.3,
        "tiny_burst": 1.5,
        "self_grading": 1.5,
    },
}
MODEL_MIXES = (
    ((st.OPUS, 0.55), (st.SONNET, 0.40), (st.HAIKU, 0.05)),
    ((st.SONNET, 0.75), (st.OPUS, 0.20), (st.HAIKU, 0.05)),
    ((st.OPUS, 0.85), (st.SONNET, 0.15)),
    ((st.SONNET, 0.60), (st.HAIKU, 0.25), (st.OPUS, 0.15)),
)


class DemoError(Exception):
    """The demo could not be sent (server unreachable, key refused...)."""


@dataclass(frozen=True, slots=True)
class DemoConfig:
    developers: int = 5
    days: int = 28
    seed: int = 7
    until: datetime | None = None
    """End of the history (default: now). The last session ends 30 minutes before it."""

    def resolved_until(self) -> datetime:
        t = self.until or datetime.now(UTC)
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
        return t.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class DemoDeveloper:
    email: str
    name: str
    persona: str
    projects: tuple[str, ...]
    models: tuple[tuple[str, float], ...]
    start_hour: float
    """Usual start of the working day, in UTC hours."""
    identity: st.Persona


@dataclass
class PlannedSession:
    developer: str
    session_id: str
    start: datetime
    end: datetime
    project: str
    model: str
    shape: str
    events: list[Any]
    metrics: list[dict[str, Any]]
    arcs: list[st.ArcIntent]
    bundle: str | None = None


@dataclass
class Plan:
    config: DemoConfig
    until: datetime
    first_day: date
    developers: list[DemoDeveloper]
    sessions: list[PlannedSession]

    @property
    def arcs(self) -> list[tuple[PlannedSession, st.ArcIntent]]:
        return [(s, a) for s in self.sessions for a in s.arcs]

    @property
    def event_count(self) -> int:
        return sum(len(s.events) for s in self.sessions)

    @property
    def metric_point_count(self) -> int:
        return sum(len(s.metrics) for s in self.sessions)

    def story_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(a.story for _, a in self.arcs).items()))

    def shape_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s.shape for s in self.sessions).items()))

    def manifest(self, developer_ids: dict[str, str] | None = None) -> dict[str, Any]:
        """Every arc's anchor, story and intended verdict (plus arc ids when the owners are
        known: Prism names an arc uuid5(developer id | session id | first prompt id))."""
        ids = developer_ids or {}
        arcs = []
        for s, a in self.arcs:
            entry: dict[str, Any] = {
                "developer": s.developer,
                "session_id": s.session_id,
                "first_prompt_id": a.first_prompt_id,
                "started_at": a.started_at.isoformat() if a.started_at else None,
                "story": a.story,
                "role": a.role,
                "shape": s.shape,
                "model": s.model,
                "project": s.project,
                "clear_cut": a.clear_cut,
                "expected": a.expect.as_dict(),
            }
            if s.developer in ids and a.first_prompt_id:
                entry["arc_id"] = arc_id(ids[s.developer], s.session_id, a.first_prompt_id)
            arcs.append(entry)
        return {
            "version": MANIFEST_VERSION,
            "seed": self.config.seed,
            "days": self.config.days,
            "first_day": self.first_day.isoformat(),
            "until": self.until.isoformat(),
            "developers": [
                {
                    "email": d.email,
                    "name": d.name,
                    "persona": d.persona,
                    "projects": list(d.projects),
                    **({"developer_id": ids[d.email]} if d.email in ids else {}),
                }
                for d in self.developers
            ],
            "totals": {
                "sessions": len(self.sessions),
                "arcs": len(self.arcs),
                "events": self.event_count,
                "metric_points": self.metric_point_count,
                "stories": self.story_counts(),
                "shapes": self.shape_counts(),
            },
            "arcs": arcs,
        }


def arc_id(developer_id: str, session_id: str, first_prompt_id: str) -> str:
    """The id Prism's sessionizer gives the arc that opens with this prompt."""
    return str(uuid.uuid5(ARC_NAMESPACE, f"{developer_id}|{session_id}|{first_prompt_id}"))


# --- planning -----------------------------------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    # A string seed goes through SHA-512: the same on every run and platform.
    return random.Random("|".join(str(p) for p in parts))


def _hex(*parts: object, n: int = 64) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:n]


def developers(config: DemoConfig) -> list[DemoDeveloper]:
    rng = _rng(config.seed, "developers")
    personas = ["steady", "strong", "learning"]
    rng.shuffle(personas)
    org = str(uuid.uuid5(_NS, f"org|{config.seed}"))
    out = []
    for i in range(config.developers):
        first, last = NAMES[i % len(NAMES)]
        suffix = "" if i < len(NAMES) else str(i // len(NAMES) + 1)
        email = f"{first.lower()}.{last.lower()}{suffix}@example.com"
        projects = [cat.PROJECTS[i % len(cat.PROJECTS)].name]
        if rng.random() < 0.5:
            projects.append(cat.PROJECTS[(i + 1 + rng.randrange(3)) % len(cat.PROJECTS)].name)
        out.append(
            DemoDeveloper(
                email=email,
                name=f"{first} {last}{suffix}",
                persona=personas[i % len(personas)],
                projects=tuple(dict.fromkeys(projects)),
                models=MODEL_MIXES[(i + rng.randrange(2)) % len(MODEL_MIXES)],
                start_hour=rng.choice((7.0, 7.5, 8.0, 8.5, 9.0, 9.5)),
                identity=st.Persona(
                    email=email,
                    user_id=_hex(config.seed, "install", email),
                    account_uuid=str(uuid.uuid5(_NS, f"account|{email}")),
                    organization_id=org,
                    accept_edits=rng.random() < 0.4,
                ),
            )
        )
    return out


@dataclass
class _Entry:
    """One planned session: its segments (story, how it joins the previous one)."""

    segments: list[tuple[str, str]]
    pair: str | None = None
    role: str | None = None


def _weights(persona: str, names: Iterable[str]) -> tuple[list[str], list[float]]:
    mult = PERSONAS[persona]
    keys = list(names)
    return keys, [st.STORIES[k].weight * mult.get(k, 1.0) for k in keys]


def _draw(rng: random.Random, persona: str, names: Iterable[str]) -> str:
    keys, weights = _weights(persona, names)
    return rng.choices(keys, weights)[0]


def _sessions_on(rng: random.Random, day: date) -> int:
    if day.weekday() >= 5:
        return rng.choices((0, 1, 2), (0.55, 0.3, 0.15))[0]
    return rng.choices((2, 3, 4, 5, 6), (0.1, 0.25, 0.3, 0.25, 0.1))[0]


def _schedule(config: DemoConfig, dev: DemoDeveloper, days: list[date]) -> list[list[_Entry]]:
    rng = _rng(config.seed, "schedule", dev.email)
    plan: list[list[_Entry]] = [[] for _ in days]
    chainable = [k for k, v in st.STORIES.items() if not v.standalone]
    pairs = 0
    busy_until = -1  # one rework pair at a time, so its files stay reserved for it
    for d, day in enumerate(days):
        for _ in range(_sessions_on(rng, day)):
            first = _draw(rng, dev.persona, st.STORIES)
            if first == "fix_then_rework":
                k = rng.randint(1, 3)
                if d + k >= len(days) or d <= busy_until:
                    first = "bugfix_crushed"
                else:
                    busy_until = d + k
                    pair = f"{dev.email}#{pairs}"
                    pairs += 1
                    plan[d].append(_Entry([(first, "")], pair, "original"))
                    plan[d + k].insert(
                        rng.randint(0, len(plan[d + k])), _Entry([(first, "")], pair, "rework")
                    )
                    continue
            segments = [(first, "")]
            while len(segments) < 3 and rng.random() < (0.3 if len(segments) == 1 else 0.15):
                prev = st.STORIES[segments[-1][0]]
                if prev.standalone or prev.last_in_session:
                    break
                join = "cue" if prev.ends_complete else "gap"
                options = [
                    k
                    for k in chainable
                    if (st.STORIES[k].follows_cue if join == "cue" else st.STORIES[k].follows_gap)
                ]
                segments.append((_draw(rng, dev.persona, options), join))
            plan[d].append(_Entry(segments))
    if not any(plan):
        # A short demo over a weekend: this developer worked anyway.
        plan[0] = [_Entry([("feature_crushed", "")]), _Entry([("bugfix_crushed", "")])]
    return plan


_COMMON = ("feature_crushed", "bugfix_crushed", "question_trivia", "bug_failed",
           "tests_crushed", "refactor_crushed", "docs_crushed")  # fmt: skip


def _ensure_coverage(
    config: DemoConfig, schedules: dict[str, list[list[_Entry]]], n_days: int
) -> None:
    """Make every story kind appear at least once (so even a small demo is a full check),
    each replacing a one-goal session of a common story that appears more than once."""
    counts = Counter(
        seg[0] for days in schedules.values() for entries in days for e in entries
        for seg in e.segments
    )  # fmt: skip
    rng = _rng(config.seed, "coverage")
    for story in st.STORIES:
        if counts[story]:
            continue
        # Not on the last day: its sessions may fall after the cutoff.
        last = n_days - (2 if story == "fix_then_rework" else 1)
        candidates = [
            (email, d, i)
            for email, days in sorted(schedules.items())
            for d, entries in enumerate(days[:last])
            for i, e in enumerate(entries)
            if len(e.segments) == 1
            and e.pair is None
            and e.segments[0][0] in _COMMON
            and counts[e.segments[0][0]] > 1
        ]
        if not candidates:
            continue
        email, d, i = rng.choice(candidates)
        counts[schedules[email][d][i].segments[0][0]] -= 1
        counts[story] += 1
        if story == "fix_then_rework":
            pair = f"{email}#cover"
            schedules[email][d][i] = _Entry([(story, "")], pair, "original")
            later = schedules[email][d + 1]
            later.insert(rng.randint(0, len(later)), _Entry([(story, "")], pair, "rework"))
        else:
            schedules[email][d][i] = _Entry([(story, "")])


# --- building -----------------------------------------------------------------------------------

_PROJECTS = {p.name: p for p in cat.PROJECTS}


def _files(task: Any) -> set[str]:
    out = set()
    for name in ("src", "test", "new_file", "doc"):
        value = getattr(task, name, None)
        if value:
            out.add(value)
    for name in ("files", "reads"):
        out.update(getattr(task, name, ()) or ())
    return out


def _without(project: cat.Project, reserved: set[str]) -> cat.Project:
    """The project minus tasks touching `reserved` files (kept when nothing else is left)."""
    if not reserved:
        return project
    changes: dict[str, Any] = {}
    for name in ("features", "bugs", "tests", "refactors", "docs", "explores", "releases", "typos"):
        tasks = getattr(project, name)
        kept = tuple(t for t in tasks if not (_files(t) & reserved))
        if kept and len(kept) != len(tasks):
            changes[name] = kept
    return dataclasses.replace(project, **changes) if changes else project


class _DeveloperBuilder:
    def __init__(self, config: DemoConfig, dev: DemoDeveloper, until: datetime) -> None:
        self.config = config
        self.dev = dev
        self.until = until
        self.rng = _rng(config.seed, "build", dev.email)
        self.n = 0
        self.sessions: list[PlannedSession] = []
        self.pair_tasks: dict[str, tuple[str, cat.BugTask]] = {}
        self.reserved: dict[str, set[str]] = {}

    def _session_id(self) -> str:
        self.n += 1
        return str(
            uuid.uuid5(_NS, f"{self.config.seed}|{self.until.date()}|{self.dev.email}|{self.n}")
        )

    def _builder(self, start: datetime, *, log_prompts: bool = True) -> st.SessionBuilder:
        models, weights = zip(*self.dev.models, strict=True)
        return st.SessionBuilder(
            persona=self.dev.identity,
            session_id=self._session_id(),
            start=start,
            model=self.rng.choices(models, weights)[0],
            rng=self.rng,
            log_prompts=log_prompts,
        )

    def _project(self) -> cat.Project:
        names = self.dev.projects
        name = names[0] if len(names) == 1 else self.rng.choices(names, (0.7, 0.3))[0]
        reserved = set().union(*self.reserved.values()) if self.reserved else set()
        return _without(_PROJECTS[name], reserved)

    def _done(self, b: st.SessionBuilder, project: str, shape: str, bundle: str | None) -> None:
        self.sessions.append(
            PlannedSession(
                developer=self.dev.email,
                session_id=b.session_id,
                start=b.events[0].time,
                end=b.end,
                project=project,
                model=b.model,
                shape=shape,
                events=b.events,
                metrics=_metric_points(b),
                arcs=b.arcs,
                bundle=bundle,
            )
        )

    def build(self, entry: _Entry, start: datetime) -> datetime:
        """Build one planned entry from `start`; returns when the developer is free again."""
        first = entry.segments[0][0]
        if first == "arc_splitting":
            return self._splitting(start)
        if first == "fix_then_rework":
            return self._rework(entry, start)
        project = self._project()
        b = self._builder(start, log_prompts=first != "no_text")
        joins = set()
        for i, (story, join) in enumerate(entry.segments):
            lead = ""
            if i > 0:
                joins.add(join)
                if join == "cue":
                    b.human(20, 120)
                    lead = self.rng.choice(cat.CUE_PREFIXES)
                else:
                    b.wait(self.rng.uniform(30 * 60, 75 * 60))
            build = st.STORIES[story].build
            assert build is not None
            build(b, project, self.rng, lead)
        shape = "+".join(
            name for name, j in (("two_goals", "cue"), ("idle_gap", "gap")) if j in joins
        )
        self._done(b, project.name, shape or "single", None)
        return b.end

    def _rework(self, entry: _Entry, start: datetime) -> datetime:
        assert entry.pair is not None
        if entry.role == "original":
            project = self._project()
            task = self.rng.choice(project.bugs)
            self.pair_tasks[entry.pair] = (project.name, task)
            self.reserved[entry.pair] = {task.src, task.test}
            b = self._builder(start)
            st.rework_original(b, project, self.rng, task, entry.pair)
        else:
            if entry.pair not in self.pair_tasks:
                return start  # the original never happened (past the end of its day)
            name, task = self.pair_tasks[entry.pair]
            self.reserved.pop(entry.pair, None)
            project = _PROJECTS[name]
            b = self._builder(start)
            st.rework_redo(b, project, self.rng, task, entry.pair)
        self._done(b, project.name, "single", None)
        return b.end

    def _splitting(self, start: datetime) -> datetime:
        project = self._project()
        bundle = f"split:{self.dev.email}:{self.n}"
        t = start
        for i in range(6):
            b = self._builder(t)
            st.splitting_session(b, project, self.rng, i)
            self._done(b, project.name, "arc_splitting", bundle)
            t = b.end + timedelta(minutes=self.rng.uniform(3.0, 6.0))
        return t


def _metric_points(b: st.SessionBuilder) -> list[dict[str, Any]]:
    """Delta sums the way Claude Code exports them: one point per series per minute; commit
    and pull-request counts right after the command, so they land in the arc that made them."""
    base = {
        "user.id": b.persona.user_id,
        "user.email": b.persona.email,
        "user.account_uuid": b.persona.account_uuid,
        "organization.id": b.persona.organization_id,
        "terminal.type": "xterm-256color",
    }
    start = b.events[0].time if b.events else b.t
    buckets: dict[tuple[int, str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
    for t, name, attrs, value in b.counters:
        if name in ("claude_code.commit.count", "claude_code.pull_request.count"):
            continue
        k = max(0, int((t - start).total_seconds() // 60))
        buckets[(k, name, tuple(sorted(attrs.items())))] += value
    units = {"claude_code.token.usage": "tokens", "claude_code.cost.usage": "USD"}
    points = []
    for (k, name, series), value in sorted(buckets.items()):
        points.append(
            {
                "name": name,
                "unit": units.get(name, ""),
                "start_time": start + timedelta(minutes=k),
                "time": start + timedelta(minutes=k + 1),
                "value": round(value, 6),
                "session_id": b.session_id,
                "attributes": {**base, **dict(series)},
            }
        )
    for t, name in b.signal_points:
        points.append(
            {
                "name": name,
                "start_time": t - timedelta(seconds=30),
                "time": t + timedelta(seconds=1),
                "value": 1.0,
                "session_id": b.session_id,
                "attributes": base,
            }
        )
    points.sort(key=lambda p: (p["time"], p["name"]))
    return points


def _day_start(rng: random.Random, dev: DemoDeveloper, day: date) -> datetime:
    minutes = dev.start_hour * 60 + rng.uniform(-25, 45)
    if day.weekday() >= 5:
        minutes += rng.uniform(60, 240)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)


def build_plan(config: DemoConfig) -> Plan:
    """The whole demo history, in memory (pure: same config, same plan)."""
    if config.developers < 1 or config.days < 1:
        raise ValueError("developers and days must be at least 1")
    until = config.resolved_until()
    last = until.date()
    days = [last - timedelta(days=config.days - 1 - i) for i in range(config.days)]
    devs = developers(config)
    schedules = {d.email: _schedule(config, d, days) for d in devs}
    _ensure_coverage(config, schedules, len(days))
    cutoff = until - CUTOFF
    sessions: list[PlannedSession] = []
    for dev in devs:
        builder = _DeveloperBuilder(config, dev, until)
        for d, day in enumerate(days):
            t = _day_start(builder.rng, dev, day)
            day_end = datetime(day.year, day.month, day.day, 19, tzinfo=UTC)
            lunch = False
            for entry in schedules[dev.email][d]:
                if t >= day_end:
                    break
                end = builder.build(entry, t)
                t = end + timedelta(minutes=builder.rng.uniform(6, 70))
                if not lunch and t.hour >= 12:
                    t += timedelta(minutes=builder.rng.uniform(30, 60))
                    lunch = True
        sessions.extend(builder.sessions)
    sessions = _cut(sessions, cutoff)
    return Plan(config, until, days[0], devs, sessions)


def _cut(sessions: list[PlannedSession], cutoff: datetime) -> list[PlannedSession]:
    """Drop what ends after the cutoff (whole bundles), then fix rework expectations."""
    late_bundles = {s.bundle for s in sessions if s.bundle and s.end > cutoff}
    kept = [s for s in sessions if s.end <= cutoff and s.bundle not in late_bundles]
    redo = {a.pair for s in kept for a in s.arcs if a.pair and a.role == "rework"}
    for s in kept:
        for a in s.arcs:
            if a.pair and a.role == "original" and a.pair not in redo:
                a.expect = dataclasses.replace(a.expect, reworked_later=None)
    kept.sort(key=lambda s: (s.developer, s.start, s.session_id))
    return kept


# --- keys ---------------------------------------------------------------------------------------


class KeySource(Protocol):
    """Makes a developer key (the secret) for a demo developer."""

    def create(self, email: str) -> str: ...


class ApiKeys:
    """Keys through the engine API (POST /v1/keys) with an admin key."""

    def __init__(self, client: httpx.Client, api_url: str, admin_key: str) -> None:
        self.client, self.api_url, self.admin_key = client, api_url.rstrip("/"), admin_key

    def create(self, email: str) -> str:
        r = self.client.post(
            f"{self.api_url}/v1/keys",
            json={"developer": email, "scope": "developer", "name": "prism demo"},
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        if r.status_code != 201:
            raise DemoError(f"POST /v1/keys answered {r.status_code}: {r.text[:200]}")
        key: str = r.json()["key"]
        return key


class LocalKeys:
    """Keys made directly in the metadata store, next to the data directory."""

    def __init__(self, store: Any, org: str) -> None:
        self.store, self.org = store, org

    def create(self, email: str) -> str:
        new = self.store.create_key(developer=email, org=self.org, name="prism demo")
        key: str = new.key
        return key


def developer_id_of(client: httpx.Client, api_url: str, key: str) -> str:
    """The key owner's developer id (GET /v1/keys with the key itself)."""
    r = client.get(f"{api_url.rstrip('/')}/v1/keys", headers={"Authorization": f"Bearer {key}"})
    if r.status_code != 200 or not r.json().get("keys"):
        raise DemoError(f"GET /v1/keys answered {r.status_code}: {r.text[:200]}")
    dev: str = r.json()["keys"][0]["developer_id"]
    return dev


# --- sending ------------------------------------------------------------------------------------


@dataclass
class SendStats:
    requests: int = 0
    events: int = 0
    metric_points: int = 0
    bytes: int = 0
    retries: int = 0
    seconds: float = 0.0


def _units(sessions: Sequence[PlannedSession]) -> list[list[PlannedSession]]:
    """Sessions grouped into exports: one per session, a bundle (arc splitting) as one."""
    units: list[list[PlannedSession]] = []
    for s in sessions:
        if s.bundle and units and units[-1][0].bundle == s.bundle:
            units[-1].append(s)
        else:
            units.append([s])
    return units


def _event_dicts(sessions: Sequence[PlannedSession], user_id: str) -> list[dict[str, Any]]:
    out = []
    for s in sessions:
        for e in s.events:
            d = {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}
            d["agent_user_id"] = user_id
            out.append(d)
    return out


def _post(
    client: httpx.Client, url: str, key: str, body: bytes, deadline: float, stats: SendStats
) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    while True:
        try:
            r = client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            if time.monotonic() > deadline:
                raise DemoError(f"cannot reach {url}: {exc}") from None
            stats.retries += 1
            time.sleep(0.5)
            continue
        if r.status_code == 200:
            return
        if r.status_code in RETRY_STATUSES and time.monotonic() < deadline:
            stats.retries += 1
            time.sleep(min(10.0, float(r.headers.get("retry-after") or 1)))
            continue
        raise DemoError(f"POST {url} answered {r.status_code}: {r.text[:200]}")


def send(
    plan: Plan,
    keys: dict[str, str],
    *,
    ingest_url: str,
    concurrency: int = 4,
    timeout_s: float = 600.0,
    progress: Callable[[int], None] | None = None,
) -> SendStats:
    """Export every session through OTLP/HTTP protobuf with its developer's key."""
    by_dev: dict[str, list[PlannedSession]] = defaultdict(list)
    for s in plan.sessions:
        by_dev[s.developer].append(s)
    identities = {d.email: d.identity for d in plan.developers}
    base = ingest_url.rstrip("/")
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()
    total = SendStats()

    def one(email: str) -> SendStats:
        stats = SendStats()
        key = keys[email]
        with httpx.Client(timeout=60.0) as client:
            for unit in _units(by_dev[email]):
                logs = logs_request(_event_dicts(unit, identities[email].user_id))
                body = logs.SerializeToString()
                _post(client, f"{base}/v1/logs", key, body, deadline, stats)
                stats.requests += 1
                stats.bytes += len(body)
                stats.events += sum(len(s.events) for s in unit)
                points = [p for s in unit for p in s.metrics]
                if points:
                    body = metrics_request(points).SerializeToString()
                    _post(client, f"{base}/v1/metrics", key, body, deadline, stats)
                    stats.requests += 1
                    stats.bytes += len(body)
                    stats.metric_points += len(points)
                if progress is not None:
                    progress(len(unit))
        return stats

    with concurrent.futures.ThreadPoolExecutor(max(1, concurrency)) as pool:
        for stats in pool.map(one, sorted(by_dev)):
            total.requests += stats.requests
            total.events += stats.events
            total.metric_points += stats.metric_points
            total.bytes += stats.bytes
            total.retries += stats.retries
    total.seconds = time.monotonic() - started
    return total


# --- the whole run ------------------------------------------------------------------------------


@dataclass
class DemoResult:
    plan: Plan
    keys: dict[str, str]
    developer_ids: dict[str, str]
    stats: SendStats
    manifest: dict[str, Any]
    manifest_path: Path | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        t = self.manifest["totals"]
        return {
            "developers": len(self.plan.developers),
            "days": self.plan.config.days,
            "seed": self.plan.config.seed,
            "from": self.plan.first_day.isoformat(),
            "until": self.plan.until.isoformat(),
            "sessions": t["sessions"],
            "arcs": t["arcs"],
            "events": t["events"],
            "metric_points": t["metric_points"],
            "requests": self.stats.requests,
            "seconds": round(self.seconds, 2),
            "events_per_second": round(self.stats.events / self.seconds) if self.seconds else None,
            "stories": t["stories"],
            "shapes": t["shapes"],
            "manifest": str(self.manifest_path) if self.manifest_path else None,
        }


def run_demo(
    config: DemoConfig,
    *,
    ingest_url: str,
    api_url: str,
    key_source: KeySource,
    manifest_path: Path | None = None,
    concurrency: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Plan, make keys, send, and write the manifest (with arc ids) next to the data."""
    started = time.monotonic()
    plan = build_plan(config)
    keys: dict[str, str] = {}
    ids: dict[str, str] = {}
    with httpx.Client(timeout=30.0) as client:
        for dev in plan.developers:
            keys[dev.email] = key_source.create(dev.email)
            ids[dev.email] = developer_id_of(client, api_url, keys[dev.email])
    stats = send(
        plan,
        keys,
        ingest_url=ingest_url,
        concurrency=concurrency or min(8, len(plan.developers)),
        progress=progress,
    )
    manifest = plan.manifest(ids)
    if manifest_path is not None:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        tmp.replace(manifest_path)
    return DemoResult(
        plan=plan,
        keys=keys,
        developer_ids=ids,
        stats=stats,
        manifest=manifest,
        manifest_path=manifest_path,
        seconds=time.monotonic() - started,
    )
