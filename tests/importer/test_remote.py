"""The client half of `prism import --server`: request bodies, chunking, the manifest.

The server half runs in-process (`import_body` behind a fake POST), so both halves meet
without a network; tests/importer/test_e2e_server.py runs them against `prism serve`.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from prism.importer.runner import (
    Manifest,
    Pipeline,
    encode_body,
    import_body,
    import_remote,
    split_body,
)
from prism.importer.transcripts import describe, discover
from tests.importer.conftest import Env
from tests.importer.test_lake_import import sample_dir


def poster(env: Env, bodies: list[bytes]) -> Any:
    def post(body: bytes) -> dict[str, Any]:
        raw = gzip.decompress(body)
        bodies.append(raw)
        return import_body(raw, env.sink(), Pipeline())

    return post


def test_body_round_trip_keeps_paths_and_lines(tmp_path: Path) -> None:
    root = Path("/p")
    a, b = (
        describe(root, root / "-w/s1.jsonl"),
        describe(root, root / "-w/s1/subagents/agent-x.jsonl"),
    )
    body = encode_body([(b, b'{"type":"user"}\n{"type":"x"}'), (a, b"")])
    parts = list(split_body(body))
    assert [(f.rel, f.session_hint, f.agent_hint) for f, _ in parts] == [
        ("-w/s1/subagents/agent-x.jsonl", "s1", "x"),
        ("-w/s1.jsonl", "s1", None),
    ]
    assert parts[0][1] == [b'{"type":"user"}\n', b'{"type":"x"}\n']
    # a path cannot climb out of the upload
    ((f, _),) = split_body(b'{"type":"prism-file","path":"../../etc/passwd"}\n')
    assert f.rel == "etc/passwd"


def test_remote_import_equals_local_import(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    files = discover([folder])
    bodies: list[bytes] = []
    manifest = Manifest(tmp_path / "state.db", "http://server", "key")
    summary = import_remote(files, poster(env, bodies), manifest)
    assert summary.read.files == 9 and summary.read.lines > 0
    assert len(bodies) == 1  # small: one request
    remote_rows = env.events()
    assert summary.written == len(remote_rows)
    local = env.import_files(folder, developer_id="local-dev")
    assert local.written == len(remote_rows)
    # the manifest: a rerun sends nothing
    bodies.clear()
    again = import_remote(files, poster(env, bodies), manifest)
    assert bodies == [] and again.files_unchanged == 9
    manifest.close()


def test_oversized_groups_go_file_by_file_and_files_in_pieces(env: Env, tmp_path: Path) -> None:
    folder = sample_dir(tmp_path)
    files = discover([folder])
    bodies: list[bytes] = []
    summary = import_remote(files, poster(env, bodies), None, max_request_bytes=64 * 1024)
    longest_line = max(len(x) for f in files for x in f.path.read_bytes().splitlines())
    assert all(len(b) <= 64 * 1024 + longest_line + 512 for b in bodies)
    assert len(bodies) > 9  # the 237 KB and 132 KB samples were cut
    assert summary.read.lines == sum(len(f.path.read_bytes().splitlines()) for f in files)
    assert dict(summary.read.skipped) == {}
