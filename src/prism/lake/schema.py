"""The lake's tables: Arrow schemas shared by the writer, the readers and the tests.

Agent-neutral on purpose: adapters at the edge (`prism.agents.*`) map each agent's attribute names
and value types onto these columns; anything they do not map stays in the `attributes` map.
Partition columns (`org_id`, `date`) live in the Hive path, not inside the files.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
STR_MAP = pa.map_(pa.string(), pa.string())

PARTITION_COLS: list[tuple[str, pa.DataType]] = [("org_id", pa.string()), ("date", pa.string())]

EVENTS = pa.schema(
    [
        ("time", TS),
        ("observed_time", TS),
        ("developer_id", pa.string()),
        ("batch_id", pa.string()),
        ("agent", pa.string()),
        ("service_name", pa.string()),
        ("service_version", pa.string()),
        ("session_id", pa.string()),
        ("prompt_id", pa.string()),
        ("event_name", pa.string()),
        ("event_sequence", pa.int64()),
        ("model", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cache_read_tokens", pa.int64()),
        ("cache_creation_tokens", pa.int64()),
        ("cost_micro_usd", pa.int64()),
        ("duration_ms", pa.float64()),
        ("ttft_ms", pa.float64()),
        ("tool_name", pa.string()),
        ("tool_use_id", pa.string()),
        ("success", pa.bool_()),
        ("decision", pa.string()),
        ("decision_source", pa.string()),
        ("error", pa.string()),
        ("error_type", pa.string()),
        ("status_code", pa.int64()),
        ("attempt", pa.int64()),
        ("prompt", pa.string()),
        ("prompt_length", pa.int64()),
        ("response", pa.string()),
        ("response_length", pa.int64()),
        ("tool_parameters", pa.string()),
        ("tool_input", pa.string()),
        ("tool_input_length", pa.int64()),
        ("request_id", pa.string()),
        ("query_source", pa.string()),
        ("message_uuid", pa.string()),
        ("agent_user_id", pa.string()),
        ("agent_user_email", pa.string()),
        ("agent_account_uuid", pa.string()),
        ("agent_org_id", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("severity_text", pa.string()),
        ("body", pa.string()),
        ("attributes", STR_MAP),
        ("resource", STR_MAP),
        ("truncated", pa.int32()),
    ]
)

METRICS = pa.schema(
    [
        ("time", TS),
        ("start_time", TS),
        ("developer_id", pa.string()),
        ("batch_id", pa.string()),
        ("agent", pa.string()),
        ("service_version", pa.string()),
        ("session_id", pa.string()),
        ("name", pa.string()),
        ("unit", pa.string()),
        ("kind", pa.string()),  # sum | gauge | histogram | exponential_histogram | summary
        ("temporality", pa.string()),  # delta | cumulative | unspecified
        ("is_monotonic", pa.bool_()),
        ("value", pa.float64()),  # the per-interval value (cumulative sums turned into deltas)
        ("raw_value", pa.float64()),  # the value as sent
        ("count", pa.int64()),
        ("sum", pa.float64()),
        ("bucket_counts", pa.list_(pa.int64())),
        ("explicit_bounds", pa.list_(pa.float64())),
        ("type", pa.string()),  # Claude Code's `type` label: input/output/cacheRead/...
        ("model", pa.string()),
        ("attributes", STR_MAP),
        ("resource", STR_MAP),
    ]
)

SPANS = pa.schema(
    [
        ("start_time", TS),
        ("end_time", TS),
        ("developer_id", pa.string()),
        ("batch_id", pa.string()),
        ("agent", pa.string()),
        ("service_name", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("duration_ms", pa.float64()),
        ("status_code", pa.string()),
        ("status_message", pa.string()),
        ("session_id", pa.string()),
        ("prompt_id", pa.string()),
        ("attributes", STR_MAP),
        ("resource", STR_MAP),
        ("events", pa.string()),  # JSON list of {time, name, attributes}
    ]
)

TABLES: dict[str, pa.Schema] = {"events": EVENTS, "metrics": METRICS, "spans": SPANS}

# Which column of each table is its time (partitioning by date, ordering newest first).
TIME_COLUMN = {"events": "time", "metrics": "time", "spans": "start_time"}
