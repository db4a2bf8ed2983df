"""Compaction: many small Parquet files of one partition -> one file.

Small files are the price of a fresh lake (the writer flushes every half second); queries slow
down as they pile up. The compactor rewrites a partition's small files into one, journals the
swap like a writer commit (so a crash mid-swap is finished by recovery), and performs the swap
under the storage's exclusive lock so no query sees both the new file and its originals.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session, sessionmaker

from prism.lake import schema
from prism.lake.storage import FileInfo, LakeStorage
from prism.lake.writer import LakeWriter
from prism.store.models import LakeCommit

log = logging.getLogger(__name__)


class Compactor:
    name = "lake-compactor"

    def __init__(
        self,
        *,
        storage: LakeStorage,
        sessions: sessionmaker[Session],
        writer: LakeWriter,
        min_files: int = 16,
        small_bytes: int = 8 << 20,
        min_age_s: float = 5.0,
        group_rows: int = 65_536,
    ) -> None:
        self.storage = storage
        self.sessions = sessions
        self.writer = writer  # its _finish() performs journaled swaps
        self.min_files = min_files
        self.small_bytes = small_bytes
        self.min_age_s = min_age_s
        self.group_rows = group_rows  # rows per row group of a compacted file (bounds memory)
        self.compactions = 0

    def candidates(self, now: float) -> dict[str, list[FileInfo]]:
        groups: dict[str, list[FileInfo]] = defaultdict(list)
        for table in schema.TABLES:
            for f in self.storage.list(table):
                if f.size < self.small_bytes and now - f.mtime >= self.min_age_s:
                    groups[f.path.rsplit("/", 1)[0]].append(f)
        return {p: fs for p, fs in groups.items() if len(fs) >= self.min_files}

    def run_once(self, now: float) -> int:
        """Compact every partition that has enough small files; return how many."""
        done = 0
        for partition, files in self.candidates(now).items():
            self.compact(partition, sorted(files, key=lambda f: f.path))
            done += 1
        self.compactions += done
        return done

    def compact(self, partition: str, files: list[FileInfo]) -> str:
        table = partition.split("/", 1)[0]
        commit_id = str(uuid.uuid4())
        rel = f"{partition}/part-{commit_id}.parquet"
        data, rows = self._merge(table, files)
        self.storage.stage(rel, data)
        old = [f.path for f in files]
        try:
            with self.sessions.begin() as session:
                session.add(
                    LakeCommit(
                        id=commit_id,
                        state="renaming",
                        files={"publish": [rel], "delete": old},
                        records=rows,
                        created_at=datetime.now(UTC),
                    )
                )
        except Exception:
            self.storage.discard(rel)
            raise
        self.writer._finish(commit_id, [rel], old)
        log.info("compacted %d files of %s into %s", len(old), partition, rel)
        return rel

    def _merge(self, table: str, files: list[FileInfo]) -> tuple[bytes, int]:
        """One Parquet file from `files`, built a row group at a time.

        Decoded, an event with its attribute maps takes a kilobyte or two, so merging a
        partition's small files at once could take gigabytes; here memory holds one row group
        (`group_rows` rows, each sorted like the writer's files) plus the compressed output.
        """
        sch = schema.TABLES[table]
        order = [("developer_id", "ascending"), (schema.TIME_COLUMN[table], "ascending")]
        out = io.BytesIO()
        rows = 0
        pending: list[pa.Table] = []
        pending_rows = 0
        with pq.ParquetWriter(
            out, sch, compression="zstd", use_dictionary=True, write_statistics=True
        ) as writer:

            def flush() -> None:
                group = pa.concat_tables(pending).sort_by(order)
                writer.write_table(group, row_group_size=max(1, group.num_rows))
                pending.clear()

            for f in files:
                # By row group: a file under `small_bytes` may still hold hundreds of
                # thousands of rows (an earlier compaction's output, for one).
                source = pq.ParquetFile(io.BytesIO(self.storage.read(f.path)))
                for i in range(source.num_row_groups):
                    part = source.read_row_group(i)
                    pending.append(part.select(sch.names).cast(sch))
                    pending_rows += part.num_rows
                    if pending_rows >= self.group_rows:
                        flush()
                        rows, pending_rows = rows + pending_rows, 0
            if pending:
                flush()
                rows += pending_rows
        return out.getvalue(), rows
