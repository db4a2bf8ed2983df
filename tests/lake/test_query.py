"""Reading the lake with DataFusion: owner scoping, filters, ordering, paging, bound parameters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prism.lake.normalize import NormalizeOptions
from prism.lake.query import Filters, Lake
from prism.lake.storage import LocalStorage
from prism.lake.writer import LakeWriter
from prism.queue.local import LocalQueue
from prism.store.db import make_engine, migrate, session_factory

from .conftest import Otlp, utc, write

DAY1 = utc("2025-03-04T10:00:00")
DAY2 = utc("2025-03-05T09:00:00")
TRACE_1 = "0af7651916cd43dd8448eb211c80319c"
TRACE_2 = "4bf92f3577b34da6a3ce929d0e0e4736"
HOSTILE = [
    "x' OR '1'='1",
    "s1' OR '1'='1",
    "' OR 1=1 --",
    "s1'; DROP TABLE events; --",
    "$org",
    "%",
]


def _events(specs: list[tuple[str, datetime, str, int]]) -> bytes:
    """specs: (event name, time, session id, event.sequence)."""
    return Otlp.logs(
        [
            Otlp.event(
                name,
                t,
                **{"session.id": session, "event.sequence": seq, "prompt.id": f"{session}-{seq}"},
            )
            for name, t, session, seq in specs
        ]
    )


S1 = [
    (n, DAY1 + timedelta(minutes=i), "s1", i)
    for i, n in enumerate(
        ["user_prompt", "api_request", "tool_result", "api_request", "tool_result"]
    )
]
S2 = [
    ("user_prompt", DAY2, "s2", 0),
    ("api_request", DAY2 + timedelta(minutes=1), "s2", 1),
    ("api_request", DAY2 + timedelta(minutes=2), "s2", 2),
    # two events in the same microsecond: event.sequence orders them
    ("tool_decision", DAY2 + timedelta(minutes=5), "s2", 11),
    ("tool_result", DAY2 + timedelta(minutes=5), "s2", 10),
]
B = [("api_request", DAY1 + timedelta(minutes=i, seconds=30), "s3", i) for i in range(4)]
OTHER_ORG = [("api_request", DAY1 + timedelta(minutes=i), "s1", i) for i in range(2)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lake, LakeWriter]]:
    root: Path = tmp_path_factory.mktemp("lake-query")
    engine = make_engine(f"sqlite:///{root / 'prism.db'}")
    migrate(engine)
    queue = LocalQueue(root / "queue.db")
    storage = LocalStorage(root / "lake")
    writer = LakeWriter(
        queue=queue, storage=storage, sessions=session_factory(engine), options=NormalizeOptions()
    )
    start = DAY1 - timedelta(minutes=5)
    write(
        writer,
        Otlp.batch("logs", _events(S1)),
        Otlp.batch("logs", _events(S2)),
        Otlp.batch("logs", _events(B), dev="dev-b"),
        Otlp.batch("logs", _events(OTHER_ORG), org="org-2"),
        Otlp.batch(
            "metrics",
            Otlp.metrics(
                [
                    Otlp.sum_metric(
                        "claude_code.token.usage",
                        [(start, DAY1, 100.0, {"type": "input", "session.id": "s1"})],
                        temporality=1,
                    ),
                    Otlp.sum_metric(
                        "claude_code.cost.usage",
                        [(start, DAY1, 0.5, {"session.id": "s1"})],
                        temporality=1,
                    ),
                ]
            ),
        ),
        Otlp.batch(
            "traces",
            Otlp.spans(
                [
                    Otlp.span(TRACE_1, "a1a1a1a1a1a1a1a1", "claude_code.interaction", DAY1, 50),
                    Otlp.span(TRACE_1, "b2b2b2b2b2b2b2b2", "claude_code.llm_request", DAY1, 20),
                    Otlp.span(TRACE_2, "c3c3c3c3c3c3c3c3", "claude_code.interaction", DAY2, 5),
                ]
            ),
        ),
    )
    try:
        yield Lake(storage), writer
    finally:
        asyncio.run(queue.close())
        engine.dispose()


@pytest.fixture
def lake(dataset: tuple[Lake, LakeWriter]) -> Lake:
    return dataset[0]


def events(lake: Lake, **kw: Any) -> list[dict[str, Any]]:
    org = kw.pop("org_id", "org-1")
    dev = kw.pop("developer_id", "dev-a")
    return lake.telemetry("events", Filters(org_id=org, developer_id=dev, **kw))


def prompt_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["prompt_id"] for r in rows]


# --- scoping --------------------------------------------------------------------------------------


def test_reads_are_scoped_to_org_and_developer(lake: Lake) -> None:
    a = events(lake)
    assert len(a) == len(S1) + len(S2)
    assert {r["developer_id"] for r in a} == {"dev-a"}
    assert {r["org_id"] for r in a} == {"org-1"}
    assert len(events(lake, developer_id="dev-b")) == len(B)
    assert len(events(lake, developer_id=None)) == len(S1) + len(S2) + len(B)
    # the same developer id and session id in another org are another tenant's data
    other = events(lake, org_id="org-2")
    assert prompt_ids(other) == ["s1-1", "s1-0"]
    assert events(lake, org_id="org-2", developer_id="dev-b") == []
    assert events(lake, org_id="org-3", developer_id=None) == []
    assert lake.count("events", "org-1") == 14
    assert lake.count("events", "org-1", "dev-b") == 4


def test_rows_are_newest_first_with_event_sequence_breaking_ties(lake: Lake) -> None:
    rows = events(lake)
    times = [r["time"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert prompt_ids(rows)[:3] == ["s2-11", "s2-10", "s2-2"]
    assert prompt_ids(rows)[-1] == "s1-0"


# --- filters --------------------------------------------------------------------------------------


def test_time_range_is_start_inclusive_end_exclusive(lake: Lake) -> None:
    rows = events(lake, start=DAY1 + timedelta(minutes=1), end=DAY1 + timedelta(minutes=3))
    assert prompt_ids(rows) == ["s1-2", "s1-1"]
    only_start = events(lake, start=DAY2 + timedelta(minutes=2))
    assert prompt_ids(only_start) == ["s2-11", "s2-10", "s2-2"]
    only_end = events(lake, end=DAY1 + timedelta(minutes=1))
    assert prompt_ids(only_end) == ["s1-0"]
    assert events(lake, start=DAY2 + timedelta(days=1)) == []


def test_time_range_across_date_partitions(lake: Lake) -> None:
    rows = events(lake, start=DAY1 + timedelta(minutes=3), end=DAY2 + timedelta(minutes=1))
    assert prompt_ids(rows) == ["s2-0", "s1-4", "s1-3"]


def test_session_and_event_name_filters(lake: Lake) -> None:
    assert prompt_ids(events(lake, session_id="s2", event_name="api_request")) == ["s2-2", "s2-1"]
    assert {r["session_id"] for r in events(lake, session_id="s1")} == {"s1"}
    assert len(events(lake, session_id="s1")) == 5
    assert len(events(lake, event_name="tool_result")) == 3
    assert events(lake, session_id="s3") == []  # dev-b's session, not dev-a's


def test_limit_and_offset_page_through_without_gaps_or_overlap(lake: Lake) -> None:
    everything = prompt_ids(events(lake, limit=1000))
    pages = [prompt_ids(events(lake, limit=3, offset=o)) for o in range(0, 12, 3)]
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [pid for page in pages for pid in page] == everything
    assert events(lake, limit=3, offset=10) == []


def test_metric_name_and_trace_id_filters(lake: Lake) -> None:
    f = Filters(org_id="org-1", developer_id="dev-a")
    metrics = lake.telemetry("metrics", f)
    assert {m["name"] for m in metrics} == {"claude_code.token.usage", "claude_code.cost.usage"}
    (tokens,) = lake.telemetry("metrics", replace(f, name="claude_code.token.usage"))
    assert (tokens["value"], tokens["type"], tokens["session_id"]) == (100.0, "input", "s1")
    spans = lake.telemetry("spans", replace(f, trace_id=TRACE_1.upper()))  # ids are lower-cased
    assert sorted(s["name"] for s in spans) == [
        "claude_code.interaction",
        "claude_code.llm_request",
    ]
    assert {s["trace_id"] for s in spans} == {TRACE_1}
    newest = lake.telemetry("spans", f)
    assert newest[0]["trace_id"] == TRACE_2


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["org_id", "developer_id", "session_id", "event_name"])
def test_hostile_strings_are_values_never_sql(lake: Lake, field: str, value: str) -> None:
    assert events(lake, **{field: value}) == []
    assert lake.count("events", "org-1") == 14  # still all there


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_metric_name_and_trace_id_are_values(lake: Lake, value: str) -> None:
    f = Filters(org_id="org-1", developer_id="dev-a")
    assert lake.telemetry("metrics", replace(f, name=value)) == []
    assert lake.telemetry("spans", replace(f, trace_id=value)) == []
    assert lake.count("metrics", value) == 0
    assert lake.count("events", "org-1", value) == 0


def test_events_for_is_oldest_first(lake: Lake) -> None:
    table = lake.events_for("org-1", "dev-a", DAY1, DAY2 + timedelta(minutes=5))
    ids = table.column("prompt_id").to_pylist()
    assert ids == ["s1-0", "s1-1", "s1-2", "s1-3", "s1-4", "s2-0", "s2-1", "s2-2"]


def test_files_published_later_are_visible_to_a_long_lived_reader(
    lake: Lake, dataset: tuple[Lake, LakeWriter]
) -> None:
    _, writer = dataset
    before = lake.count("events", "org-9")
    assert before == 0
    write(writer, Otlp.batch("logs", _events([("api_request", DAY1, "s9", 0)]), org="org-9"))
    assert lake.count("events", "org-9") == 1  # no stale directory listing
