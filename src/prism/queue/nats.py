"""NATS JetStream as the queue (scale mode): any number of ingest processes publish, any number
of lake writers pull.

Stream `PRISM_NATS_STREAM` (subjects `<stream>.logs|metrics|traces`) is created on first use
with work-queue retention (a message is gone once a writer acks it), file storage, and the
queue's high-water marks as its limits with discard=new, so a full stream refuses publishes
instead of dropping old batches.

put: the batch (lz4-compressed, its metadata in headers) is published with `Nats-Msg-Id` =
    batch id, and `put` returns only after JetStream's PubAck, i.e. once the stream has stored
    it. An exporter retrying the same body gets the same id, which JetStream's duplicate window
    drops (and the lake journal drops after the window). Publishes are pipelined: every request
    appends its message to the connection's write buffer with a reply subject of its own and
    waits on a future; many publishes share one socket flush and every PubAck comes back on one
    wildcard subscription, so there is no round trip per message. (nats-py's `publish_async`
    does the same but never resolves the future when JetStream answers with an error, such as
    "maximum messages exceeded", so Prism keeps its own ~30-line version.) `QueueFull` (ingest's
    503 + Retry-After) when JetStream reports a limit, when more than `PRISM_NATS_MAX_INFLIGHT`
    publishes await their ack, and when NATS is unreachable (`QueueUnavailable`).
claim/ack: one durable pull consumer (`lake-writer`) shared by every writer: JetStream hands
    each message to one of them. Writers ack after the lake commit. While a writer holds a
    batch, a keeper task tells JetStream it is in progress, so a long flush is not redelivered;
    a crashed writer's batches come back after `PRISM_NATS_ACK_WAIT_SECONDS`. Batches a writer
    claimed but did not ack (a failed flush) are nak'd at its next claim, so they return at
    once. Redelivery never writes twice: the lake journal skips applied batch ids.
Connection: reconnects forever after the first success; while disconnected, `put` fails fast
    (503) and `claim` returns nothing, and both recover by themselves when NATS is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from prism.errors import ConfigError, PayloadTooLarge
from prism.queue.base import SIGNALS, Batch, Claimed, Depth, QueueFull
from prism.queue.local import _compress, _decompress
from prism.settings import Settings

log = logging.getLogger(__name__)

CONSUMER = "lake-writer"
DUPLICATE_WINDOW_S = 300.0
PUBLISH_TIMEOUT_S = 5.0
POLL_S = 1.0  # how long an idle claim waits for the first batch
MORE_S = 0.02  # how long a claim waits for further batches once one arrived
MAX_ACK_PENDING = 100_000
RETRY_CONNECT_S = 1.0
_DEPTH_CACHE_S = 0.5
_HEADER_ROOM = 512  # our headers, the subject and the protocol line, with margin
# Limit errors JetStream answers a publish with (maximum messages/bytes, insufficient
# resources): the stream is full, retry later.
_LIMIT_CODES = {10077, 10047, 10023, 10028}

H_ENCODING = "Prism-Encoding"
H_ORG = "Prism-Org"
H_DEVELOPER = "Prism-Developer"
H_RECEIVED = "Prism-Received-Ns"
H_RECORDS = "Prism-Records"
H_CODEC = "Prism-Codec"
H_SIZE = "Prism-Size"


class QueueUnavailable(QueueFull):
    """NATS cannot be reached or did not acknowledge in time: as for a full queue, retry later."""


def servers(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` -> one URL per server."""
    return [u.strip() for u in url.split(",") if u.strip()]


def check_nats(url: str, *, timeout: float = 3.0) -> dict[str, Any]:
    """Reach the first answering server and read its INFO; ConfigError naming the fix if not.

    A plain socket (no event loop) so start-up can check before any process is spawned.
    """
    problems = []
    for server in servers(url):
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                line = b""
                while not line.endswith(b"\r\n") and len(line) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    line += chunk
        except OSError as exc:
            problems.append(f"{host}:{port}: {exc.strerror or exc}")
            continue
        if not line.startswith(b"INFO "):
            problems.append(f"{host}:{port} does not speak the NATS protocol")
            continue
        info: dict[str, Any] = json.loads(line[5:].split(b"\r\n", 1)[0])
        if not info.get("jetstream"):
            raise ConfigError(
                f"NATS at {host}:{port} runs without JetStream: start nats-server with -js "
                "(or a `jetstream {}` block in its config)."
            )
        return info
    raise ConfigError(
        f"cannot reach NATS ({'; '.join(problems)}). Start nats-server with JetStream "
        "(nats-server -js) or fix PRISM_QUEUE_URL."
    )


