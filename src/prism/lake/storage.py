"""Where lake files live: a small object-store seam with a local-folder implementation.

The writer never shows a half-written file: it stages bytes under a temporary name (not ending
in `.parquet`, so readers ignore it) and publishes with an atomic rename. Compaction swaps files
under an exclusive lock that readers take shared, so a query never sees a compacted file and its
originals together. An S3 implementation (scale mode) keeps the same interface.
"""

from __future__ import annotations

import builtins
import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str  # relative to the lake root, e.g. events/org_id=.../date=.../part-....parquet
    size: int
    mtime: float


class LakeStorage(Protocol):
    root: str

    def stage(self, rel_path: str, data: bytes) -> None:
        """Write `data` durably under the temporary name of `rel_path`."""

    def publish(self, rel_path: str) -> bool:
        """Make the staged file visible; False when nothing was staged (already published)."""

    def discard(self, rel_path: str) -> None:
        """Delete the staged (temporary) file of `rel_path`, if any."""

    def exists(self, rel_path: str) -> bool: ...

    def delete(self, rel_path: str) -> None: ...

    def list(self, prefix: str) -> builtins.list[FileInfo]:
        """Published files under `prefix`."""

    def list_staged(self) -> builtins.list[FileInfo]: ...

    def read(self, rel_path: str) -> bytes: ...

    def swap_lock(self, *, exclusive: bool) -> AbstractContextManager[None]:
        """Context manager: shared for readers, exclusive for a compaction swap."""

    def table_url(self, table: str) -> str:
        """Location DataFusion registers for `table`."""


def temp_name(rel_path: str) -> str:
    head, _, name = rel_path.rpartition("/")
    return f"{head}/.{name}{TEMP_SUFFIX}" if head else f".{name}{TEMP_SUFFIX}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    """The lake in a local folder (the embedded default)."""

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True)
        self.root = str(self._root)
        self._lock_path = self._root / ".swap.lock"
        self._lock_path.touch(exist_ok=True)

    def stage(self, rel_path: str, data: bytes) -> None:
        tmp = self._root / temp_name(rel_path)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def publish(self, rel_path: str) -> bool:
        tmp = self._root / temp_name(rel_path)
        final = self._root / rel_path
        try:
            os.rename(tmp, final)
        except FileNotFoundError:
            return False
        _fsync_dir(final.parent)
        return True

    def discard(self, rel_path: str) -> None:
        try:
            (self._root / temp_name(rel_path)).unlink()
        except FileNotFoundError:
            pass

    def exists(self, rel_path: str) -> bool:
        return (self._root / rel_path).exists()

    def delete(self, rel_path: str) -> None:
        try:
            (self._root / rel_path).unlink()
        except FileNotFoundError:
            pass

    def list(self, prefix: str) -> builtins.list[FileInfo]:
        base = self._root / prefix
        if not base.exists():
            return []
        out = []
        for p in base.rglob("*.parquet"):
            if p.name.startswith("."):
                continue
            st = p.stat()
            out.append(FileInfo(str(p.relative_to(self._root)), st.st_size, st.st_mtime))
        return out

    def list_staged(self) -> builtins.list[FileInfo]:
        out = []
        for p in self._root.rglob(f".*{TEMP_SUFFIX}"):
            st = p.stat()
            rel = str(p.relative_to(self._root))
            head, _, name = rel.rpartition("/")
            final = name[1 : -len(TEMP_SUFFIX)]
            out.append(FileInfo(f"{head}/{final}" if head else final, st.st_size, st.st_mtime))
        return out

    def read(self, rel_path: str) -> bytes:
        return (self._root / rel_path).read_bytes()

    @contextmanager
    def swap_lock(self, *, exclusive: bool) -> Iterator[None]:
        with open(self._lock_path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def table_url(self, table: str) -> str:
        path = self._root / table
        path.mkdir(parents=True, exist_ok=True)
        return str(path) + "/"


def open_storage(lake_root: str) -> LakeStorage:
    if lake_root.startswith("s3://"):
        from prism.lake.s3 import S3Storage  # scale mode only

        return S3Storage(lake_root)
    return LocalStorage(lake_root)
