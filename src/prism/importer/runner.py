"""`prism import`: transcripts -> lake, idempotent, resumable, streaming.

Files are read one line at a time and mapped one session group at a time (the session's
subagent transcripts, then its main file); mapped events are written in chunks of bounded size,
so memory is bounded by the largest session, not by the corpus. Every chunk is journaled by the
lake once (`sink.py`), and a manifest remembers each file's size and modification time once the
chunk holding it is durable: a rerun skips unchanged files at once and picks up the rest (an
interrupted import resumes where it stopped; a grown session file is read again and only its
new events are written).

Two targets share everything but the last step: offline, on the local data directory, the chunk
goes straight into the lake (`LakeSink`); against a server, the raw lines go to
`POST /v1/import/transcripts` and the server maps and writes them the same way (`import_body`),
attributed to the key's owner.
"""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from prism.importer.mapping import MapStats, ResponseIndex, SessionMapper
from prism.importer.rows import ImportedEvents
from prism.importer.sink import LakeSink, WriteResult
from prism.importer.transcripts import (
    ReadStats,
    TranscriptFile,
    describe,
    iter_records,
    open_lines,
)
from prism.pricing.table import PriceTable, default_table

CHUNK_EVENTS = 50_000
CHUNK_TEXT_BYTES = 48 << 20
TASK_BYTES = 8 << 20
REMOTE_CHUNK_BYTES = 12 << 20
REMOTE_MAX_BYTES = 48 << 20  # under the server's PRISM_MAX_DECOMPRESSED_BYTES (64 MiB default)
FILE_MARKER = "prism-file"  # a body line {"type": "prism-file", "path": ...} starts a file


# --- one pass of mapping, shared by the CLI and the server ---------------------------------------
class Pipeline:
    """Maps files in order into chunks of events; chunks end only between session groups."""

    def __init__(
        self,
        prices: PriceTable | None = None,
        *,
        max_length: int = 65536,
        store_content: bool = True,
    ) -> None:
        self.prices = prices or default_table()
        self.max_length = max_length
        self.store_content = store_content
        self.read = ReadStats()
        self.mapped = MapStats()
        self.events = self._new_events()
        self._responses = ResponseIndex()
        self._mapper = SessionMapper(self.events, self.prices, self._responses, self.mapped)
        self._group: tuple[str, str] | None = None
        self._project: str | None = None

    def _new_events(self) -> ImportedEvents:
        return ImportedEvents(max_length=self.max_length, store_content=self.store_content)

    def add_file(self, f: TranscriptFile, lines: Iterable[bytes]) -> None:
        group = (f.project, f.session_hint)
        if group != self._group:
            self._mapper.finish()
            self._group = group
        if f.project != self._project:
            # ccusage dedupes responses across files; a resumed or forked session lives in
            # the same project folder, so one project's worth of keys is enough (and bounded).
            self._responses = ResponseIndex()
            self._mapper.responses = self._responses
            self._project = f.project
        self.read.files += 1
        self._mapper.map_file(f, iter_records(lines, self.read))

    def end_group(self) -> None:
        self._mapper.finish()
        self._group = None

    def full(self) -> bool:
        return len(self.events) >= CHUNK_EVENTS or self.events.text_bytes >= CHUNK_TEXT_BYTES

    def take(self) -> ImportedEvents:
        """The events mapped so far (call at a group boundary); mapping continues afresh."""
        self._mapper.finish()
        self._group = None
        out = self.events
        self.events = self._new_events()
        self._mapper.out = self.events
        return out


