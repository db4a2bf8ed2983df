"""The dashboard in real headless Chromium (Debian's package, driven by Playwright) against
`prism serve --demo`: sign in, every page against the API, rename, reports, keys, live arcs.

Screenshots of every page at 1280 and 390 px land in test-artifacts/screenshots/. With
PRISM_README_SCREENSHOT=1 the Score page is also written to docs/screenshot.png.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from prism.agents.claude_code_otlp import logs_request
from tests.support.prism_server import REPO, PrismServer, wait_for
from tests.unit import scenarios as sc
from tests.web.support import flatten

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "test-artifacts" / "screenshots"
WIDTHS = {1280: 900, 390: 844}
PAGES = {
    "score": "/dashboard/",
    "speed": "/dashboard/speed",
    "tokens": "/dashboard/tokens",
    "skill": "/dashboard/skill",
    "sessions": "/dashboard/sessions",
    "trivia": "/dashboard/trivia",
    "integrity": "/dashboard/integrity",
    "reports": "/dashboard/reports",
    "start": "/dashboard/start",
    "settings": "/dashboard/settings",
}
_DEV_KEY = re.compile(r"^\s+(\S+@\S+)\s+(gck_[A-Za-z0-9_-]{20,})\s*$", re.M)
_LINK = re.compile(r"Dashboard: (http://\S+/login/\S+)")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (it is in the dev extra)"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (bash scripts/install-chromium.sh)"
    return None


class DemoServer(PrismServer):
    """`prism serve --demo` (a small demo: 2 developers, 14 days)."""

    def start(self, timeout: float = 120.0) -> DemoServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prism.cli.main", "serve", "--demo"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def loaded() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prism serve --demo exited early:\n{self.log()}")
            return "scores fill in" in self.log()

        wait_for(loaded, timeout=timeout, what="the demo history to load")
        return self


class Demo:
    def __init__(self, server: DemoServer) -> None:
        self.server = server
        log = server.log()
        self.keys = dict(_DEV_KEY.findall(log))
        link = _LINK.search(log)
        assert link, log
        self.login_link = link.group(1)
        self.developer = next(iter(self.keys))
        self.key = self.keys[self.developer]
        manifest = json.loads((server.data_dir / "demo" / "manifest.json").read_text())
        self.arc_ids = {a["arc_id"] for a in manifest["arcs"] if a["developer"] == self.developer}

    def api(self, path: str, key: str | None = None, **params: Any) -> Any:
        r = self.server.api("GET", path, key or self.key, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    server = DemoServer(
        tmp_path_factory.mktemp("web_demo"),
        env={"PRISM_DEMO_DEVELOPERS": "2", "PRISM_DEMO_DAYS": "14", "PRISM_LOG_LEVEL": "warning"},
    )
    server.start()
    try:
        d = Demo(server)

        def judged() -> bool:
            rows = d.api("/v1/score_v3/realtime/sub-sessions", limit=1000)
            scored = {r["id"] for r in rows if r["status"] == "scored"}
            return d.arc_ids <= scored

        wait_for(judged, timeout=90, interval=0.5, what="the worker to judge the demo arcs")
        yield d
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Tab:
    """One browser context + page that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, base: str, width: int = 1280) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"{m.type}: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def goto(self, path: str) -> Any:
        response = self.page.goto(path if path.startswith("http") else self.base + path)
        assert response is not None and response.ok, (path, response and response.status)
        return response

    def metrics(self) -> dict[str, Any]:
        pairs = self.page.eval_on_selector_all(
            "[data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value])"
        )
        return {k: json.loads(v) for k, v in pairs}

    def sign_in(self, key: str) -> None:
        self.goto("/login")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/dashboard/")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


@pytest.fixture
def tab(browser: Any, demo: Demo) -> Iterator[Tab]:
    t = Tab(browser, demo.server.api_url)
    t.sign_in(demo.key)
    yield t
    t.close()


def _expected(demo: Demo, name: str) -> dict[str, Any]:
    """What the page must show, straight from the API."""
    if name == "score":
        return demo.api("/v1/score_v3/score")
    if name in ("speed", "tokens", "skill"):
        body = flatten(demo.api(f"/v1/score_v3/{name}"))
        body.pop("window")
        if body.get("worst_pillar") is None:
            body.pop("worst_pillar", None)
        return body
    if name == "integrity":
        by_kind = demo.api("/v1/score_v3/integrity")["by_kind"]
        return {"by_kind": by_kind, **{f"by_kind.{k['kind']}": k["count"] for k in by_kind}}
    if name == "trivia":
        return {"trivia_count": len(demo.api("/v1/score_v3/trivia"))}
    return {}


