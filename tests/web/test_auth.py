"""Dashboard sign-in in-process (httpx over ASGI): cookies, CSRF, sign-out, one-time links, and
the session cookie on the API."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from prism.api.app import create_engine_app
from prism.lake.query import Lake
from prism.lake.storage import LocalStorage
from prism.runtime.bootstrap import claude_code_env
from prism.runtime.parts import open_store
from prism.settings import Settings
from prism.store.keys import KeyStore
from prism.store.models import WebLoginToken, WebSession
from prism.web.auth import WebAuth, _hash, login_link
from tests.web.support import page_csrf

pytestmark = pytest.mark.anyio

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Site:
    app: FastAPI
    settings: Settings
    keys: KeyStore
    admin: str
    alice: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("web"),
        rate_limit_enabled=False,
        webhook_allow_private=True,
    )
    engine, keys = open_store(settings)
    admin = keys.create_key(developer="admin@localhost", org="default", scope="admin").key
    alice = keys.create_key(developer="alice@example.com", org="default").key
    app = create_engine_app(settings, keys_store=keys, lake=Lake(LocalStorage(settings.lake_root)))
    yield Site(app, settings, keys, admin, alice)
    engine.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def browser(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client: what a browser does with the dashboard's responses."""
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://prism.test") as c:
        yield c


def cookie_attrs(response: httpx.Response, name: str) -> dict[str, str]:
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            attrs = {k.lower(): str(v) for k, v in morsel.items() if v}
            attrs["value"] = morsel.value
            attrs["raw"] = header
            return attrs
    raise AssertionError(f"no Set-Cookie for {name} in {response.headers.get_list('set-cookie')}")


