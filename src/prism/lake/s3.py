"""The lake on an S3-compatible object store (scale mode): AWS S3, MinIO, moto, ...

Writes go through pyarrow's S3 filesystem; reads through DataFusion's own S3 object store
(`register_object_store`), both configured from the same place: `PRISM_LAKE_URL`
(s3://bucket/prefix), `PRISM_S3_ENDPOINT_URL` for non-AWS stores (path-style addressing), and
the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` / `AWS_REGION`
variables (without keys, pyarrow falls back to the AWS default chain: profile, instance role).

Atomic writes: S3 has no rename, but a PUT is atomic (a reader sees the whole object or none).
`stage` PUTs the bytes under the hidden temporary key (`.part-….parquet.tmp`, ignored by
readers), `publish` copies it server-side to the final key and deletes the temporary one.
Publishing twice is harmless, so recovery and a concurrent writer may both finish a commit.

Compaction vs. readers (the swap lock). A compaction publishes one merged file and deletes its
originals; a query that lists the partition in between would count rows twice, and one that
listed before would fail reading a deleted original. A local `flock` cannot order processes on
different machines, so the lock lives where every process already is: the metadata store.
On PostgreSQL each query holds a transaction-scoped *shared* advisory lock and the swap an
*exclusive* one (`prism.store.locks`), keyed by the lake URL; PostgreSQL queues a waiting
exclusive request ahead of later shared ones, so the swap (a few copies and deletes) waits only
for queries already running. A process that dies holding the lock loses its connection and with
it the lock. With a SQLite metadata store (one machine) it is a `flock` beside the database.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs
from sqlalchemy import Engine, create_engine

from prism.errors import ConfigError
from prism.lake.storage import TEMP_SUFFIX, FileInfo, temp_name
from prism.store import locks
from prism.store.db import is_postgres, make_engine

DEFAULT_REGION = "us-east-1"


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"lake URL {url!r} is not s3://bucket/prefix (PRISM_LAKE_URL)")
    return parts.netloc, parts.path.strip("/")


class S3Storage:
    """LakeStorage on S3 (see module docstring)."""

    def __init__(
        self,
        root: str,
        *,
        endpoint_url: str | None = None,
        database_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        lock_engine: Engine | None = None,
    ) -> None:
        if database_url is None and lock_engine is None:
            # Built from a bare URL by `open_storage`: the rest comes from the process settings.
            from prism.settings import load_settings

            settings = load_settings()
            endpoint_url = endpoint_url or settings.s3_endpoint_url
            database_url = database_url or settings.resolved_database_url
        self.bucket, self.prefix = parse_s3_url(root)
        self.root = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        self.region = (
            region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        ) or DEFAULT_REGION
        self._access_key = access_key or os.environ.get("AWS_ACCESS_KEY_ID")
        self._secret_key = secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        self._session_token = session_token or os.environ.get("AWS_SESSION_TOKEN")
        self.fs = self._filesystem()
        self._database_url = database_url
        self._lock_engine = lock_engine

    def _filesystem(self, *, attempts: int = 3, timeout: float = 60.0) -> pafs.S3FileSystem:
        options: dict[str, Any] = {
            "region": self.region,
            "connect_timeout": 5.0,
            "request_timeout": timeout,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=attempts),
        }
        if self._access_key and self._secret_key:
            options.update(
                access_key=self._access_key,
                secret_key=self._secret_key,
                session_token=self._session_token,
            )
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            options["scheme"] = parts.scheme or "https"
            options["endpoint_override"] = parts.netloc or parts.path
        return pafs.S3FileSystem(**options)

    # --- keys ------------------------------------------------------------------------------------
    def _key(self, rel_path: str) -> str:
        """bucket/prefix/rel_path, the path pyarrow's S3 filesystem takes."""
        base = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"{base}/{rel_path}" if rel_path else base

    def _rel(self, key: str) -> str:
        return key[len(self._key("")) + 1 :]

    # --- LakeStorage -----------------------------------------------------------------------------
    def stage(self, rel_path: str, data: bytes) -> None:
        # Returns once the PUT is acknowledged: S3 stores an object durably before answering.
        with self.fs.open_output_stream(self._key(temp_name(rel_path))) as f:
            f.write(data)

    def publish(self, rel_path: str) -> bool:
        tmp = self._key(temp_name(rel_path))
        try:
            self.fs.copy_file(tmp, self._key(rel_path))
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or "NO_SUCH_KEY" in str(exc):
                return False  # published already (by us before a crash, or by recovery)
            raise
        self.discard(rel_path)
        return True

    def discard(self, rel_path: str) -> None:
        self._delete_key(self._key(temp_name(rel_path)))

    def exists(self, rel_path: str) -> bool:
        return self.fs.get_file_info(self._key(rel_path)).type == pafs.FileType.File

    def delete(self, rel_path: str) -> None:
        self._delete_key(self._key(rel_path))

    def _delete_key(self, key: str) -> None:
        try:
            self.fs.delete_file(key)
        except FileNotFoundError:
            pass

    def _walk(self, prefix: str) -> Iterator[pafs.FileInfo]:
        selector = pafs.FileSelector(self._key(prefix), recursive=True, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                yield info

    def list(self, prefix: str) -> builtins.list[FileInfo]:
        out = []
        for info in self._walk(prefix):
            if info.base_name.endswith(".parquet") and not info.base_name.startswith("."):
                out.append(FileInfo(self._rel(info.path), int(info.size or 0), _mtime(info)))
        return out

    def list_staged(self) -> builtins.list[FileInfo]:
        out = []
        for info in self._walk(""):
            name = info.base_name
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                rel = self._rel(info.path)
                head = rel.rpartition("/")[0]
                final = name[1 : -len(TEMP_SUFFIX)]
                out.append(
                    FileInfo(
                        f"{head}/{final}" if head else final, int(info.size or 0), _mtime(info)
                    )
                )
        return out

    def read(self, rel_path: str) -> bytes:
        with self.fs.open_input_stream(self._key(rel_path)) as f:
            data: bytes = f.read()
        return data

    @contextmanager
    def swap_lock(self, *, exclusive: bool) -> Iterator[None]:
        with locks.shared_lock(self._locks(), f"lake-swap:{self.root}", exclusive=exclusive):
            yield

    def _locks(self) -> Engine:
        if self._lock_engine is None:
            url = self._database_url or ""
            if is_postgres(url):
                # Each running query holds one connection for its duration: room for many.
                self._lock_engine = create_engine(
                    url, pool_size=2, max_overflow=48, pool_pre_ping=True, pool_timeout=60
                )
            else:
                self._lock_engine = make_engine(url)
        return self._lock_engine

    def table_url(self, table: str) -> str:
        return f"s3://{self._key(table)}/"

    # --- DataFusion and start-up checks ------------------------------------------------------
    def register_object_store(self, ctx: Any) -> None:
        """Tell a DataFusion SessionContext how to read this bucket."""
        from datafusion.object_store import AmazonS3

        store = AmazonS3(
            bucket_name=self.bucket,
            region=self.region,
            access_key_id=self._access_key,
            secret_access_key=self._secret_key,
            session_token=self._session_token,
            endpoint=self.endpoint_url,
            allow_http=bool(self.endpoint_url and self.endpoint_url.startswith("http://")),
        )
        ctx.register_object_store("s3://", store, self.bucket)

    def check(self) -> None:
        """Stop start-up with a message naming the fix when the bucket cannot be used."""
        where = f"{self.root} (endpoint {self.endpoint_url or 'AWS'})"
        probe_fs = self._filesystem(attempts=1, timeout=10.0)
        try:
            info = probe_fs.get_file_info(self.bucket)
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the S3 lake at {where}: {_short(exc)}. Check PRISM_S3_ENDPOINT_URL, "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION and that the store runs."
            ) from None
        if info.type == pafs.FileType.NotFound:
            raise ConfigError(
                f"S3 bucket {self.bucket!r} does not exist at {where}: create it "
                f"(aws s3 mb s3://{self.bucket}) or fix PRISM_LAKE_URL."
            )
        probe = self._key(".prism-probe")
        try:
            with probe_fs.open_output_stream(probe) as f:
                f.write(b"ok")
            probe_fs.delete_file(probe)
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the S3 lake at {where}: {_short(exc)}. The credentials need "
                "s3:PutObject, s3:GetObject, s3:DeleteObject and s3:ListBucket on the bucket."
            ) from None


def _mtime(info: pafs.FileInfo) -> float:
    return info.mtime.timestamp() if info.mtime is not None else 0.0


def _short(exc: Exception) -> str:
    text = str(exc)
    return text.split("; Details:", 1)[0][:300]