def test_every_page_shows_the_apis_numbers_at_both_widths(
    browser: Any, demo: Demo, tab: Tab
) -> None:
    for name, path in PAGES.items():
        tab.goto(path)
        shown = tab.metrics()
        for field, value in _expected(demo, name).items():
            if field == "window":
                continue
            assert shown.get(field) == value, (name, field, shown.get(field), value)
        if name == "sessions":
            ids = tab.page.eval_on_selector_all(
                "tr[data-arc-id][data-status=scored]", "els => els.map(e => e.dataset.arcId)"
            )
            assert ids == [r["id"] for r in demo.api("/v1/score_v3/speed/sessions")]
        tab.shot(f"{name}-1280")
    # the arc detail view, from the sessions list
    tab.goto("/dashboard/sessions")
    tab.page.locator("tbody[data-live-arcs] a").first.click()
    tab.page.wait_for_selector("text=The crush rule")
    assert tab.page.locator("ol[data-timeline] li").count() > 0
    tab.shot("session-detail-1280")
    if os.environ.get("PRISM_README_SCREENSHOT") == "1":
        tab.goto("/dashboard/")
        tab.page.screenshot(path=str(REPO / "docs" / "screenshot.png"))

    narrow = Tab(browser, demo.server.api_url, width=390)
    try:
        narrow.sign_in(demo.key)
        for name, path in {**PAGES, "session-detail": tab.page.url}.items():
            narrow.goto(path)
            overflow = narrow.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (name, "the page scrolls sideways at 390 px", overflow)
            narrow.shot(f"{name}-390")
    finally:
        narrow.close()


def test_keyboard_reaches_the_skip_link_and_the_nav(tab: Tab) -> None:
    tab.goto("/dashboard/")
    tab.page.keyboard.press("Tab")
    assert tab.page.evaluate("document.activeElement.className") == "skip-link"
    tab.page.keyboard.press("Enter")
    assert tab.page.evaluate("location.hash") == "#main"
    assert tab.page.locator("nav[aria-label=Pages] a[aria-current=page]").inner_text() == "Score"
    tab.page.get_by_role("link", name="Monthly").click()
    tab.page.wait_for_url("**window=monthly")
    assert tab.metrics()["prism_score"] == tab_api_score(tab, "monthly")


def tab_api_score(tab: Tab, window: str) -> Any:
    # The page's own session cookie also reads the API (GET), as the live updates do.
    body = tab.page.evaluate(
        "w => fetch('/v1/score_v3/score?window=' + w).then(r => r.json())", window
    )
    return body["prism_score"]


def test_rename_an_arc(demo: Demo, tab: Tab) -> None:
    arc = demo.api("/v1/score_v3/speed/sessions")[-1]
    tab.goto(f"/dashboard/sessions/{arc['id']}")
    tab.page.get_by_label("Title").fill("Renamed in Chromium")
    tab.page.get_by_role("button", name="Save title").click()
    tab.page.wait_for_selector("text=Renamed. Later automatic titles")
    assert tab.page.locator("h1").inner_text() == "Renamed in Chromium"
    rows = demo.api("/v1/score_v3/realtime/sub-sessions", limit=1000)
    item = next(r for r in rows if r["id"] == arc["id"])
    assert (item["title"], item["title_source"]) == ("Renamed in Chromium", "user_edited")


def test_reports(demo: Demo, tab: Tab) -> None:
    route = demo.server.api("GET", "/v1/score_v3/report/history", demo.key)
    tab.goto("/dashboard/reports")
    if route.status_code == 404:
        assert tab.page.locator("[data-reports-state=unavailable]").is_visible()
        assert tab.page.get_by_role("heading", name="Reports are not available yet").is_visible()
        return
    # The report API exists: generate one in French, see it in the history, view, delete.
    tab.page.get_by_label("Language").select_option("fr")
    tab.page.get_by_role("button", name="Generate").click()
    tab.page.wait_for_selector("article.report")
    rid = tab.page.locator("article.report").get_attribute("data-report-id")
    assert rid
    assert tab.page.locator("article.report").get_attribute("data-report-language") == "fr"
    tab.shot("report-view-1280")
    assert tab.page.locator(f'tr[data-report-row="{rid}"]').count() == 1
    tab.page.locator(f'tr[data-report-row="{rid}"] button').click()
    tab.page.wait_for_selector("text=Report deleted.")
    assert tab.page.locator(f'tr[data-report-row="{rid}"]').count() == 0


