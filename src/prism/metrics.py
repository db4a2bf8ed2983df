"""Prometheus metrics of every Prism process, and their exposition at /metrics.

`prism serve` runs three processes; each counts into its own memory-mapped files under
`<data_dir>/metrics` (prometheus_client's multiprocess mode, switched on by
`enable_multiprocess` when a process starts), and /metrics on the engine (and on ingest)
renders the sum over the processes of that data dir. Live values that belong to no process
(queue depth, lake lag, judge lag) are read from the shared stores at scrape time by the
caller's collectors. Without `enable_multiprocess` (tests, embedded apps) a process exposes its
own counters only.

Every metric here has labels, so no value exists before its first `.labels()`: the values are
created after `enable_multiprocess` ran, whatever the import order. Others increment these
directly, e.g. `metrics.LLM_CALLS.labels("anthropic", model, "judge", "ok").inc()`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID_FILE = re.compile(r"_(\d+)\.db$")
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter(
    "prism_http_requests_total",
    "HTTP requests answered, by service, method, route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "prism_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of the body; SSE streams are excluded).",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INGEST_RECORDS = Counter(
    "prism_ingest_records_total",
    "OTLP records acknowledged by ingest (durably queued), by signal and transport.",
    ["signal", "transport"],
)
INGEST_BYTES = Counter(
    "prism_ingest_bytes_total",
    "Request body bytes acknowledged by ingest as sent (compressed), by signal and transport.",
    ["signal", "transport"],
)
INGEST_REJECTED = Counter(
    "prism_ingest_rejected_records_total",
    "OTLP records ingest reported as rejected (partial success), by signal and transport.",
    ["signal", "transport"],
)
LAKE_RECORDS = Counter(
    "prism_lake_records_total",
    "Rows written to the Parquet lake, by table (logs, metrics, spans).",
    ["table"],
)
LLM_CALLS = Counter(
    "prism_llm_calls_total",
    "Calls to an LLM provider, by provider, model, purpose (judge, report, title...) and outcome.",
    ["provider", "model", "purpose", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "prism_events_published_total", "Events appended to the event log, by type.", ["type"]
)
WEBHOOK_ATTEMPTS = Counter(
    "prism_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (success, http_error, network_error, refused).",
    ["outcome"],
)
RATE_LIMITED = Counter(
    "prism_rate_limited_total",
    "Requests answered 429, by service and the scope of the bucket.",
    ["service", "scope"],
)


def llm_call(provider: str, model: str, purpose: str, outcome: str = "ok") -> None:
    """Count one LLM call (outcome: ok, error, timeout, rate_limited...)."""
    LLM_CALLS.labels(provider, model, purpose, outcome).inc()


def enable_multiprocess(directory: Path) -> None:
    """Count into files under `directory`, shared with the other processes of this data dir.

    Call once, first thing in a process. Files of processes that no longer run are removed
    (their counters restart from zero, as after any restart; Prometheus's rate() expects that).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        m = _PID_FILE.search(path.name)
        if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    os.environ[_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """The text exposition: every process's counters plus the caller's live collectors."""
    extra = CollectorRegistry(auto_describe=False)
    for c in collectors:
        extra.register(c)
    directory = os.environ.get(_ENV)
    if directory:
        shared = CollectorRegistry()
        MultiProcessCollector(shared, path=directory)
        return generate_latest(shared) + generate_latest(extra)
    return generate_latest(REGISTRY) + generate_latest(extra)
