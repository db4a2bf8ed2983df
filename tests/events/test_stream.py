"""GET /v1/events/stream on a real socket: scope, resume with Last-Event-ID, heartbeats,
several engines sharing one event log, and clients that vanish."""

from __future__ import annotations

import httpx
import pytest

from prism.events import bus
from tests.support.live_app import LiveEngine, Store, free_port, read_events, stream
from tests.support.prism_server import wait_for

TEL = bus.TELEMETRY_RECEIVED


def publish(store: Store, who: str, n: int = 1, type_: str = TEL) -> list[int]:
    p = store.principals[who]
    return [
        bus.publish(
            store.sessions,
            type_,
            org_id=p.org_id,
            developer_id=p.developer_id,
            data={"records": i, "who": who},
        )
        for i in range(n)
    ]


def test_resume_with_last_event_id_gets_exactly_the_missed_events(
    store: Store, live: LiveEngine
) -> None:
    hub = live.app.state.events
    with httpx.Client(timeout=10) as client:
        with stream(client, live.url, store.secrets["alice"]) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert "x-ratelimit-limit" not in r.headers  # limits off in this fixture
            wait_for(lambda: hub.clients == 1, what="subscribed")
            first = publish(store, "alice", 3)
            publish(store, "bob", 2)  # same org, other developer: not for alice
            got = read_events(r.iter_lines(), 3)
        assert [e.id for e in got] == first
        assert {e.type for e in got} == {TEL}
        assert got[0].data["developer_id"] == store.principals["alice"].developer_id
        assert got[0].data["data"] == {"records": 0, "who": "alice"}
        wait_for(lambda: hub.clients == 0, what="the closed stream to be dropped")

        # While alice is away: her events and others' (which she must not get).
        missed = publish(store, "alice", 4)
        publish(store, "bob", 3)
        publish(store, "eve", 2)
        with stream(client, live.url, store.secrets["alice"], last_event_id=first[-1]) as r:
            lines = r.iter_lines()
            replayed = read_events(lines, 4)
            assert [e.id for e in replayed] == missed
            # then live, with nothing in between: the next event is the very next one
            wait_for(lambda: hub.last_id >= missed[-1], what="hub caught up")
            (live_id,) = publish(store, "alice", 1)
            (after,) = read_events(lines, 1)
            assert after.id == live_id

        # resuming from the middle, via the query parameter
        with stream(
            client,
            live.url,
            store.secrets["alice"],
            params={"last_event_id": missed[1]},
        ) as r:
            got = read_events(r.iter_lines(), 3)
        assert [e.id for e in got] == [*missed[2:], live_id]


def test_scope_admins_org_and_type_filter(store: Store, live: LiveEngine) -> None:
    hub = live.app.state.events
    with httpx.Client(timeout=10) as client:
        r = client.get(
            live.url + "/v1/events/stream",
            params={"scope": "org"},
            headers={"Authorization": f"Bearer {store.secrets['alice']}"},
        )
        assert r.status_code == 403 and r.json()["code"] == 403
        r = client.get(
            live.url + "/v1/events/stream",
            params={"types": "nope.event"},
            headers={"Authorization": f"Bearer {store.secrets['root']}"},
        )
        assert r.status_code == 400 and set(r.json()) == {"code", "message"}
        r = client.get(live.url + "/v1/events/stream", headers={"Last-Event-ID": "x"})
        assert r.status_code == 401
        with (
            stream(client, live.url, store.secrets["root"], params={"scope": "org"}) as org,
            stream(
                client,
                live.url,
                store.secrets["root"],
                params={"types": bus.REPORT_COMPLETED, "user_id": "bob@acme.test"},
            ) as bob_reports,
        ):
            wait_for(lambda: hub.clients == 2, what="two subscribers")
            a = publish(store, "alice")
            publish(store, "eve")  # other org: never
            b = publish(store, "bob")
            r1 = bus.report_completed(
                store.sessions,
                org_id=store.principals["bob"].org_id,
                developer_id=store.principals["bob"].developer_id,
                report_id="rep-1",
            )
            got = read_events(org.iter_lines(), 3)
            assert [e.id for e in got] == [*a, *b, r1]
            (rep,) = read_events(bob_reports.iter_lines(), 1)
            assert rep.id == r1 and rep.type == "report.completed"
            assert rep.data["data"] == {"report_id": "rep-1"}


def test_heartbeats_keep_an_idle_stream_alive(store: Store, live: LiveEngine) -> None:
    comments: list[str] = []
    with httpx.Client(timeout=10) as client, stream(client, live.url, store.secrets["bob"]) as r:
        for line in r.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            if len(comments) >= 2:
                break
    assert comments[:2] == [": heartbeat", ": heartbeat"]


def test_engines_share_one_event_log(store: Store, live: LiveEngine) -> None:
    """A second engine (its own hub, as another process would have) sees the same events."""
    other = LiveEngine(store.engine_app(), free_port()).start()
    try:
        with (
            httpx.Client(timeout=10) as client,
            stream(client, live.url, store.secrets["alice"]) as one,
            stream(client, other.url, store.secrets["alice"]) as two,
        ):
            wait_for(
                lambda: live.app.state.events.clients == 1 and other.app.state.events.clients == 1,
                what="both subscribed",
            )
            ids = publish(store, "alice", 5)
            assert [e.id for e in read_events(one.iter_lines(), 5)] == ids
            assert [e.id for e in read_events(two.iter_lines(), 5)] == ids
    finally:
        other.stop()


def test_a_vanished_client_is_unsubscribed(store: Store, live: LiveEngine) -> None:
    hub = live.app.state.events
    client = httpx.Client(timeout=10)
    opened = stream(client, live.url, store.secrets["alice"])
    opened.__enter__()
    wait_for(lambda: hub.clients == 1, what="subscribed")
    client.close()  # drops the connection without reading or ending the response
    wait_for(lambda: hub.clients == 0, what="the vanished client to be dropped")
    publish(store, "alice", 3)
    wait_for(lambda: hub.stats.dispatched >= 3, what="dispatch to nobody")
    assert hub.queue_depth == 0


@pytest.mark.parametrize("bad", ["-1", "abc"])
def test_bad_last_event_id_is_400(store: Store, live: LiveEngine, bad: str) -> None:
    r = httpx.get(
        live.url + "/v1/events/stream",
        headers={"Authorization": f"Bearer {store.secrets['alice']}", "Last-Event-ID": bad},
        timeout=10,
    )
    assert r.status_code == 400
    assert r.json()["code"] == 400
