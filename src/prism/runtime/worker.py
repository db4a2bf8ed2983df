"""`prism worker`: background work: lake writer, compactor, sessionizer and judge."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time

from prism import metrics
from prism.events import bus
from prism.insights.titles import title_writer
from prism.judge.llm import judge_for
from prism.lake.compact import Compactor
from prism.lake.query import Lake
from prism.lake.recovery import finish_stale_commits
from prism.lake.storage import open_storage
from prism.lake.writer import LakeWriter
from prism.queue import open_queue
from prism.runtime.parts import normalize_options, open_store, setup_logging
from prism.score.thresholds import ScoringConfig
from prism.sessions.worker import Sessionizer, dirty_hook
from prism.settings import Settings
from prism.store.db import session_factory
from prism.store.locks import run_exclusively
from prism.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)
HOUSEKEEPING_EVERY_S = 5.0


async def run_worker(settings: Settings) -> None:
    setup_logging(settings, "worker")
    metrics.enable_multiprocess(settings.data_dir / "metrics")
    engine, _ = open_store(settings)
    sessions = session_factory(engine)
    queue = open_queue(settings)
    storage = open_storage(settings.lake_root)
    writer = LakeWriter(
        queue=queue,
        storage=storage,
        sessions=sessions,
        options=normalize_options(settings),
        flush_batches=settings.lake_flush_batches,
        idle_wait_s=settings.lake_flush_seconds,
    )
    compactor = Compactor(
        storage=storage,
        sessions=sessions,
        writer=writer,
        min_files=settings.lake_compact_min_files,
        small_bytes=settings.lake_compact_small_bytes,
    )
    writer.in_transaction.append(dirty_hook)
    telemetry = bus.TelemetryEvents(sessions)
    writer.in_transaction.append(telemetry.count)
    writer.on_flush.append(telemetry.publish)
    sessionizer = Sessionizer(
        sessions=sessions,
        lake=Lake(storage),
        config=ScoringConfig.from_settings(settings),
        tick_s=settings.sessionize_tick_seconds,
        judge=judge_for(settings, sessions),  # issue 4: the LLM judge when configured
    )
    sessionizer.listeners.append(bus.publisher(sessions))
    titles = title_writer(settings, sessions, Lake(storage))  # issue 4: None unless configured
    webhooks = WebhookSender(sessions, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gc.freeze()
    await writer.start()
    await sessionizer.start()
    if titles is not None:
        await titles.start()
    await webhooks.start()
    log.info("worker started (lake at %s)", storage.root)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=HOUSEKEEPING_EVERY_S)
        except TimeoutError:
            pass
        if stop.is_set():
            break
        try:
            # Any number of workers: one compacts at a time; any finishes a dead one's commit.
            name = f"lake-compaction:{storage.root}"
            await asyncio.to_thread(run_exclusively, engine, name, compactor.run_once, time.time())
            await asyncio.to_thread(finish_stale_commits, writer)
            await asyncio.to_thread(writer.prune_journal)
        except Exception:
            log.exception("housekeeping failed")
    await webhooks.stop()
    if titles is not None:
        await titles.stop()
    await sessionizer.stop()
    await writer.stop()
    await queue.close()


def main(settings: Settings) -> None:
    asyncio.run(run_worker(settings))
