"""The ingest port proxies /v1/insights/report[/generate] to a real engine socket (seed 000);
and the message catalogs are compiled and complete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from prism.api.app import create_engine_app
from prism.insights import i18n
from prism.lake.query import Lake
from prism.queue.local import LocalQueue
from prism.receive.http import PROXIED, create_ingest_app
from prism.receive.service import IngestService
from prism.store.keys import KeyStore
from tests.api.test_score_v3_api import NOW
from tests.insights.conftest import World
from tests.support.live_app import LiveEngine
from tests.support.prism_server import free_port


@pytest.fixture(scope="module")
def ingest(world: World) -> Iterator[TestClient]:
    keys = KeyStore(world.sessions)
    app = create_engine_app(world.settings, keys_store=keys, lake=Lake(world.storage))
    app.state.prism.scores.clock = lambda: NOW
    live = LiveEngine(app, free_port()).start()
    settings = world.settings.model_copy(update={"engine_url": live.url})
    queue = LocalQueue(settings.queue_path)
    try:
        with TestClient(create_ingest_app(settings, IngestService(keys=keys, queue=queue))) as c:
            yield c
    finally:
        live.stop()


def test_generate_and_latest_through_the_ingest_port(world: World, ingest: TestClient) -> None:
    assert "/v1/insights/report/generate" in PROXIED
    auth = {"Authorization": f"Bearer {world.keys['alice']}"}
    r = ingest.post(
        "/v1/insights/report/generate",
        params={"scope": "via-ingest"},
        headers={**auth, "Accept-Language": "zh-CN"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["language"] == "zh" and "## 关键数据" in report["markdown"]
    assert report["scope"] == "via-ingest" and report["family"] == "v2"
    latest = ingest.get("/v1/insights/report", params={"scope": "via-ingest"}, headers=auth)
    assert latest.status_code == 200 and latest.json()["id"] == report["id"]
    assert ingest.post("/v1/insights/report/generate").status_code == 401
    bad = ingest.post("/v1/insights/report/generate", params={"window": "x"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["code"] == 400


def test_catalogs_are_compiled_and_complete() -> None:
    assert i18n.problems() == []
    for lang in i18n.SUPPORTED[1:]:
        t = i18n.translations(lang)
        assert t.gettext("Key figures") != "Key figures", lang


def test_localized_numbers() -> None:
    assert i18n.Localizer("de").number(1234.5, 1) == "1.234,5"
    assert i18n.Localizer("fr").number(0.5, 2) == "0,50"
    assert i18n.Localizer("en").money(0.1337) == "$0.13"
    assert i18n.Localizer("ja").duration(5400) == "1.5 時間"
    assert i18n.Localizer("ja").duration(300) == "5.0 分"
    assert i18n.Localizer("zh").share(0.25) == "25%"