@dataclass
class NatsStats:
    published: int = 0
    duplicates: int = 0
    refused: int = 0
    claimed: int = 0
    acked: int = 0
    nacked: int = 0


class NatsQueue:
    """The JetStream queue (see module docstring). One claim at a time per instance."""

    def __init__(self, settings: Settings, *, poll_s: float = POLL_S) -> None:
        assert settings.queue_url, "NatsQueue needs PRISM_QUEUE_URL"
        self.url = settings.queue_url
        self.stream = settings.nats_stream
        self.ack_wait_s = settings.nats_ack_wait_seconds
        self.max_inflight = settings.nats_max_inflight
        self.max_msgs = settings.queue_high_water_batches
        self.max_bytes = settings.queue_high_water_bytes
        self.poll_s = poll_s
        self.stats = NatsStats()
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._psub: JetStreamContext.PullSubscription | None = None
        self._connect_lock = asyncio.Lock()
        self._inflight = 0
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ack_prefix = ""
        self._next_token = 0
        self._claimed: dict[str, tuple[Msg, float]] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._depth = Depth(0, 0)
        self._depth_at = 0.0
        self._closed = False
        self._failed_at = 0.0

    def subject(self, signal: str) -> str:
        return f"{self.stream}.{signal}"

    # --- connection -----------------------------------------------------------------------------
    async def _connect(self) -> tuple[NATS, JetStreamContext]:
        if self._nc is not None and self._js is not None:
            if not self._nc.is_connected:
                raise QueueUnavailable("NATS is not connected (reconnecting)")
            return self._nc, self._js
        async with self._connect_lock:
            if self._nc is None or self._js is None:
                if self._closed:
                    raise QueueUnavailable("queue is closed")
                if time.monotonic() - self._failed_at < RETRY_CONNECT_S:
                    # Fail fast while NATS was just found down: requests must not queue up
                    # behind one connection attempt after another.
                    raise QueueUnavailable(f"NATS at {self.url} is unreachable")
                try:
                    nc = await nats.connect(
                        servers(self.url),
                        name="prism",
                        connect_timeout=2,
                        reconnect_time_wait=0.5,
                        # A few quick attempts for the first connection (so a wrong URL fails
                        # instead of hanging); forever once connected (set below).
                        max_reconnect_attempts=1,
                        pending_size=64 << 20,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    )
                except Exception as exc:
                    self._failed_at = time.monotonic()
                    raise QueueUnavailable(f"cannot connect to NATS at {self.url}: {exc}") from exc
                nc.options["max_reconnect_attempts"] = -1
                js = nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
                try:
                    await self._ensure_stream(js)
                    self._ack_prefix = nc.new_inbox()
                    await nc.subscribe(f"{self._ack_prefix}.*", cb=self._on_puback)
                except Exception:
                    await nc.close()
                    raise
                self._nc, self._js = nc, js
        assert self._nc is not None and self._js is not None
        return self._nc, self._js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the stream on first use; an existing one is left as the operator tuned it."""
        try:
            await js.stream_info(self.stream)
            return
        except nats.js.errors.NotFoundError:
            pass
        config = api.StreamConfig(
            name=self.stream,
            subjects=[self.subject(s) for s in SIGNALS],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.NEW,
            max_msgs=self.max_msgs,
            max_bytes=self.max_bytes,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
        try:
            await js.add_stream(config)
            log.info("created JetStream stream %s", self.stream)
        except nats.js.errors.BadRequestError:
            await js.stream_info(self.stream)  # another process created it first

    async def _consumer(self) -> JetStreamContext.PullSubscription:
        if self._psub is not None:
            return self._psub
        _, js = await self._connect()
        config = api.ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,
            max_ack_pending=MAX_ACK_PENDING,
            deliver_policy=api.DeliverPolicy.ALL,
        )
        try:
            await js.consumer_info(self.stream, CONSUMER)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_consumer(self.stream, config)
            except nats.js.errors.BadRequestError:
                await js.consumer_info(self.stream, CONSUMER)  # created concurrently
        self._psub = await js.pull_subscribe_bind(durable=CONSUMER, stream=self.stream)
        self._keeper = asyncio.create_task(self._keep_claims(), name="nats-claim-keeper")
        return self._psub

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        if not self._closed:
            log.warning("NATS disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        log.info("NATS reconnected")

    # --- put --------------------------------------------------------------------------------------
    async def put(self, batch: Batch) -> None:
        if self._inflight >= self.max_inflight:
            self.stats.refused += 1
            raise QueueFull(f"{self._inflight} publishes await a JetStream ack")
        nc, _ = await self._connect()
        payload, codec = _compress(batch.payload)
        if len(payload) + _HEADER_ROOM > nc.max_payload:
            raise PayloadTooLarge(
                f"batch is {len(payload)} bytes compressed; NATS accepts {nc.max_payload}. "
                "Raise max_payload in the nats-server configuration."
            )
        headers = {
            api.Header.MSG_ID: batch.batch_id,
            H_ENCODING: batch.encoding,
            H_ORG: batch.org_id,
            H_DEVELOPER: batch.developer_id,
            H_RECEIVED: str(batch.received_at_ns),
            H_RECORDS: str(batch.records),
            H_CODEC: codec,
            H_SIZE: str(len(batch.payload)),
        }
        headers[api.Header.EXPECTED_STREAM] = self.stream
        self._next_token += 1
        token = str(self._next_token)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[token] = future
        self._inflight += 1
        try:
            await nc.publish(
                self.subject(batch.signal),
                payload,
                reply=f"{self._ack_prefix}.{token}",
                headers=headers,
            )
            ack = await asyncio.wait_for(future, PUBLISH_TIMEOUT_S)
        except TimeoutError:
            self.stats.refused += 1
            raise QueueUnavailable("JetStream did not acknowledge the publish in time") from None
        except nats.js.errors.APIError as exc:
            self.stats.refused += 1
            if exc.err_code in _LIMIT_CODES or "maximum" in (exc.description or ""):
                raise QueueFull(f"JetStream stream {self.stream} is full: {exc}") from None
            raise QueueUnavailable(f"JetStream refused the publish: {exc}") from None
        except (nats.errors.Error, OSError) as exc:
            self.stats.refused += 1
            raise QueueUnavailable(f"NATS publish failed: {type(exc).__name__}") from None
        finally:
            self._inflight -= 1
            self._acks.pop(token, None)
        self.stats.published += 1
        if ack.get("duplicate"):
            self.stats.duplicates += 1

    async def _on_puback(self, msg: Msg) -> None:
        future = self._acks.pop(msg.subject.rsplit(".", 1)[-1], None)
        if future is None or future.done():
            return  # timed out already; the exporter retries and the duplicate is dropped
        if msg.headers and msg.headers.get(api.Header.STATUS) == "503":
            future.set_exception(nats.js.errors.NoStreamResponseError())
            return
        try:
            resp = json.loads(msg.data)
        except ValueError:
            future.set_exception(nats.js.errors.APIError(description="unreadable PubAck"))
            return
        error = resp.get("error")
        if error:
            future.set_exception(
                nats.js.errors.APIError(
                    code=error.get("code"),
                    err_code=error.get("err_code"),
                    description=error.get("description"),
                )
            )
        else:
            future.set_result(resp)

    # --- claim / ack ------------------------------------------------------------------------------
    async def claim(self, max_batches: int, visibility_s: float = 60.0) -> list[Claimed]:
        """Up to `max_batches` batches (JetStream's ack wait, not `visibility_s`, applies)."""
        try:
            psub = await self._consumer()
        except QueueFull:
            await asyncio.sleep(self.poll_s)  # disconnected: writers poll again shortly
            return []
        await self._nak_leftovers()
        try:
            msgs = await psub.fetch(1, timeout=self.poll_s)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except nats.errors.Error as exc:
            log.warning("JetStream fetch failed: %s", exc)
            return []
        if max_batches > 1:
            try:
                msgs += await psub.fetch(max_batches - 1, timeout=MORE_S)
            except (TimeoutError, nats.errors.TimeoutError):
                pass
            except nats.errors.Error as exc:
                log.warning("JetStream fetch failed: %s", exc)
        out: list[Claimed] = []
        now = time.monotonic()
        for msg in msgs:
            try:
                batch = self._decode(msg)
            except (KeyError, ValueError) as exc:
                log.error(
                    "dropping a message on %s that is not a Prism batch: %s", msg.subject, exc
                )
                await msg.term()
                continue
            self._claimed[msg.reply] = (msg, now)
            out.append(Claimed(handle=msg.reply, batch=batch))
        self.stats.claimed += len(out)
        return out

    def _decode(self, msg: Msg) -> Batch:
        h = msg.headers or {}
        signal = msg.subject.rsplit(".", 1)[-1]
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}")
        return Batch(
            batch_id=h[api.Header.MSG_ID],
            signal=signal,
            encoding=h[H_ENCODING],
            org_id=h[H_ORG],
            developer_id=h[H_DEVELOPER],
            received_at_ns=int(h[H_RECEIVED]),
            records=int(h[H_RECORDS]),
            payload=_decompress(msg.data, h.get(H_CODEC, ""), int(h[H_SIZE])),
        )

    async def ack(self, handles: Sequence[int | str]) -> None:
        msgs = []
        for handle in handles:
            entry = self._claimed.pop(str(handle), None)
            if entry is not None:
                msgs.append(entry[0])
        if not msgs:
            return
        try:
            for msg in msgs:
                await msg.ack()
            assert self._nc is not None
            await self._nc.flush(timeout=int(PUBLISH_TIMEOUT_S))
            self.stats.acked += len(msgs)
        except Exception as exc:
            # The batches are in the lake; JetStream redelivers them and the journal skips them.
            log.warning("acking %d batches failed (%s); they will be redelivered", len(msgs), exc)

    async def _nak_leftovers(self) -> None:
        """Batches claimed earlier and never acked (a failed flush) go back at once."""
        if not self._claimed:
            return
        left, self._claimed = list(self._claimed.values()), {}
        try:
            for msg, _ in left:
                await msg.nak()
            self.stats.nacked += len(left)
        except Exception as exc:
            log.warning("nak of %d batches failed (%s); they return after ack wait", len(left), exc)

    async def _keep_claims(self) -> None:
        """Tell JetStream that claimed batches are still being worked on."""
        every = max(0.2, self.ack_wait_s / 3)
        give_up_after = max(600.0, 10 * self.ack_wait_s)
        while not self._closed:
            await asyncio.sleep(every)
            if self._nc is None or not self._nc.is_connected:
                continue
            now = time.monotonic()
            for handle, (msg, since) in list(self._claimed.items()):
                if now - since > give_up_after:
                    self._claimed.pop(handle, None)  # let JetStream redeliver it
                    continue
                try:
                    await msg.in_progress()
                except Exception:
                    break

    # --- depth / close ----------------------------------------------------------------------------
    async def depth(self) -> Depth:
        now = time.monotonic()
        if now - self._depth_at < _DEPTH_CACHE_S:
            return self._depth
        self._depth_at = now
        try:
            _, js = await self._connect()
            info = await js.stream_info(self.stream)
        except Exception as exc:  # report the last known depth while NATS is away
            log.debug("stream info failed: %s", exc)
            return self._depth
        self._depth = Depth(int(info.state.messages), int(info.state.bytes))
        return self._depth

    async def close(self) -> None:
        self._closed = True
        if self._keeper is not None:
            self._keeper.cancel()
        if self._nc is not None:
            try:
                await self._nc.close()
            except Exception:
                pass
        self._nc = self._js = self._psub = None
