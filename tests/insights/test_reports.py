"""Both report families over the demo-like world: languages, numbers, jobs, history."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from prism.insights.i18n import Localizer, negotiate
from prism.insights.jobs import ReportService
from tests.insights.conftest import World

V3 = "/v1/score_v3/report"
V2 = "/v1/insights/report"
# A heading and a sentence start that only that language's catalog produces.
IN_LANGUAGE = {
    "en": ("## Key figures", "## Where time, tokens and cost went", "You crushed"),
    "fr": (
        "## Chiffres clés",
        "## Où sont allés le temps, les jetons et le coût",
        "Vous avez réussi",
    ),
    "de": ("## Kennzahlen", "## Wohin Zeit, Tokens und Kosten gingen", "Sie haben"),
    "es": ("## Cifras clave", "## A dónde fueron el tiempo, los tokens y el coste", "Lograste"),
    "ja": ("## 主要な数値", "## 時間・トークン・コストの内訳", "件の目標を達成しました"),
    "zh": ("## 关键数据", "## 时间、令牌和成本的去向", "你达成了"),
}
REPORT_KEYS = {
    "id",
    "status",
    "family",
    "scope",
    "language",
    "requested_language",
    "language_fallback",
    "language_note",
    "generated_at",
    "window",
    "previous_window",
    "writer",
    "llm_usage",
    "headline",
    "summary",
    "advice",
    "kpis",
    "top_crushed",
    "breakdown",
    "rubric",
    "trivia",
    "integrity",
    "worst_prompts",
    "markdown",
}


def generate(w: World, base: str = V3, lang: str | None = None, **params: Any) -> Any:
    headers = {"accept-language": lang} if lang else {}
    return w.call("POST", f"{base}/generate", params=params, headers=headers)


def kpis(report: dict[str, Any]) -> dict[str, Any]:
    return {k["key"]: k for k in report["kpis"]}


@pytest.mark.parametrize("lang", sorted(IN_LANGUAGE))
def test_v3_report_in_every_language_carries_the_score_endpoints_numbers(
    world: World, lang: str
) -> None:
    r = generate(world, lang=f"{lang}-XX,{lang};q=0.9,en;q=0.5")
    assert r.status_code == 200, r.text
    report = r.json()
    assert set(report) >= REPORT_KEYS
    assert (report["language"], report["language_fallback"]) == (lang, False)
    md = report["markdown"]
    for text in IN_LANGUAGE[lang]:
        assert text in md, (lang, text)
    if lang != "en":
        assert "## Key figures" not in md and "Top crushed goals" not in md
    score = world.get("/v1/score_v3/score").json()
    speed = world.get("/v1/score_v3/speed").json()
    skill = world.get("/v1/score_v3/skill").json()
    k = kpis(report)
    assert k["prism_score"]["value"] == score["prism_score"] == 60.0
    assert (k["crushed_count"]["value"], k["total_count"]["value"]) == (3, 5)
    assert k["crush_weight"]["value"] == score["crush_weight"]
    assert k["cspw"]["value"] == speed["cspw"]
    assert k["ttc_median_seconds"]["value"] == speed["ttc_median_seconds"]
    assert k["apg"]["value"] == skill["apg"]
    # previous week: sparkline's third point
    assert k["prism_score"]["previous"] == score["sparkline"][2] == 75.0
    assert k["prism_score"]["change"] == -15.0
    loc = Localizer(lang)
    assert f"| {loc.number(60.0, 1)} | {loc.number(75.0, 1)} |" in md
    assert report["rubric"]["worst_pillar"] == skill["worst_pillar"]
    assert report["writer"] == {
        "name": "heuristic",
        "version": "1.0.0",
        "status": "heuristic",
        "note": None,
    }


def test_v2_report_carries_the_intelligence_numbers(world: World) -> None:
    report = generate(world, V2, "de").json()
    assert report["family"] == "v2"
    intel = world.get("/v1/intelligence/score").json()
    k = kpis(report)
    for key in ("composite", "speed", "skill", "efficiency"):
        assert k[key]["value"] == intel[key], key
    for key in ("sse", "pes", "ie", "crr", "fc"):
        assert k[key]["value"] == intel["components"][key], key
    assert "## Kennzahlen" in report["markdown"] and "Gesamtwert" in report["markdown"]


def test_unknown_language_falls_back_to_english_and_says_so(world: World) -> None:
    report = generate(world, lang="ko-KR,ko;q=0.9").json()
    assert report["language"] == "en"
    assert report["language_fallback"] is True
    assert "ko-KR" in report["language_note"] and "English" in report["language_note"]
    assert report["markdown"].count(report["language_note"]) == 1
    assert "## Key figures" in report["markdown"]
    assert negotiate(None).fallback is False and negotiate("*").language == "en"
    assert negotiate("de;q=0.1, ja;q=0.8").language == "ja"
    assert negotiate("zh-Hans-CN").language == "zh"


def test_report_sections(world: World) -> None:
    report = generate(world).json()
    assert report["window"]["kind"] == "weekly"
    assert report["window"]["from"].startswith("2026-11-16")
    titles = [a["title"] for a in report["top_crushed"]]
    assert "Add health endpoint" in titles and len(titles) == 3
    models = {m["model"]: m for m in report["breakdown"]["by_model"]}
    assert set(models) == {"claude-sonnet-4-5", "claude-haiku-4-5"}
    assert (
        models["claude-sonnet-4-5"]["requests"] > 0 and models["claude-sonnet-4-5"]["cost_usd"] > 0
    )
    intents = {i["intent_class"]: i for i in report["breakdown"]["by_intent"]}
    assert intents["feature"]["crushed"] == 2 and intents["bugfix"]["arcs"] == 2
    assert intents["trivia"]["arcs"] == 1
    assert report["trivia"] == {
        "total": 1,
        "by_reason": {"no_prompts": 0, "too_short": 0, "no_work": 1, "errors_only": 0},
    }
    worst = report["worst_prompts"]
    assert worst and all(p["grade"] <= worst[-1]["grade"] for p in worst)
    texts = [p["prompt"] for p in worst]
    assert "great" not in texts and "thanks, works now" not in texts  # approvals are not graded
    for p in worst:
        assert p["missing"] == [a["boolean"] for a in p["advice"]]
        assert all(a["advice"] for a in p["advice"])
    assert report["advice"]


def test_explicit_period_and_scope_tag(world: World) -> None:
    r = generate(
        world,
        scope="team:payments",
        **{"from": "2026-11-09T00:00:00Z", "to": "2026-11-16T00:00:00Z"},
    )
    report = r.json()
    assert report["scope"] == "team:payments" and report["window"]["kind"] == "custom"
    assert kpis(report)["prism_score"]["value"] == 75.0  # the previous calendar week
    assert kpis(report)["prism_score"]["previous"] == 0.0
    hist = world.get(f"{V3}/history", scope="team:payments").json()["reports"]
    assert [h["id"] for h in hist] == [report["id"]]
    assert world.get(f"{V3}", scope="team:payments").json()["id"] == report["id"]


def test_latest_get_history_and_delete(fresh: World) -> None:
    assert fresh.get(V3).status_code == 404
    first = generate(fresh).json()
    second = generate(fresh, lang="ja").json()
    latest = fresh.get(V3).json()
    assert latest["id"] == second["id"] and latest["markdown"] == second["markdown"]
    hist = fresh.get(f"{V3}/history").json()
    assert [h["id"] for h in hist["reports"]] == [second["id"], first["id"]]
    assert fresh.get(f"{V3}/history", limit=1).json()["reports"][0]["id"] == second["id"]
    got = fresh.get(f"{V3}/{first['id']}").json()
    assert got["id"] == first["id"] and got["kpis"] == first["kpis"]
    # families are separate, and other developers see nothing
    assert fresh.get(f"{V2}/{first['id']}").status_code == 404
    assert fresh.get(f"{V3}/{first['id']}", who="bob").status_code == 404
    assert fresh.call("DELETE", f"{V3}/{first['id']}", who="bob").status_code == 404
    r = fresh.call("DELETE", f"{V3}/{first['id']}")
    assert r.status_code == 200 and r.json() == {"id": first["id"], "deleted": True}
    assert fresh.get(f"{V3}/{first['id']}").status_code == 404
    assert [h["id"] for h in fresh.get(f"{V3}/history").json()["reports"]] == [second["id"]]
    assert fresh.call("DELETE", f"{V3}/{first['id']}").status_code == 404


def test_async_generation_polls_to_completion(fresh: World) -> None:
    assert fresh.get(f"{V2}/pending").status_code == 204
    r = generate(fresh, V2, "es", **{"async": "true"})
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"id", "status"} and body["status"] == "pending"
    fresh.reports.wait(body["id"], timeout=30)
    status = fresh.get(f"{V2}/status/{body['id']}").json()
    assert status["status"] == "completed" and status["progress"] == 1.0
    report = fresh.get(f"{V2}/{body['id']}").json()
    assert report["language"] == "es" and "## Cifras clave" in report["markdown"]
    assert fresh.get(f"{V2}/pending").status_code == 204


def test_cancel_stops_the_work_and_leaves_nothing_in_history(fresh: World) -> None:
    svc: ReportService = fresh.reports
    reached, gate = threading.Event(), threading.Event()
    steps: list[str] = []

    def hook(rid: str, step: str) -> None:
        steps.append(step)
        if step == "usage":  # mid-way: arcs and KPIs done, the lake query next
            reached.set()
            gate.wait(timeout=10)

    svc.step_hook = hook
    try:
        rid = generate(fresh, **{"async": "true"}).json()["id"]
        assert reached.wait(timeout=10)
        pending = fresh.get(f"{V3}/pending").json()
        assert (pending["id"], pending["status"], pending["step"]) == (rid, "running", "top")
        started = time.monotonic()
        r = fresh.call("POST", f"{V3}/cancel/{rid}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        gate.set()
        svc.wait(rid, timeout=1.0)
        elapsed = time.monotonic() - started
    finally:
        gate.set()
        svc.step_hook = None
    assert elapsed < 1.0
    assert rid not in svc.futures  # the job's thread is done
    assert steps[-1] == "usage"  # nothing ran after the cancel
    again = fresh.call("POST", f"{V3}/cancel/{rid}").json()  # idempotent
    assert again["status"] == "cancelled" and again["finished_at"] is not None
    assert fresh.get(f"{V3}/status/{rid}").json()["status"] == "cancelled"
    assert fresh.get(f"{V3}/pending").status_code == 204
    assert fresh.get(f"{V3}/history").json() == {"reports": []}
    assert fresh.get(f"{V3}/{rid}").status_code == 404
    assert fresh.get(V3).status_code == 404
    # events: started, then failed (cancelled), never completed
    from sqlalchemy import select

    from prism.store.models import InsightReport, StreamEvent

    with fresh.sessions() as s:
        row = s.get(InsightReport, rid)
        assert row is not None and row.content is None and row.markdown is None
        types = [
            e.type
            for e in s.scalars(select(StreamEvent).order_by(StreamEvent.id))
            if e.data.get("report_id") == rid
        ]
    assert types == ["report.started", "report.failed"]


def test_completed_reports_publish_events(fresh: World) -> None:
    from sqlalchemy import select

    from prism.store.models import StreamEvent

    rid = generate(fresh).json()["id"]
    with fresh.sessions() as s:
        events = [
            e
            for e in s.scalars(select(StreamEvent).order_by(StreamEvent.id))
            if e.data.get("report_id") == rid
        ]
    assert [e.type for e in events] == ["report.started", "report.completed"]
    assert events[1].data["scope"] == "personal" and events[1].developer_id == fresh.alice


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/generate", {"from": "yesterday"}),
        ("/generate", {"window": "yearly"}),
        ("/generate", {"from": "2026-11-10T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
        ("/generate", {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        ("/generate", {"scope": "  "}),
        ("/history", {"limit": 0}),
        ("", {"to": "nope"}),
    ],
)
def test_bad_parameters_are_400(world: World, path: str, params: dict[str, Any]) -> None:
    method = "POST" if path == "/generate" else "GET"
    r = world.call(method, V3 + path, params=params)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"code", "message"}


def test_no_key_is_401(world: World) -> None:
    assert world.client.post(f"{V3}/generate").status_code == 401
    assert world.client.get(f"{V2}/history").status_code == 401


def test_admin_generates_for_a_developer_of_the_org(world: World) -> None:
    r = world.call("POST", f"{V3}/generate", who="admin", params={"user_id": "bob@example.com"})
    assert r.status_code == 200
    assert kpis(r.json())["crushed_count"]["value"] == 1
    assert r.json()["developer_id"] == world.bob
    forbidden = world.call(
        "POST", f"{V3}/generate", who="bob", params={"user_id": "alice@example.com"}
    )
    assert forbidden.status_code == 404