# --- the manifest ---------------------------------------------------------------------------------
class Manifest:
    """Which files were imported, as (size, mtime): a small SQLite file beside the data."""

    def __init__(self, path: Path, target: str, owner: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False)  # the writer thread records
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS imported (target TEXT, owner TEXT, path TEXT, "
            "size INTEGER, mtime_ns INTEGER, imported_at REAL, "
            "PRIMARY KEY (target, owner, path))"
        )
        self.db.commit()
        self.target, self.owner = target, owner
        self._known: dict[str, tuple[int, int]] = {
            p: (s, m)
            for p, s, m in self.db.execute(
                "SELECT path, size, mtime_ns FROM imported WHERE target = ? AND owner = ?",
                (target, owner),
            )
        }

    def unchanged(self, f: TranscriptFile) -> bool:
        return self._known.get(str(f.path)) == (f.size, f.mtime_ns)

    def record(self, files: Iterable[TranscriptFile]) -> None:
        now = time.time()
        rows = [(self.target, self.owner, str(f.path), f.size, f.mtime_ns, now) for f in files]
        self.db.executemany("INSERT OR REPLACE INTO imported VALUES (?, ?, ?, ?, ?, ?)", rows)
        self.db.commit()
        for f in files:
            self._known[str(f.path)] = (f.size, f.mtime_ns)

    def close(self) -> None:
        self.db.close()


# --- the summary ----------------------------------------------------------------------------------
@dataclass
class Summary:
    files_found: int = 0
    files_unchanged: int = 0
    read: ReadStats = field(default_factory=ReadStats)
    mapped: MapStats = field(default_factory=MapStats)
    written: int = 0
    already_there: int = 0
    chunks: int = 0
    seconds: float = 0.0

    def add_write(self, r: WriteResult) -> None:
        self.written += r.written
        self.already_there += r.already_there
        self.chunks += 1

    def as_dict(self) -> dict[str, Any]:
        mb = self.read.bytes / 1e6
        return {
            "files": {
                "found": self.files_found,
                "read": self.read.files,
                "unchanged": self.files_unchanged,
            },
            "lines": self.read.lines,
            "bytes": self.read.bytes,
            "records": self.read.records,
            "record_types": dict(sorted(self.read.types.items())),
            "skipped_lines": dict(sorted(self.read.skipped.items())),
            "unknown_types": dict(sorted(self.mapped.unknown_types.items())),
            "events": dict(sorted(self.mapped.events.items())),
            "events_written": self.written,
            "events_already_stored": self.already_there,
            "duplicate_responses": self.mapped.duplicate_responses,
            "sidechain_replays": self.mapped.sidechain_replays,
            "unpriced_models": dict(sorted(self.mapped.unpriced_models.items())),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(mb / self.seconds, 1) if self.seconds else None,
        }

    def merge_remote(self, body: dict[str, Any]) -> None:
        r = self.read
        r.files += int(body.get("files", 0))
        r.lines += int(body.get("lines", 0))
        r.bytes += int(body.get("bytes", 0))
        r.records += int(body.get("records", 0))
        r.types.update(body.get("record_types", {}))
        r.skipped.update(body.get("skipped_lines", {}))
        m = self.mapped
        m.events.update(body.get("events", {}))
        m.unknown_types.update(body.get("unknown_types", {}))
        m.unpriced_models.update(body.get("unpriced_models", {}))
        m.duplicate_responses += int(body.get("duplicate_responses", 0))
        m.sidechain_replays += int(body.get("sidechain_replays", 0))
        self.written += int(body.get("events_written", 0))
        self.already_there += int(body.get("events_already_stored", 0))
        self.chunks += 1


Progress = Callable[[int], None]


def _digest(files: Iterable[TranscriptFile]) -> bytes:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.rel}\x00{f.size}\x00{f.mtime_ns}\x00".encode())
    return h.digest()


def _session_groups(files: list[TranscriptFile]) -> Iterator[list[TranscriptFile]]:
    group: list[TranscriptFile] = []
    key: tuple[str, str] | None = None
    for f in files:
        k = (f.project, f.session_hint)
        if group and k != key:
            yield group
            group = []
        key = k
        group.append(f)
    if group:
        yield group