async def sign_in(c: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await c.get("/login")
    token = page_csrf(form.text)
    assert token
    return await c.post("/login", data={"api_key": key, "csrf_token": token, "next": "/dashboard/"})


async def csrf_of(c: httpx.AsyncClient) -> str:
    page = await c.get("/dashboard/settings")
    assert page.status_code == 200, page.text
    token = page_csrf(page.text)
    assert token
    return token


async def test_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    r = await browser.get("/dashboard/speed?window=daily")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdashboard%2Fspeed%3Fwindow%3Ddaily"
    assert (await browser.get("/dashboard/sessions/rows")).status_code == 401


async def test_sign_in_sets_a_strict_httponly_session_cookie(
    site: Site, browser: httpx.AsyncClient
) -> None:
    form = await browser.get("/login")
    assert form.status_code == 200
    login_csrf = cookie_attrs(form, "prism_login_csrf")
    assert "httponly" in login_csrf and login_csrf["samesite"].lower() == "strict"
    r = await sign_in(browser, site.alice)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/"
    session = cookie_attrs(r, "prism_session")
    assert "httponly" in session
    assert session["samesite"].lower() == "strict"
    assert session["path"] == "/"
    assert int(session["max-age"]) == int(site.settings.web_session_hours * 3600)
    assert "secure" not in session  # PRISM_WEB_COOKIE_SECURE is off by default
    page = await browser.get("/dashboard/")
    assert page.status_code == 200
    assert "alice@example.com" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store"


async def test_a_bad_key_is_refused_with_a_page(site: Site, browser: httpx.AsyncClient) -> None:
    r = await sign_in(browser, "gck_not-a-real-key-at-all-0000000000000000")
    assert r.status_code == 401
    assert "That API key is not valid" in r.text
    assert "prism_session" not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("token", [None, "", "forged-token"])
async def test_sign_in_without_the_csrf_token_is_403(
    site: Site, browser: httpx.AsyncClient, token: str | None
) -> None:
    await browser.get("/login")  # sets the double-submit cookie
    data = {"api_key": site.alice}
    if token is not None:
        data["csrf_token"] = token
    r = await browser.post("/login", data=data)
    assert r.status_code == 403
    assert 'data-status="403"' in r.text and "sign-in form expired" in r.text
    assert "prism_session" not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("token", [None, "", "forged-token"])
async def test_every_form_needs_the_session_csrf_token(
    site: Site, browser: httpx.AsyncClient, token: str | None
) -> None:
    await sign_in(browser, site.alice)
    data = {"pref": "v2"}
    if token is not None:
        data["csrf_token"] = token
    for path in (
        "/dashboard/settings/toggle",
        "/dashboard/settings/time-zone",
        "/dashboard/settings/keys",
        "/dashboard/reports/generate",
        "/logout",
    ):
        r = await browser.post(path, data=data)
        assert r.status_code == 403, path
        assert "security token is missing or out of date" in r.text, path
    toggle = await browser.get(
        "/v1/score_v3/toggle", headers={"Authorization": f"Bearer {site.alice}"}
    )
    assert toggle.json() == {"pref": None}  # nothing changed
    assert (await browser.get("/dashboard/")).status_code == 200  # still signed in


async def test_a_form_with_its_token_goes_through(site: Site, browser: httpx.AsyncClient) -> None:
    await sign_in(browser, site.alice)
    token = await csrf_of(browser)
    r = await browser.post("/dashboard/settings/toggle", data={"pref": "v2", "csrf_token": token})
    assert r.status_code == 303
    bearer = {"Authorization": f"Bearer {site.alice}"}
    assert (await browser.get("/v1/score_v3/toggle", headers=bearer)).json() == {"pref": "v2"}
    r = await browser.post(
        "/dashboard/settings/time-zone", data={"time_zone": "Mars/Olympus", "csrf_token": token}
    )
    assert r.status_code == 400 and "Mars/Olympus" in r.text
    r = await browser.post(
        "/dashboard/settings/toggle", data={"pref": "default", "csrf_token": token}
    )
    assert (await browser.get("/v1/score_v3/toggle", headers=bearer)).json() == {"pref": None}


async def test_the_api_accepts_the_cookie_for_reads_and_with_the_token_for_writes(
    site: Site, browser: httpx.AsyncClient
) -> None:
    assert (await browser.get("/v1/score_v3/toggle")).status_code == 401
    await sign_in(browser, site.alice)
    token = await csrf_of(browser)
    assert (await browser.get("/v1/score_v3/score")).status_code == 200
    r = await browser.put("/v1/score_v3/toggle", json={"pref": "v3"})
    assert r.status_code == 401 and r.json() == {"code": 401, "message": "Invalid API key"}
    r = await browser.put(
        "/v1/score_v3/toggle", json={"pref": "v3"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert r.status_code == 401
    r = await browser.put(
        "/v1/score_v3/toggle", json={"pref": None}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200
    # A bearer key always wins over the cookie: a bad one is a 401 even with a session.
    bad = await browser.get("/v1/score_v3/score", headers={"Authorization": "Bearer gck_nope"})
    assert bad.status_code == 401


async def test_sign_out_ends_the_session(site: Site, browser: httpx.AsyncClient) -> None:
    await sign_in(browser, site.alice)
    stolen = browser.cookies["prism_session"]
    token = await csrf_of(browser)
    r = await browser.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/login?signed_out=1"
    assert 'prism_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert (await browser.get("/dashboard/")).status_code == 303
    # The old cookie value is dead on the server too, not only deleted in the browser.
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://prism.test") as other:
        other.cookies.set("prism_session", stolen)
        assert (await other.get("/dashboard/")).status_code == 303
        assert (await other.get("/v1/score_v3/score")).status_code == 401


async def test_revoking_the_key_ends_its_sessions(site: Site, browser: httpx.AsyncClient) -> None:
    key = site.keys.create_key(developer="carol@example.com", org="default")
    await sign_in(browser, key.key)
    assert (await browser.get("/dashboard/")).status_code == 200
    site.keys.revoke_key(key.id)
    assert (await browser.get("/dashboard/")).status_code == 303
    assert (await browser.get("/v1/events/stream")).status_code == 401


async def test_a_one_time_link_works_once(site: Site, browser: httpx.AsyncClient) -> None:
    url = await asyncio.to_thread(login_link, site.settings)
    assert url is not None and "/login/" in url
    path = url.split(str(site.settings.api_port), 1)[1]
    first = await browser.get(path)
    assert first.status_code == 200
    assert "httponly" in cookie_attrs(first, "prism_session")
    assert 'http-equiv="refresh"' in first.text
    page = await browser.get("/dashboard/")
    assert page.status_code == 200 and "admin@localhost" in page.text
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://prism.test") as again:
        second = await again.get(path)
        assert second.status_code == 403
        assert "prism_session" not in second.headers.get("set-cookie", "")
        assert (await again.get("/dashboard/")).status_code == 303


async def test_an_expired_or_unknown_link_is_refused(
    site: Site, browser: httpx.AsyncClient
) -> None:
    auth = WebAuth(site.keys._sessions, site.settings)
    admin_key = auth.admin_key_id(site.settings.bootstrap_admin_email)
    assert admin_key is not None
    token = auth.create_link_token(admin_key)
    with site.keys._sessions.begin() as s:
        s.execute(
            update(WebLoginToken)
            .where(WebLoginToken.id == _hash(token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await browser.get(f"/login/{token}")).status_code == 403
    assert (await browser.get("/login/not-a-token")).status_code == 403
    assert (await browser.get("/dashboard/")).status_code == 303


async def test_next_never_leaves_the_dashboard(site: Site, browser: httpx.AsyncClient) -> None:
    form = await browser.get("/login?next=//evil.example/x")
    token = page_csrf(form.text)
    r = await browser.post(
        "/login", data={"api_key": site.alice, "csrf_token": token, "next": "https://evil.example"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/"


async def test_key_create_needs_an_admin_and_shows_the_key_once(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, site.alice)
    token = await csrf_of(browser)
    r = await browser.post(
        "/dashboard/settings/keys", data={"developer": "dave@example.com", "csrf_token": token}
    )
    assert r.status_code == 403 and "needs an admin key" in r.text
    browser.cookies.clear()  # a signed-in browser is sent from /login to the dashboard
    await sign_in(browser, site.admin)
    token = await csrf_of(browser)
    r = await browser.post(
        "/dashboard/settings/keys",
        data={"developer": "dave@example.com", "scope": "developer", "csrf_token": token},
    )
    assert r.status_code == 201
    secret = r.text.split("data-new-key>")[1].split("<")[0]
    assert secret.startswith("gck_")
    assert site.keys.authenticate(secret).email == "dave@example.com"
    assert f'OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {secret}"' in r.text.replace(
        "&#34;", '"'
    )
    listing = await browser.get("/dashboard/settings")
    assert secret not in listing.text


async def test_reports_page_follows_the_report_api(site: Site, browser: httpx.AsyncClient) -> None:
    """Until the report routes exist the page says so; once they do, it lists their history."""
    api = await browser.get(
        "/v1/score_v3/report/history", headers={"Authorization": f"Bearer {site.alice}"}
    )
    await sign_in(browser, site.alice)
    page = await browser.get("/dashboard/reports")
    assert page.status_code == 200
    if api.status_code == 404:
        assert 'data-reports-state="unavailable"' in page.text
        assert "Reports are not available yet" in page.text
        token = page_csrf(page.text)
        r = await browser.post(
            "/dashboard/reports/generate", data={"language": "fr", "csrf_token": token}
        )
        assert r.status_code == 404 and "Reports are not available yet" in r.text
        return
    assert api.status_code == 200
    assert 'data-reports-state="available"' in page.text
    token = page_csrf(page.text)
    r = await browser.post(
        "/dashboard/reports/generate", data={"language": "fr", "csrf_token": token}
    )
    assert r.status_code == 303, r.text[:400]
    view = await browser.get(r.headers["location"])
    assert view.status_code == 200
    rid = r.headers["location"].split("id=", 1)[1]
    assert f'data-report-id="{rid}"' in view.text
    assert 'data-report-language="fr"' in view.text
    assert f'data-report-row="{rid}"' in view.text  # in the history
    bearer = {"Authorization": f"Bearer {site.alice}"}
    assert (await browser.get(f"/v1/score_v3/report/{rid}", headers=bearer)).status_code == 200
    r = await browser.post(f"/dashboard/reports/{rid}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("deleted=1")
    assert (await browser.get(f"/v1/score_v3/report/{rid}", headers=bearer)).status_code == 404
    assert f'data-report-row="{rid}"' not in (await browser.get("/dashboard/reports")).text
    unsupported = await browser.post(
        "/dashboard/reports/generate", data={"language": "xx", "csrf_token": token}
    )
    assert unsupported.status_code == 400


async def test_webhooks_are_created_once_shown_and_deleted(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, site.alice)
    token = await csrf_of(browser)
    none_chosen = await browser.post(
        "/dashboard/settings/webhooks", data={"url": "http://127.0.0.1:9/h", "csrf_token": token}
    )
    assert none_chosen.status_code == 400 and "choose at least one event type" in none_chosen.text
    r = await browser.post(
        "/dashboard/settings/webhooks",
        data={
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["prism.score_v3.sub_session.scored", "integrity.flagged"],
            "description": "from the dashboard",
            "csrf_token": token,
        },
    )
    assert r.status_code == 201, r.text[:400]
    assert "It is shown only this once" in r.text
    bearer = {"Authorization": f"Bearer {site.alice}"}
    hooks = (await browser.get("/v1/webhooks", headers=bearer)).json()["webhooks"]
    hook = next(h for h in hooks if h["url"] == "http://127.0.0.1:9/hook")
    assert sorted(hook["event_types"]) == ["integrity.flagged", "prism.score_v3.sub_session.scored"]
    r = await browser.post(
        f"/dashboard/settings/webhooks/{hook['id']}/delete", data={"csrf_token": token}
    )
    assert r.status_code == 303
    hooks = (await browser.get("/v1/webhooks", headers=bearer)).json()["webhooks"]
    assert all(h["id"] != hook["id"] for h in hooks)


async def test_an_expired_session_signs_out(site: Site, browser: httpx.AsyncClient) -> None:
    await sign_in(browser, site.alice)
    with site.keys._sessions.begin() as s:
        s.execute(
            update(WebSession)
            .where(WebSession.id == _hash(browser.cookies["prism_session"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await browser.get("/dashboard/")).status_code == 303
    assert (await browser.get("/v1/score_v3/score")).status_code == 401


async def test_get_started_shows_the_exact_env_block(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, site.alice)
    page = await browser.get("/dashboard/start")
    assert page.status_code == 200
    block = claude_code_env(site.settings, "gck_...your key...")
    assert block in html.unescape(page.text)
    prefix = next(k.prefix for k in site.keys.list_keys() if site.alice.startswith(k.prefix))
    assert prefix in page.text  # which key to paste, without the key itself
    assert site.alice not in page.text
