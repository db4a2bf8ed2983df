"""The demo as an end-to-end check: judged verdicts against the stories' intended verdicts.

Verdicts are read through the API with each developer's own key
(`/v1/score_v3/realtime/sub-sessions` and `/v1/score_v3/integrity/recent`), or built in memory
from a judge's `ArcVerdict`s (`verdict_dict`), so the same comparison serves the e2e test, the
unit test of the generator and `prism demo --check`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from prism.judge.base import ArcVerdict

SUB_SESSIONS_LIMIT = 1000
FLAGS_LIMIT = 500


@dataclass
class StoryScore:
    arcs: int = 0
    matched: int = 0
    clear_cut: bool = True


@dataclass
class CheckReport:
    total: int = 0
    matched: int = 0
    clear_total: int = 0
    clear_matched: int = 0
    missing: int = 0
    by_story: dict[str, StoryScore] = field(default_factory=dict)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else 1.0

    @property
    def clear_rate(self) -> float:
        return self.clear_matched / self.clear_total if self.clear_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "arcs": self.total,
            "matched": self.matched,
            "match_rate": round(self.rate, 4),
            "clear_cut_arcs": self.clear_total,
            "clear_cut_matched": self.clear_matched,
            "clear_cut_match_rate": round(self.clear_rate, 4),
            "missing": self.missing,
            "by_story": {
                k: {"arcs": v.arcs, "matched": v.matched, "clear_cut": v.clear_cut}
                for k, v in sorted(self.by_story.items())
            },
            "mismatches": self.mismatches[:50],
        }


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
    """Expected fields the verdict does not meet: {field: [expected, actual]}."""
    out: dict[str, Any] = {}
    for name, want in expected.items():
        if name == "flags":
            have = sorted(actual.get("flags") or [])
            if not set(want) <= set(have):
                out[name] = [want, have]
        elif actual.get(name) != want:
            out[name] = [want, actual.get(name)]
    return out


def compare(manifest: Mapping[str, Any], verdicts: Mapping[str, Mapping[str, Any]]) -> CheckReport:
    """Match every manifest arc (by `arc_id`) with its verdict."""
    report = CheckReport()
    for entry in manifest["arcs"]:
        story = entry["story"]
        score = report.by_story.setdefault(story, StoryScore(clear_cut=entry["clear_cut"]))
        score.clear_cut = score.clear_cut and entry["clear_cut"]
        report.total += 1
        score.arcs += 1
        if entry["clear_cut"]:
            report.clear_total += 1
        actual = verdicts.get(entry.get("arc_id", ""))
        if actual is None:
            report.missing += 1
            diff: dict[str, Any] = {"arc": ["scored", "missing"]}
        else:
            diff = differences(entry["expected"], actual)
        if diff:
            report.mismatches.append(
                {
                    "story": story,
                    "role": entry["role"],
                    "developer": entry["developer"],
                    "session_id": entry["session_id"],
                    "arc_id": entry.get("arc_id"),
                    "clear_cut": entry["clear_cut"],
                    "diff": diff,
                }
            )
            continue
        report.matched += 1
        score.matched += 1
        if entry["clear_cut"]:
            report.clear_matched += 1
    return report


def verdict_dict(v: ArcVerdict) -> dict[str, Any]:
    """An in-memory verdict in the shape the API returns."""
    return {
        "id": v.arc_id,
        "status": "scored",
        "qualifying": v.substance.passed,
        "trivia_reason": v.substance.reason,
        "outcome": v.outcome.label,
        "crushed": v.crushed,
        "is_rework": v.rework.is_rework,
        "reworked_later": v.rework.reworked_later,
        "judge_status": v.rubric.judge_status,
        "intent_class": v.rubric.intent_class,
        "flags": sorted({f.kind for f in v.flags}),
    }


def fetch_verdicts(client: httpx.Client, api_url: str, key: str) -> dict[str, dict[str, Any]]:
    """One developer's scored sub-sessions (newest 1,000) with their flag kinds."""
    base = api_url.rstrip("/") + "/v1/score_v3"
    headers = {"Authorization": f"Bearer {key}"}
    r = client.get(
        f"{base}/realtime/sub-sessions", params={"limit": SUB_SESSIONS_LIMIT}, headers=headers
    )
    r.raise_for_status()
    items = {i["id"]: dict(i) for i in r.json() if i.get("status") == "scored"}
    r = client.get(f"{base}/integrity/recent", params={"limit": FLAGS_LIMIT}, headers=headers)
    r.raise_for_status()
    flags: dict[str, set[str]] = defaultdict(set)
    for f in r.json():
        flags[f["score_v3_sub_session_id"]].add(f["kind"])
    for arc_id, item in items.items():
        item["flags"] = sorted(flags.get(arc_id, ()))
    return items


def wait_for_verdicts(
    manifest: Mapping[str, Any],
    keys: Mapping[str, str],
    api_url: str,
    *,
    timeout_s: float = 120.0,
    poll_s: float = 0.5,
) -> dict[str, dict[str, Any]]:
    """Poll until every manifest arc is scored (or the deadline passes); return the verdicts."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for entry in manifest["arcs"]:
        if entry.get("arc_id"):
            wanted[entry["developer"]].add(entry["arc_id"])
    deadline = time.monotonic() + timeout_s
    verdicts: dict[str, dict[str, Any]] = {}
    pending = set(wanted)
    with httpx.Client(timeout=30.0) as client:
        while True:
            for email in sorted(pending):
                try:
                    got = fetch_verdicts(client, api_url, keys[email])
                except httpx.HTTPStatusError as exc:
                    if exc.response.status_code != 429:
                        raise
                    time.sleep(min(5.0, float(exc.response.headers.get("retry-after") or 1)))
                    continue
                verdicts.update(got)
                if wanted[email] <= set(got):
                    pending.discard(email)
            if not pending or time.monotonic() > deadline:
                return verdicts
            time.sleep(poll_s)


def judge_in_memory(events: Iterable[Any], signals: Iterable[Any] = ()) -> dict[str, Any]:
    """Sessionize and judge events with the default heuristic judge, far in the future (every
    arc closed); verdicts keyed by arc id."""
    from datetime import UTC, datetime

    from prism.judge.heuristic import judge_arcs
    from prism.sessions.arcs import build_arcs

    arcs = build_arcs(events, signals)
    now = datetime(2999, 1, 1, tzinfo=UTC)
    return {v.arc_id: verdict_dict(v) for v in judge_arcs(arcs, now=now)}
