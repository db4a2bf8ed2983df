"""Imported events as lake `events` columns, and the keys that join them to live telemetry.

`ImportedEvents` accumulates the mapper's rows column by column (a row costs a few list
appends; a column no row sets costs nothing) together with each row's join key, and turns into
one Arrow table of the lake's `events` schema. The owner columns are filled when a chunk is
written, so the same rows can be attributed on the server to the key's owner.

Join keys (../shared/spec/claude-code-telemetry.md §2.7): the transcript's `promptId` is OTel
`prompt.id`, `requestId` is `request_id`, tool ids are `tool_use_id`, the line `uuid` is
`message.uuid`. `event_keys` reads the same keys off stored rows (OTLP or imported) so the
importer can skip what the lake already holds for a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from prism.lake import schema
from prism.lake.dedupe import IMPORT_BATCH_PREFIX, event_keys
from prism.lake.normalize import TRUNCATION_MARKER, ns_array

__all__ = ["IMPORT_BATCH_PREFIX", "ImportedEvents", "event_keys"]

AGENT = "claude_code"
SERVICE_NAME = "claude-code"
TITLE_SOURCE = "generate_session_title"
TEXT_COLUMNS = frozenset({"prompt", "response", "tool_parameters", "tool_input", "error"})
CONTENT_COLUMNS = ("prompt", "response", "tool_input")
# Not a lake column: the (project, message.id, requestId) of an API response's rows, so chunks
# mapped in parallel can still count a response once per project (ccusage's dedupe).
RESPONSE_KEY = "_response"


class ImportedEvents:
    """Rows of the `events` table built by the mapper (see module docstring).

    A row is kept as the dict of columns the mapper set (about ten of fifty); the Arrow table
    is built column by column at the end, only for the columns some row set.
    """

    def __init__(self, *, max_length: int = 65536, store_content: bool = True) -> None:
        self.max_length = max_length
        self.store_content = store_content
        self.truncated = 0
        self.text_bytes = 0  # characters of text held: what bounds a chunk's memory
        self.rows: list[dict[str, Any]] = []
        self.columns: set[str] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self,
        time_ns: int,
        session_id: str,
        event_name: str,
        columns: dict[str, Any],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        """Append one event; `columns` maps lake column names to values (None = unset).

        `columns` is kept as the row (the caller hands it over).
        """
        columns["time"] = time_ns
        columns["session_id"] = session_id
        columns["event_name"] = event_name
        if attributes:
            columns["attributes"] = attributes
        self.columns.update(columns)
        for col in TEXT_COLUMNS.intersection(columns):
            value = columns[col]
            if value is None:
                continue
            if not self.store_content and col in CONTENT_COLUMNS:
                columns[col] = None
                continue
            if len(value) > self.max_length:
                value = columns[col] = value[: self.max_length] + TRUNCATION_MARKER
                self.truncated += 1
                columns["truncated"] = columns.get("truncated", 0) + 1
            self.text_bytes += len(value)
        self.rows.append(columns)

    def response_keys(self) -> list[str | None]:
        return [r.get(RESPONSE_KEY) for r in self.rows]

    def to_arrow(
        self, *, developer_id: str, batch_id: str, keep: list[bool] | None = None
    ) -> pa.Table:
        """The rows as a lake `events` table owned by `developer_id` (only `keep` rows)."""
        rows = self.rows
        if keep is not None and not all(keep):
            rows = [r for r, k in zip(rows, keep, strict=True) if k]
        n = len(rows)
        present = self.columns
        # One pass over the rows, touching only the columns each row set (about ten).
        columns: dict[str, list[Any]] = {name: [None] * n for name in present}
        for i, r in enumerate(rows):
            for k, v in r.items():
                columns[k][i] = v
        arrays: list[pa.Array] = []
        for f in schema.EVENTS:
            name = f.name
            if name in ("time", "observed_time"):
                arrays.append(ns_array(columns.get("time", [])))
            elif name == "developer_id":
                arrays.append(pa.array([developer_id] * n, pa.string()))
            elif name == "batch_id":
                arrays.append(pa.array([batch_id] * n, pa.string()))
            elif name == "agent":
                arrays.append(pa.array([AGENT] * n, pa.string()))
            elif name == "service_name":
                arrays.append(pa.array([SERVICE_NAME] * n, pa.string()))
            elif name in ("attributes", "resource"):
                arrays.append(_map_array(columns.get(name), n))
            elif name == "truncated":
                values = [v or 0 for v in columns[name]] if name in present else [0] * n
                arrays.append(pa.array(values, f.type))
            elif name in present:
                arrays.append(pa.array(columns[name], f.type))
            else:
                arrays.append(pa.nulls(n, type=f.type))
        return pa.Table.from_arrays(arrays, schema=schema.EVENTS)


def _map_array(rows: list[Mapping[str, str] | None] | None, n: int) -> pa.Array:
    keys: list[str] = []
    values: list[str] = []
    offsets = [0]
    if rows is None:
        offsets = [0] * (n + 1)
    else:
        for row in rows:
            if row:
                keys.extend(row.keys())
                values.extend(row.values())
            offsets.append(len(keys))
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(values, pa.string())
    )


def earliest_ns(table: pa.Table) -> int | None:
    if table.num_rows == 0:
        return None
    value = pc.min(pc.cast(table.column("time"), pa.int64())).as_py()
    return None if value is None else int(value) * 1000
