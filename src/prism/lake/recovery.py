"""Finishing lake commits whose writer died, from any live worker.

A writer that dies between journaling a commit and publishing its files leaves the commit in
state `renaming`: its batches count as applied, so their redelivery is skipped, and the rows
stay invisible until someone publishes the files. `LakeWriter.recover()` does that when a worker
starts; with many workers on many machines the dead one may never start again, so every worker
also finishes commits that have been `renaming` for longer than any live writer takes. Doing a
commit's publish twice is harmless (publishing an already-published file is a no-op), so a
slow live writer racing this is safe.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from prism.lake.writer import LakeWriter
from prism.store.models import LakeCommit

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)


def finish_stale_commits(writer: LakeWriter, *, older_than: timedelta = STALE_AFTER) -> int:
    """Publish the files of commits stuck in `renaming`; return how many were finished."""
    cutoff = datetime.now(UTC) - older_than
    with writer.sessions() as session:
        stale = list(
            session.scalars(
                select(LakeCommit).where(
                    LakeCommit.state == "renaming", LakeCommit.created_at < cutoff
                )
            )
        )
    for commit in stale:
        files = commit.files if isinstance(commit.files, dict) else {"publish": commit.files}
        writer._finish(commit.id, files.get("publish", []), files.get("delete", []))
        log.info("finished lake commit %s left by a stopped writer", commit.id)
    return len(stale)
