"""Calendar windows and window metrics (scoring.md "Window metrics" and "v2.1")."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from prism.errors import BadRequest
from prism.judge.heuristic import judge_arcs
from prism.score import metrics as m
from prism.score.metrics import ScoredArc, window_report
from prism.score.thresholds import RUBRIC_BOOLEANS, ScoringConfig
from prism.score.windows import (
    last_windows,
    parse_kind,
    previous,
    window_at,
    working_days_elapsed,
)
from prism.sessions.arcs import build_arcs
from tests.unit import scenarios as sc

WED = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday


# --- windows -------------------------------------------------------------------------------------


def test_weekly_window_starts_on_monday_in_the_developer_zone() -> None:
    w = window_at("weekly", datetime(2026, 11, 22, 12, 0, tzinfo=UTC))  # a Sunday
    assert w.start == datetime(2026, 11, 16, tzinfo=ZoneInfo("UTC"))
    assert w.end - w.start == timedelta(days=7)
    assert w.label == "2026-W47"
    # 23:30 UTC on Sunday is already Monday in Paris: the next week there.
    paris = window_at("weekly", datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "Europe/Paris")
    assert paris.start.date().isoformat() == "2026-11-23"
    assert paris.contains(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))


def test_daily_window_across_dst_is_23_hours() -> None:
    w = window_at("daily", datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Berlin")
    assert w.end_utc - w.start_utc == timedelta(hours=23)
    assert w.contains(datetime(2026, 3, 29, 21, 59, tzinfo=UTC))
    assert not w.contains(datetime(2026, 3, 29, 22, 0, tzinfo=UTC))


def test_monthly_and_previous_windows() -> None:
    dec = window_at("monthly", datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    assert (dec.start.month, dec.end.year, dec.end.month) == (12, 2027, 1)
    assert dec.label == "2026-12"
    assert previous(dec).label == "2026-11"
    weeks = last_windows("weekly", WED, "UTC", 4)
    assert [w.label for w in weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert all(a.end == b.start for a, b in itertools.pairwise(weeks))


def test_working_days_elapsed() -> None:
    week = window_at("weekly", WED)
    assert working_days_elapsed(week, WED) == 3
    assert working_days_elapsed(previous(week), WED) == 5
    saturday = window_at("daily", datetime(2026, 11, 21, 10, tzinfo=UTC))
    assert working_days_elapsed(saturday, datetime(2026, 11, 21, 11, tzinfo=UTC)) == 1
    nov = window_at("monthly", WED)
    assert working_days_elapsed(nov, datetime(2026, 12, 5, tzinfo=UTC)) == 21


def test_window_kind_parameter() -> None:
    assert parse_kind(None) == "weekly"
    assert parse_kind("daily") == "daily"
    with pytest.raises(BadRequest):
        parse_kind("yearly")


# --- metrics on hand-made arcs -------------------------------------------------------------------


def arc(n: int, *, crushed: bool = False, qualifying: bool = True, **kw: Any) -> ScoredArc:
    start = kw.pop("start", WED - timedelta(hours=n + 1))
    base: dict[str, Any] = {
        "arc_id": f"arc-{n}",
        "started_at": start,
        "ended_at": start + timedelta(seconds=kw.pop("seconds", 600)),
        "qualifying": qualifying,
        "crushed": crushed and qualifying,
        "outcome": "goal_complete" if crushed else kw.pop("outcome", "partial"),
        "prompt_count": 2,
        "input_tokens": 1000,
        "output_tokens": 500,
        "cache_read_tokens": 9000,
        "cache_write_tokens": 500,
        "cost_micro_usd": 250_000,
        "trivia_reason": None if qualifying else "no_work",
    }
    base.update(kw)
    return ScoredArc(**base)


def test_headline_numbers() -> None:
    arcs = [arc(i, crushed=i < 5) for i in range(8)] + [arc(9, qualifying=False)]
    s = m.score_stats(arcs)
    assert (s.crushed_count, s.total_count, s.prism_score) == (5, 8, 62.5)
    assert (s.letter_grade, s.personal_tier) == ("B", "scaling")
    assert s.crush_weight == pytest.approx(5 / 8)
    assert m.prism_score([arc(1, qualifying=False)]) is None
    assert m.prism_score([arc(1, crushed=True), arc(2), arc(3)]) == 33.3


@pytest.mark.parametrize(
    ("score", "total", "tier", "letter"),
    [
        (100.0, 2, "warming_up", "A"),
        (10.0, 3, "exploring", "F"),
        (40.0, 5, "building", "C"),
        (60.0, 5, "scaling", "B"),
        (80.0, 5, "crushing", "A"),
        (20.0, 5, "exploring", "D"),
    ],
)
def test_tiers_and_letters(score: float, total: int, tier: str, letter: str) -> None:
    cfg = ScoringConfig()
    assert m.personal_tier(score, total, cfg) == tier
    assert cfg.score_letter(score) == letter


def test_crush_weight_counts_billed_tokens_only() -> None:
    big = arc(1, crushed=True, input_tokens=9000, output_tokens=1000, cache_write_tokens=0,
              cache_read_tokens=10**7)  # fmt: skip
    small = arc(2, input_tokens=1000, output_tokens=0, cache_write_tokens=0)
    assert m.crush_weight([big, small]) == pytest.approx(10_000 / 11_000)


def test_speed() -> None:
    week = window_at("weekly", WED)
    arcs = [arc(1, crushed=True, seconds=600), arc(2, crushed=True, seconds=1800), arc(3)]
    assert m.cspw(arcs, week, WED) == pytest.approx(2 / 3)
    assert m.ttc_median_seconds(arcs) == 1200.0
    assert m.ttc_median_seconds([arc(3)]) is None


def test_tokens() -> None:
    arcs = [arc(1, crushed=True), arc(2, crushed=True), arc(3), arc(4, qualifying=False)]
    assert m.tpt(arcs) == pytest.approx(3 * 2000 / 2)
    assert m.cpcs_estimate(arcs) == pytest.approx(0.75 / 2)
    assert m.breakdown(arcs) == {
        "input": 3000,
        "output": 1500,
        "cache_read": 27000,
        "cache_write": 1500,
    }
    assert m.tet(3000.0, [6000.0, None, 3000.0, 4500.0]) == pytest.approx(1.5)
    assert m.tet(None, [1.0]) is None and m.tet(10.0, [None]) is None


def test_skill() -> None:
    applies = {k: k not in ("root_cause_oriented",) for k in RUBRIC_BOOLEANS}
    a = arc(1, grade=1.0, booleans=dict.fromkeys(RUBRIC_BOOLEANS, True), applicability=applies)
    b_vals = dict.fromkeys(RUBRIC_BOOLEANS, True) | {"plan_first": False}
    b = arc(2, grade=0.5, booleans=b_vals, applicability=applies)
    c = arc(3, grade=None)  # no prompt text: not graded
    assert m.apg([a, b, c]) == 0.75
    shares = m.per_boolean([a, b, c])
    assert shares["plan_first"] == 0.5 and shares["goal_explicit"] == 1.0
    assert shares["root_cause_oriented"] is None
    assert m.worst_pillar(shares) == "plan_first"
    assert m.worst_pillar(dict.fromkeys(RUBRIC_BOOLEANS)) is None


def test_trivia_and_integrity_counts() -> None:
    arcs = [
        arc(1, qualifying=False, trivia_reason="too_short"),
        arc(2, qualifying=False, trivia_reason="too_short", flags=("tiny_prompt_burst",)),
        arc(3, flags=("auto_retry_storm", "self_grading")),
        arc(4, flags=("auto_retry_storm",)),
    ]
    assert m.trivia_counts(arcs) == {
        "no_prompts": 0,
        "too_short": 2,
        "no_work": 0,
        "errors_only": 0,
    }
    assert m.integrity_by_kind(arcs) == [
        {"kind": "auto_retry_storm", "count": 2},
        {"kind": "tiny_prompt_burst", "count": 1},
        {"kind": "self_grading", "count": 1},
    ]


def test_legacy_composite() -> None:
    done1 = arc(1, crushed=True, prompt_count=2, grade=0.8)
    done2 = arc(2, crushed=True, prompt_count=6, grade=0.6, reworked_later=True,
                has_correction_after_first=True)  # fmt: skip
    failed = arc(3, outcome="failed", prompt_count=3, grade=0.4)
    lg = m.legacy([done1, done2, failed], ttc_seconds=3600.0, tet_value=2.0)
    assert lg.sse == pytest.approx(2 / 3)
    assert lg.pes == pytest.approx(0.6)
    assert lg.ie == pytest.approx(0.5)  # 2 / mean(2, 6)
    assert lg.crr == 0.5 and lg.fc == 0.5
    assert lg.speed == pytest.approx(100 * (0.5 + 0.5) / 2)  # min(1, 1800/3600) = .5
    assert lg.skill == pytest.approx(100 * (0.6 + 0.5) / 2)
    assert lg.efficiency == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert lg.composite == pytest.approx((50 + 55 + 75) / 3)
    empty = m.legacy([], ttc_seconds=None, tet_value=None)
    assert empty.composite is None


# --- one window, every metric --------------------------------------------------------------------


def test_window_report_over_weeks() -> None:
    now = WED
    this_week = [arc(i, crushed=i < 3) for i in range(4)]  # 3 of 4, this week
    last_week = [
        arc(10 + i, crushed=i < 1, start=now - timedelta(days=7, hours=i)) for i in range(2)
    ]
    old = [arc(20, crushed=True, start=now - timedelta(days=21))]
    r = window_report(this_week + last_week + old, "weekly", now, "UTC")
    assert r.score.prism_score == 75.0
    assert r.sparklines["prism_score"] == [100.0, None, 50.0, 75.0]
    assert len(r.sparklines["cspw"]) == 4
    assert r.speed.cspw == pytest.approx(1.0)  # 3 crushed / 3 working days
    assert r.speed.delta_cspw == pytest.approx(1.0 - 1 / 5)
    # tpt: this week 8000 / 3; baseline: median of earlier tpts (4000/1, none, 2000/1).
    assert r.tokens.tpt == pytest.approx(8000 / 3)
    assert r.tokens.tet == pytest.approx(3000 / (8000 / 3))
    d = r.as_dict()
    assert d["score"]["crushed_count"] == 3 and d["score"]["total_count"] == 4
    assert d["score"]["letter_grade"] == "B" and d["score"]["personal_tier"] == "scaling"
    assert set(d) >= {"score", "speed", "tokens", "skill", "trivia", "integrity", "v2"}
    assert d["integrity"]["by_kind"] == []
    assert m.history_start("weekly", now) == now.replace(hour=0) - timedelta(days=2 + 28)


def test_window_report_from_the_scenario_library() -> None:
    events = (
        sc.feature_crushed()
        + sc.bug_failed(start=sc.MONDAY + timedelta(hours=1))
        + sc.question_trivia(start=sc.MONDAY + timedelta(hours=2))
        + sc.retry_storm(start=sc.MONDAY + timedelta(hours=3))
        + sc.self_grading(start=sc.MONDAY + timedelta(hours=4))
        + sc.tiny_burst(start=sc.MONDAY + timedelta(hours=5))
    )
    now = sc.MONDAY + timedelta(days=2)
    verdicts = judge_arcs(build_arcs(events), now=now)
    scored = [ScoredArc.from_verdict(v) for v in verdicts]
    r = window_report(scored, "weekly", now, "UTC")
    # qualifying: feature, bug, storm, self-grading, tiny = 5; crushed: feature, tiny = 2
    assert (r.score.total_count, r.score.crushed_count, r.score.prism_score) == (5, 2, 40.0)
    assert r.score.letter_grade == "C" and r.score.personal_tier == "building"
    assert r.trivia["no_work"] == 1
    assert {d["kind"]: d["count"] for d in r.integrity} == {
        "auto_retry_storm": 1,
        "tiny_prompt_burst": 1,
        "self_grading": 1,
    }
    assert r.speed.cspw == pytest.approx(2 / 3)  # Monday..Wednesday
    assert r.legacy.sse == pytest.approx(4 / 5)  # everything but the failed bug completed
    assert r.skill.apg is not None and 0 < r.skill.apg <= 1
