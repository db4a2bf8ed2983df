"""LLM titles and summaries of scored sub-sessions (the `titles` LLM task).

A small worker: each tick it takes scored, qualifying sub-sessions whose title is not yet the
LLM's (nor the developer's: `user_edited` is never touched), asks the model for a title and a
summary, and stores them with `title_source = "llm"` (the sessionizer and later verdicts keep
those). A failed answer leaves the heuristic title and is not retried until the arc changes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from prism.judge.llm import transcript
from prism.lake.query import Lake
from prism.llm import prompts
from prism.llm.client import LLMClient, client_for, task_enabled
from prism.llm.provider import LLMError
from prism.score.reader import as_utc
from prism.score.thresholds import ScoringConfig
from prism.sessions.arcs import build_arcs
from prism.sessions.model import EventRow
from prism.settings import Settings
from prism.store.models import ScoreSession, SubSession

log = logging.getLogger(__name__)
BATCH = 20


def _replaceable() -> ColumnElement[bool]:
    """Titles the LLM may replace: not already its own, never the developer's."""
    return or_(
        SubSession.title_source.is_(None),
        SubSession.title_source.not_in(("llm", "user_edited")),
    )


def title_writer(
    settings: Settings, sessions: sessionmaker[Session], lake: Lake
) -> TitleWriter | None:
    """The worker's title writer when `titles` is an LLM task, else None."""
    if not task_enabled(settings, "titles"):
        return None
    return TitleWriter(
        sessions=sessions,
        lake=lake,
        client=client_for(settings, "titles", sessions=sessions),
        config=ScoringConfig.from_settings(settings),
    )


class TitleAnswer(BaseModel):
    title: str = Field(min_length=1, max_length=80)
    summary: str = Field(min_length=1, max_length=800)


@dataclass
class TitleStats:
    titled: int = 0
    failed: int = 0
    last_run_at: float = 0.0


class TitleWriter:
    """Worker: LLM titles and summaries for scored sub-sessions."""

    name = "title-writer"

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        lake: Lake,
        client: LLMClient,
        config: ScoringConfig,
        tick_s: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.lake = lake
        self.client = client
        self.config = config
        self.tick_s = tick_s
        self.stats = TitleStats()
        self.failed: dict[str, str] = {}  # sub-session id -> content hash that failed
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("title writer run failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.tick_s)
            except TimeoutError:
                pass

    def run_once(self, limit: int = BATCH) -> int:
        """Title up to `limit` sub-sessions; returns how many got an LLM title."""
        with self.sessions() as s:
            rows = s.execute(
                select(
                    SubSession.id,
                    SubSession.org_id,
                    SubSession.developer_id,
                    SubSession.claude_session_id,
                    ScoreSession.started_at,
                    SubSession.content_hash,
                    SubSession.outcome,
                    SubSession.summary,
                )
                .join(ScoreSession, ScoreSession.id == SubSession.session_row_id)
                .where(
                    SubSession.status == "scored",
                    SubSession.qualifying.is_(True),
                    _replaceable(),
                )
                .order_by(SubSession.ended_at.desc())
                .limit(limit * 4)
            ).all()
        rows = [r for r in rows if self.failed.get(r.id) != r.content_hash][:limit]
        done = 0
        for r in rows:
            if self.title_one(
                r.id,
                r.org_id,
                r.developer_id,
                r.claude_session_id,
                as_utc(r.started_at),
                r.content_hash,
                r.outcome,
            ):
                done += 1
        self.stats.last_run_at = datetime.now(UTC).timestamp()
        return done

    def title_one(
        self,
        sub_id: str,
        org_id: str,
        developer_id: str,
        claude_session_id: str,
        started_at: datetime,
        content_hash: str,
        outcome: str | None,
    ) -> bool:
        # The whole session from its first event: arc boundaries depend on earlier arcs.
        since = started_at - timedelta(minutes=1)
        rows = self.lake.events_of_sessions(org_id, developer_id, [claude_session_id], since)
        arcs = build_arcs([EventRow.from_mapping(x) for x in rows], [], self.config)
        arc = next((a for a in arcs if a.id == sub_id), None)
        if arc is None:
            return False
        parts = transcript(arc)
        system, user = prompts.load("title").render(
            prompts=parts["prompts"], tools=parts["tools"], outcome=outcome or "unclear"
        )
        try:
            answer = self.client.ask(system, user, TitleAnswer, ref=sub_id, tool_name="name_arc")
        except LLMError as exc:
            log.info("LLM title of %s failed: %s", sub_id, exc.note)
            self.failed[sub_id] = content_hash
            self.stats.failed += 1
            return False
        with self.sessions.begin() as s:
            n = s.execute(
                update(SubSession)
                .where(SubSession.id == sub_id, _replaceable())
                .values(
                    title=answer.value.title.strip()[:300],
                    summary=answer.value.summary.strip(),
                    title_source="llm",
                    updated_at=datetime.now(UTC),
                )
            ).rowcount  # type: ignore[attr-defined]
        self.stats.titled += int(bool(n))
        return bool(n)