# --- mapping tasks (in this process or in worker processes) ------------------------------------
@dataclass
class MapResult:
    table: pa.Table  # lake `events` rows, owner columns still blank
    responses: list[str | None]  # RESPONSE_KEY of each row
    read: ReadStats
    mapped: MapStats


def map_files(
    files: list[TranscriptFile], max_length: int = 65536, store_content: bool = True
) -> MapResult:
    """Map whole session groups read from disk (the unit of work of a worker)."""
    pipe = Pipeline(max_length=max_length, store_content=store_content)
    for group in _session_groups(files):
        for f in group:
            try:
                with open_lines(f.path) as lines:
                    pipe.add_file(f, lines)
            except OSError:
                pipe.read.skipped["unreadable_file"] += 1
        pipe.end_group()
    events = pipe.take()
    return MapResult(
        table=events.to_arrow(developer_id="", batch_id=""),
        responses=events.response_keys(),
        read=pipe.read,
        mapped=pipe.mapped,
    )


class ResponseFilter:
    """Counts each (project, message.id, requestId) once across chunks (ccusage's dedupe).

    Keys are kept as 64-bit hashes in two generations of at most `limit` each: files are read
    in time order, and a response is repeated (a resumed or forked session) soon after it was
    first written, so memory stays bounded however large the corpus.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._current: set[int] = set()
        self._previous: set[int] = set()

    def _add(self, key: str) -> bool:
        h = hash(key)
        if h in self._current or h in self._previous:
            return False
        self._current.add(h)
        if len(self._current) >= self.limit:
            self._previous, self._current = self._current, set()
        return True

    def mask(self, result: MapResult) -> list[bool] | None:
        """Rows to keep (None: all). A response's rows share its key, its `api_request`
        first, so a key's first decision is that request's."""
        responses = result.responses
        decided: dict[str, bool] = {}
        drop: list[int] = []
        add = self._add
        for i, key in enumerate(responses):
            if key is None:
                continue
            keep = decided.get(key)
            if keep is None:
                keep = decided[key] = add(key)
                if not keep:
                    result.mapped.duplicate_responses += 1
            if not keep:
                drop.append(i)
        if not drop:
            return None
        out = [True] * len(responses)
        for i in drop:
            out[i] = False
        return out


def _tasks(
    groups: Iterable[list[TranscriptFile]], task_bytes: int
) -> Iterator[list[TranscriptFile]]:
    task: list[TranscriptFile] = []
    size = 0
    for group in groups:
        task.extend(group)
        size += sum(f.size for f in group)
        if size >= task_bytes:
            yield task
            task, size = [], 0
    if task:
        yield task


def worker_pool(workers: int) -> Executor | None:
    """Processes for mapping (fork: they inherit the loaded modules); None for one worker.

    Create it before the lake's query engine starts its threads.
    """
    if workers <= 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    list(pool.map(int, range(workers)))  # start them now
    return pool


# --- offline: straight into the local lake ----------------------------------------------------
def import_local(
    files: list[TranscriptFile],
    sink: LakeSink,
    manifest: Manifest | None,
    *,
    max_length: int = 65536,
    store_content: bool = True,
    pool: Executor | None = None,
    progress: Progress | None = None,
    task_bytes: int = TASK_BYTES,
) -> Summary:
    """Map files (in `pool` when given) and write them in chunks; see the module docstring."""
    started = time.monotonic()
    summary = Summary(files_found=len(files))
    responses = ResponseFilter()
    tables: list[pa.Table] = []
    rows = 0
    pending: list[TranscriptFile] = []
    # Writing (Parquet, the lake check, the journal) runs on one thread beside the mapping;
    # one chunk in flight at most, so memory stays bounded.
    writer = ThreadPoolExecutor(1, thread_name_prefix="import-writer")
    in_flight: Future[None] | None = None

    def write(table: pa.Table | None, files: list[TranscriptFile]) -> None:
        if table is not None and table.num_rows:
            summary.add_write(sink.write(table, _digest(files)))
        if manifest is not None and files:
            manifest.record(files)

    def flush() -> None:
        nonlocal rows, in_flight
        if in_flight is not None:
            in_flight.result()
            in_flight = None
        if tables or pending:
            table = pa.concat_tables(tables) if tables else None
            in_flight = writer.submit(write, table, list(pending))
        tables.clear()
        pending.clear()
        rows = 0

    todo_groups: list[list[TranscriptFile]] = []
    for group in _session_groups(files):
        # A session is imported whole: the unchanged files of a changed session are read
        # again, so its subagents' calls and its main file stay one group.
        if manifest is not None and all(manifest.unchanged(f) for f in group):
            summary.files_unchanged += len(group)
            if progress:
                progress(sum(f.size for f in group))
            continue
        todo_groups.append(group)
    # Oldest sessions first (by when their files were last written): a chunk then covers a
    # few days, so it is written as a few date partitions and checked against few of them.
    todo_groups.sort(key=lambda g: max(f.mtime_ns for f in g))
    tasks = list(_tasks(todo_groups, task_bytes))
    if pool is None:
        results: Iterable[tuple[list[TranscriptFile], MapResult]] = (
            (t, map_files(t, max_length, store_content)) for t in tasks
        )
    else:
        results = _ordered(pool, tasks, max_length, store_content, ahead=4)
    for task, result in results:
        summary.read.merge(result.read)
        summary.mapped.merge(result.mapped)
        mask = responses.mask(result)
        table = result.table if mask is None else result.table.filter(pa.array(mask))
        if table.num_rows:
            tables.append(table)
            rows += table.num_rows
        pending.extend(task)
        if progress:
            progress(sum(f.size for f in task))
        if rows >= CHUNK_EVENTS:
            flush()
    flush()
    try:
        if in_flight is not None:
            in_flight.result()
    finally:
        writer.shutdown()
    summary.seconds = time.monotonic() - started
    return summary


def _ordered(
    pool: Executor,
    tasks: list[list[TranscriptFile]],
    max_length: int,
    store_content: bool,
    *,
    ahead: int,
) -> Iterator[tuple[list[TranscriptFile], MapResult]]:
    """Results in task order, with at most `ahead` tasks in flight (bounded memory)."""
    queue: deque[tuple[list[TranscriptFile], Future[MapResult]]] = deque()
    it = iter(tasks)
    for task in it:
        queue.append((task, pool.submit(map_files, task, max_length, store_content)))
        if len(queue) >= ahead:
            break
    while queue:
        task, fut = queue.popleft()
        result = fut.result()
        nxt = next(it, None)
        if nxt is not None:
            queue.append((nxt, pool.submit(map_files, nxt, max_length, store_content)))
        yield task, result


# --- against a server ---------------------------------------------------------------------------
def encode_body(group_files: list[tuple[TranscriptFile, bytes]]) -> bytes:
    """NDJSON: per file a marker line, then its lines as they are on disk."""
    parts: list[bytes] = []
    for f, data in group_files:
        parts.append(
            orjson.dumps(
                {"type": FILE_MARKER, "path": f.rel, "size": f.size, "mtime_ns": f.mtime_ns}
            )
        )
        parts.append(b"\n")
        parts.append(data)
        if data and not data.endswith(b"\n"):
            parts.append(b"\n")
    return b"".join(parts)


def split_body(body: bytes) -> Iterator[tuple[TranscriptFile, list[bytes]]]:
    """The files of an import body (lines before any marker form an unnamed file)."""
    current: TranscriptFile | None = None
    lines: list[bytes] = []
    marker = FILE_MARKER.encode()
    for line in body.splitlines(keepends=True):
        if marker in line[:64] and line.startswith(b'{"type":"prism-file"'):
            if current is not None or lines:
                yield current or _virtual("upload.jsonl", 0, 0), lines
            try:
                meta = orjson.loads(line)
            except orjson.JSONDecodeError:
                meta = {}
            path = meta.get("path") if isinstance(meta, dict) else None
            current = _virtual(str(path or "upload.jsonl"), 0, 0)
            lines = []
            continue
        lines.append(line)
    if current is not None or lines:
        yield current or _virtual("upload.jsonl", 0, 0), lines


def _virtual(rel: str, size: int, mtime_ns: int) -> TranscriptFile:
    """A file known only by the relative path its uploader gave (never touched on disk)."""
    clean = "/".join(p for p in rel.replace("\\", "/").split("/") if p not in ("", ".", ".."))
    root = Path("/upload")
    return describe(root, root / (clean or "upload.jsonl"), size, mtime_ns)


def import_body(body: bytes, sink: LakeSink, pipeline: Pipeline) -> dict[str, Any]:
    """Server side of `POST /v1/import/transcripts`: map and write one request body."""
    started = time.monotonic()
    summary = Summary()
    for f, lines in split_body(body):
        pipeline.add_file(f, lines)
    pipeline.end_group()
    events = pipeline.take()
    table = events.to_arrow(developer_id="", batch_id="")
    summary.add_write(sink.write(table, hashlib.sha256(body).digest()))
    summary.read, summary.mapped = pipeline.read, pipeline.mapped
    summary.files_found = summary.read.files
    summary.seconds = time.monotonic() - started
    out = summary.as_dict()
    out["files"] = summary.read.files  # flat, for the client to add up
    return out


def import_remote(
    files: list[TranscriptFile],
    post: Callable[[bytes], dict[str, Any]],
    manifest: Manifest | None,
    *,
    progress: Progress | None = None,
    chunk_bytes: int = REMOTE_CHUNK_BYTES,
    max_request_bytes: int = REMOTE_MAX_BYTES,
) -> Summary:
    """Send whole session groups, about `chunk_bytes` per request, gzip-compressed.

    A session group is one request so its subagents' calls and its main file are deduped
    together; only a group over `max_request_bytes` (the server's decompressed-body limit) is
    sent file by file, and a single file over it in pieces cut at line ends (an API response
    whose lines straddle two pieces may then keep an early line's placeholder usage).
    """
    started = time.monotonic()
    summary = Summary(files_found=len(files))
    batch: list[tuple[TranscriptFile, bytes]] = []
    size = 0

    def send(parts: list[tuple[TranscriptFile, bytes]], record: list[TranscriptFile]) -> None:
        if parts:
            summary.merge_remote(post(gzip.compress(encode_body(parts), compresslevel=3)))
        if manifest is not None and record:
            manifest.record(record)
        if progress:
            progress(sum(f.size for f in record))

    def flush() -> None:
        nonlocal size
        send(batch, [f for f, _ in batch])
        batch.clear()
        size = 0

    for group in _session_groups(files):
        if manifest is not None and all(manifest.unchanged(f) for f in group):
            summary.files_unchanged += len(group)
            if progress:
                progress(sum(f.size for f in group))
            continue
        loaded: list[tuple[TranscriptFile, bytes]] = []
        for f in group:
            try:
                loaded.append((f, f.path.read_bytes()))
            except OSError:
                summary.read.skipped["unreadable_file"] += 1
        group_size = sum(len(d) for _, d in loaded)
        if group_size > max_request_bytes:
            flush()
            for f, data in loaded:
                for piece in _pieces(data, max_request_bytes):
                    send([(f, piece)], [])
                send([], [f])
            continue
        if size + group_size > max_request_bytes:
            flush()
        batch.extend(loaded)
        size += group_size
        if size >= chunk_bytes:
            flush()
    flush()
    summary.seconds = time.monotonic() - started
    return summary


def _pieces(data: bytes, limit: int) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = start + limit
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            if cut < start:  # one line longer than the limit: it travels whole
                cut = data.find(b"\n", end)
            end = cut + 1 if cut >= 0 else len(data)
        yield data[start:end]
        start = end
