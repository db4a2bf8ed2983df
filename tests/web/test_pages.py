"""Every dashboard page in-process over the scenario world: it renders, and every number it
prints (its `data-value`) is the API's, for each window."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_score_v3_api import World, build_world
from tests.web.support import flatten, page_arc_ids, page_csrf, page_metrics

WINDOWS = ("daily", "weekly", "monthly")
PAGES = (
    "/dashboard/",
    "/dashboard/speed",
    "/dashboard/tokens",
    "/dashboard/skill",
    "/dashboard/sessions",
    "/dashboard/trivia",
    "/dashboard/integrity",
    "/dashboard/reports",
    "/dashboard/start",
    "/dashboard/settings",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(tmp_path_factory.mktemp("web_pages"))


@pytest.fixture(scope="module")
def signed_in(world: World) -> World:
    c = world.client
    token = page_csrf(c.get("/login").text)
    r = c.post(
        "/login",
        data={"api_key": world.keys["alice"], "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return world


def page(w: World, path: str, **params: Any) -> str:
    r = w.client.get(path, params=params, follow_redirects=False)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    assert "<main" in r.text
    return r.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(signed_in: World, path: str) -> None:
    html = page(signed_in, path)
    assert 'aria-current="page"' in html  # the nav marks where you are


@pytest.mark.parametrize("window", WINDOWS)
def test_score_page_numbers_are_the_apis(signed_in: World, window: str) -> None:
    api = signed_in.get("/score", window=window).json()
    shown = page_metrics(page(signed_in, "/dashboard/", window=window))
    for field in (
        "prism_score",
        "letter_grade",
        "personal_tier",
        "crushed_count",
        "total_count",
        "crush_weight",
        "sparkline",
    ):
        assert shown[field] == api[field], field


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("section", ["speed", "tokens", "skill"])
def test_pillar_pages_numbers_are_the_apis(signed_in: World, window: str, section: str) -> None:
    api = flatten(signed_in.get(f"/{section}", window=window).json())
    api.pop("window")
    shown = page_metrics(page(signed_in, f"/dashboard/{section}", window=window))
    if api.get("worst_pillar") is None:
        api.pop("worst_pillar", None)
    for field, value in api.items():
        assert shown[field] == value, (section, field)


@pytest.mark.parametrize("window", WINDOWS)
def test_integrity_and_trivia_pages_are_the_apis(signed_in: World, window: str) -> None:
    by_kind = signed_in.get("/integrity", window=window).json()["by_kind"]
    shown = page_metrics(page(signed_in, "/dashboard/integrity", window=window))
    assert shown["by_kind"] == by_kind
    for item in by_kind:
        assert shown[f"by_kind.{item['kind']}"] == item["count"]
    trivia = signed_in.get("/trivia", window=window).json()
    html = page(signed_in, "/dashboard/trivia", window=window)
    assert page_metrics(html)["trivia_count"] == len(trivia)
    assert page_arc_ids(html) == [t["score_v3_sub_session_id"] for t in trivia]


@pytest.mark.parametrize("window", WINDOWS)
def test_sessions_page_lists_the_windows_arcs(signed_in: World, window: str) -> None:
    scored = [r["id"] for r in signed_in.get("/speed/sessions", window=window).json()]
    open_ = [
        r["id"]
        for r in signed_in.get("/realtime/sub-sessions", limit=50).json()
        if r["status"] == "open"
    ]
    assert page_arc_ids(page(signed_in, "/dashboard/sessions", window=window)) == open_ + scored
    fragment = signed_in.client.get("/dashboard/sessions/rows", params={"window": window})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert page_arc_ids(fragment.text) == open_ + scored


def test_arc_detail_shows_the_verdict_and_renames(signed_in: World) -> None:
    arc = signed_in.get("/speed/sessions", window="monthly").json()[0]
    html = page(signed_in, f"/dashboard/sessions/{arc['id']}")
    shown = page_metrics(html)
    assert shown["crushed"] == arc["crushed"]
    assert "The crush rule" in html and "Timeline" in html
    prompts = signed_in.get(f"/sessions/{arc['id']}/prompts").json()["prompts"]
    texts = [p["prompt"] for p in prompts if p["prompt"]]
    assert texts and all(t.split("\n")[0][:40] in html.replace("&#34;", '"') for t in texts)
    token = page_csrf(html)
    r = signed_in.client.post(
        f"/dashboard/sessions/{arc['id']}/rename",
        data={"title": "Renamed from the dashboard", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    item = next(
        x for x in signed_in.get("/realtime/sub-sessions", limit=200).json() if x["id"] == arc["id"]
    )
    assert (item["title"], item["title_source"]) == ("Renamed from the dashboard", "user_edited")
    again = page_metrics(page(signed_in, f"/dashboard/sessions/{arc['id']}"))
    assert again["title_source"] == "user_edited"


def test_another_developers_arc_is_a_404_page(signed_in: World) -> None:
    bob_arc = signed_in.get("/speed/sessions", who="bob", window="monthly").json()[0]["id"]
    r = signed_in.client.get(f"/dashboard/sessions/{bob_arc}")
    assert r.status_code == 404 and "No such sub-session" in r.text


def test_a_bad_window_is_a_400_page(signed_in: World) -> None:
    r = signed_in.client.get("/dashboard/", params={"window": "yearly"})
    assert r.status_code == 400 and "window must be one of" in r.text