def test_admin_link_create_and_revoke_a_key(browser: Any, demo: Demo) -> None:
    admin = Tab(browser, demo.server.api_url)
    try:
        admin.goto(demo.login_link)
        admin.page.wait_for_url("**/dashboard/")
        assert "admin@localhost" in admin.page.locator("header").inner_text()
        admin.goto("/dashboard/settings")
        admin.page.get_by_label("Developer (email)").fill("newdev@example.com")
        admin.page.locator("#key-name").fill("from the dashboard")
        admin.page.get_by_role("button", name="Create key").click()
        admin.page.wait_for_selector("[data-new-key]")
        secret = admin.page.locator("[data-new-key]").inner_text().strip()
        env_block = admin.page.locator("#new-key-env").inner_text()
        assert f"Authorization=Bearer {secret}" in env_block
        assert demo.server.api("GET", "/v1/score_v3/score", secret).status_code == 200
        key_id = admin.page.locator("[data-new-key-id]").get_attribute("data-new-key-id")
        admin.shot("settings-new-key-1280")
        admin.goto("/dashboard/settings")
        assert secret not in admin.page.content()  # shown once
        admin.page.locator(f'tr[data-key-id="{key_id}"] button').click()
        admin.page.wait_for_selector("text=Key revoked")
        assert (
            admin.page.locator(f'tr[data-key-id="{key_id}"]').get_attribute("data-revoked")
            == "true"
        )
        assert demo.server.api("GET", "/v1/score_v3/score", secret).status_code == 401
        # the link was single-use
        again = admin.context.new_page()
        r = again.goto(demo.login_link)
        assert r is not None and r.status == 403
        again.close()
        admin.errors = [e for e in admin.errors if "403" not in e]  # that refusal, logged
    finally:
        admin.close()


def _ingest_new_arc(demo: Demo, minutes_ago: int) -> str:
    """Send one fresh Claude Code session through OTLP ingest; the id of the arc it makes."""
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    events = sc.event_dicts(sc.feature_crushed(start=start, developer_id="ignored"))
    session_id = events[0]["session_id"]
    r = httpx.post(
        f"{demo.server.ingest_url}/v1/logs",
        content=logs_request(events).SerializeToString(),
        headers={
            "Authorization": f"Bearer {demo.key}",
            "Content-Type": "application/x-protobuf",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text

    def new_arc() -> str | None:
        rows = demo.api("/v1/score_v3/realtime/sub-sessions", limit=20)
        return next((x["id"] for x in rows if x["claude_session_id"] == session_id), None)

    arc_id: str = wait_for(new_arc, timeout=60, interval=0.25, what="the worker to build the arc")
    return arc_id


def test_a_new_arc_appears_live(demo: Demo, tab: Tab) -> None:
    tab.goto("/dashboard/sessions")
    tab.page.wait_for_function("document.querySelector('[data-live-arcs]').dataset.live")
    assert tab.page.evaluate("document.querySelector('[data-live-arcs]').dataset.live") == "stream"
    tab.page.evaluate("window.__notReloaded = true")
    arc_id = _ingest_new_arc(demo, minutes_ago=8)
    tab.page.wait_for_selector(f'tr[data-arc-id="{arc_id}"]', timeout=30_000)
    assert tab.page.evaluate("window.__notReloaded === true")
    assert "Updated at" in tab.page.locator("[data-live-status]").inner_text()
    tab.shot("sessions-live-1280")


def test_without_event_source_the_page_polls(browser: Any, demo: Demo) -> None:
    polling = Tab(browser, demo.server.api_url)
    try:
        polling.context.add_init_script("delete window.EventSource")
        polling.sign_in(demo.key)
        polling.goto("/dashboard/sessions")
        polling.page.wait_for_selector("text=checking every")
        polling.page.evaluate("window.__notReloaded = true")
        arc_id = _ingest_new_arc(demo, minutes_ago=9)
        polling.page.wait_for_selector(f'tr[data-arc-id="{arc_id}"]', timeout=30_000)
        assert polling.page.evaluate("window.__notReloaded === true")
    finally:
        polling.close()
