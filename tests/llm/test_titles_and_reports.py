"""LLM titles and summaries (title_source="llm", never over user_edited) and the LLM report
writer (asked in the report's language; on failure the heuristic prose stands)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from prism.insights.i18n import Choice
from prism.insights.jobs import JobSpec, ReportService
from prism.insights.report import period
from prism.insights.titles import TitleWriter, title_writer
from prism.insights.writer import LLMWriter
from prism.lake.query import Lake
from prism.llm.client import client_for
from prism.score.thresholds import ScoringConfig
from prism.store.models import InsightReport, LlmUsage, SubSession
from tests.api.test_score_v3_api import NOW
from tests.insights.conftest import World, build_world
from tests.llm.conftest import llm_settings
from tests.llm.standins import REPORT_ANSWER, TITLE_ANSWER, StandIn


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(tmp_path_factory.mktemp("llm_world"))


def test_titles_by_llm_never_overwrite_user_edits(
    world: World, standin: Callable[..., StandIn], tmp_path: Path
) -> None:
    s = standin("ok")
    settings = llm_settings(tmp_path, "openai", s)
    bug_sid = world.stories["bug"]
    with world.sessions() as sess:
        bug = sess.scalars(select(SubSession).where(SubSession.claude_session_id == bug_sid)).one()
    r = world.call("PATCH", f"/v1/score_v3/sub-sessions/{bug.id}", json={"title": "My own title"})
    assert r.status_code == 200
    writer = title_writer(settings, world.sessions, Lake(world.storage))
    assert isinstance(writer, TitleWriter)
    n = writer.run_once(limit=100)
    with world.sessions() as sess:
        rows = sess.scalars(
            select(SubSession).where(SubSession.status == "scored", SubSession.qualifying.is_(True))
        ).all()
    by_source = {r.id: r for r in rows}
    assert by_source[bug.id].title == "My own title"
    assert by_source[bug.id].title_source == "user_edited"
    llm = [r for r in rows if r.title_source == "llm"]
    assert n == len(llm) == len(rows) - 1
    assert all(
        r.title == TITLE_ANSWER["title"] and r.summary == TITLE_ANSWER["summary"] for r in llm
    )
    assert writer.run_once() == 0  # nothing left to title
    # the sessionizer (and a re-judge) keep the LLM's title and summary
    world.sessionize()
    r = world.call(
        "POST",
        "/v1/score_v3/insight/backfill",
        who="admin",
        json={"from": "2026-11-01T00:00:00Z", "to": "2026-11-18T00:00:00Z", "judge": "heuristic"},
    )
    assert r.status_code == 200 and r.json()["rejudged"] > 0
    with world.sessions() as sess:
        again = {r.id: r for r in sess.scalars(select(SubSession)).all()}
    assert all(again[r.id].title_source == "llm" for r in llm)
    assert all(again[r.id].summary == TITLE_ANSWER["summary"] for r in llm)
    assert again[bug.id].title == "My own title"
    summary = world.get("/v1/insights/sessions/summary", session_id=world.stories["feature"]).json()
    assert summary["summary_source"] == "llm" and summary["summary"] == TITLE_ANSWER["summary"]


def test_failed_titles_are_not_retried_until_the_arc_changes(
    world: World, standin: Callable[..., StandIn], tmp_path: Path
) -> None:
    s = standin("invalid_json")
    settings = llm_settings(tmp_path, "anthropic", s)
    writer = TitleWriter(
        sessions=world.sessions,
        lake=Lake(world.storage),
        client=client_for(settings, "titles"),
        config=ScoringConfig(),
    )
    with world.sessions.begin() as sess:
        row = sess.scalars(select(SubSession).where(SubSession.title_source == "llm")).first()
        assert row is not None
        row.title_source = "heuristic"
    assert writer.run_once() == 0 and writer.stats.failed == 1
    assert writer.run_once() == 0 and len(s.requests) == 1


def _spec(w: World, language: str) -> JobSpec:
    return JobSpec(
        family="v3",
        scope="personal",
        org_id=w.org_id,
        developer_id=w.alice,
        requested_by=w.alice,
        choice=Choice(language, language, False),
        period=period("weekly", None, None, now=NOW, tz="UTC"),
    )


def _service(w: World, writer: LLMWriter) -> ReportService:
    return ReportService(
        settings=w.settings,
        sessions=w.sessions,
        lake=Lake(w.storage),
        reader=w.reader,
        writer_factory=lambda: writer,
    )


def test_llm_report_writer_is_asked_in_the_language(
    world: World, standin: Callable[..., StandIn], tmp_path: Path
) -> None:
    s = standin("ok")
    settings = llm_settings(tmp_path, "anthropic", s)
    svc = _service(world, LLMWriter(client_for(settings, "reports", sessions=world.sessions)))
    report = svc.generate(_spec(world, "fr"))
    svc.close()
    assert report["writer"]["name"] == "llm:anthropic" and report["writer"]["status"] == "judged"
    assert report["headline"] == REPORT_ANSWER["headline"]
    assert report["markdown"].count(REPORT_ANSWER["headline"]) == 1
    assert "## Chiffres clés" in report["markdown"]  # tables stay from the catalogs
    assert report["llm_usage"]["input_tokens"] == 1200 and report["llm_usage"]["cost_usd"] > 0
    system = s.requests[0]["body"]["system"]
    assert "French" in system and "fr" in system
    figures = s.requests[0]["body"]["messages"][0]["content"]
    assert '"prism_score"' in figures and "60.0" in figures
    with world.sessions() as sess:
        row = sess.get(InsightReport, report["id"])
        assert row is not None and row.llm_input_tokens == 1200 and row.llm_cost_micro_usd > 0
        usage = sess.scalars(select(LlmUsage).where(LlmUsage.ref == report["id"])).one()
    assert (usage.task, usage.outcome) == ("reports", "ok")


def test_llm_report_writer_failure_keeps_the_heuristic_prose(
    world: World, standin: Callable[..., StandIn], tmp_path: Path
) -> None:
    s = standin("refusal")
    settings = llm_settings(tmp_path, "openai", s)
    svc = _service(world, LLMWriter(client_for(settings, "reports")))
    report = svc.generate(_spec(world, "de"))
    svc.close()
    assert report["writer"]["status"] == "failed"
    assert report["writer"]["note"].startswith("refusal:")
    assert report["headline"].startswith("Sie haben 3 von 5 Zielen erreicht")
