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
from prism.lake.writer import LakeWriter, parquet_bytes
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
    ) -> None:
        self.storage = storage
        self.sessions = sessions
        self.writer = writer  # its _finish() performs journaled swaps
        self.min_files = min_files
        self.small_bytes = small_bytes
        self.min_age_s = min_age_s
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
        sch = schema.TABLES[table]
        parts = [pq.read_table(io.BytesIO(self.storage.read(f.path))) for f in files]
        merged = pa.concat_tables([p.select(sch.names).cast(sch) for p in parts])
        merged = merged.sort_by(
            [("developer_id", "ascending"), (schema.TIME_COLUMN[table], "ascending")]
        )
        commit_id = str(uuid.uuid4())
        rel = f"{partition}/part-{commit_id}.parquet"
        self.storage.stage(rel, parquet_bytes(merged))
        old = [f.path for f in files]
        try:
            with self.sessions.begin() as session:
                session.add(
                    LakeCommit(
                        id=commit_id,
                        state="renaming",
                        files={"publish": [rel], "delete": old},
                        records=merged.num_rows,
                        created_at=datetime.now(UTC),
                    )
                )
        except Exception:
            self.storage.discard(rel)
            raise
        self.writer._finish(commit_id, [rel], old)
        log.info("compacted %d files of %s into %s", len(old), partition, rel)
        return rel
