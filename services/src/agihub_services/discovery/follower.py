"""Follow relays' agihub events: read what each relay stores, then keep a live subscription open.

Per relay, one websocket: first every stored 31337/31338 event, paged back in time
(:func:`agihub.discovery.stored_events`), written in one transaction; then a live ``REQ`` from a
little before the moment the backfill started (so nothing published in between is missed; rows are
idempotent) whose events are written as they arrive. Every event is checked (id, BIP-340 signature,
agihub tags) before it reaches the database. A dropped connection or a relay error reconnects with
exponential backoff and starts over with a full read, so a relay that was down catches up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

import anyio.to_thread
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from agihub.discovery import MAX_FRAME_BYTES, DiscoveryError, checked_event, stored_events
from agihub.nostr import kinds
from agihub_services.discovery.store import DiscoveryStore

log = logging.getLogger(__name__)

KINDS = [kinds.MODEL_VERSION, kinds.RELAY_OFFER]
#: The live subscription starts this many seconds before the backfill did (clock skew, slow writes).
OVERLAP_S = 60
LIVE = "discovery-live"


@dataclass
class RelayProgress:
    """What one relay has given us so far (for logs and tests)."""

    url: str
    connected: int = 0
    written: int = 0
    errors: int = 0
    synced: asyncio.Event = field(default_factory=asyncio.Event)


async def sync_once(url: str, store: DiscoveryStore, timeout: float = 10.0) -> int:
    """Read every stored agihub event of one relay into the database; returns rows written."""
    async with asyncio.timeout(timeout):
        async with connect(url, max_size=MAX_FRAME_BYTES, compression=None, open_timeout=timeout) as ws:
            events = await stored_events(ws, [{"kinds": KINDS}])
    return (await anyio.to_thread.run_sync(store.ingest, events, url)).written


async def follow(
    url: str,
    store: DiscoveryStore,
    progress: RelayProgress,
    *,
    timeout: float = 10.0,
    max_backoff: float = 30.0,
) -> None:
    """Follow one relay until cancelled, reconnecting with backoff after any failure."""
    backoff = 0.0
    while True:
        try:
            await _session(url, store, progress, timeout)
        except (DiscoveryError, OSError, TimeoutError, WebSocketException) as exc:
            progress.errors += 1
            backoff = min(max_backoff, max(0.5, backoff * 2))
            log.warning("relay %s: %s; reconnecting in %.1f s", url, exc, backoff)
            await asyncio.sleep(backoff)
            continue
        backoff = 0.0  # the relay closed a healthy session: reconnect at once


async def _session(url: str, store: DiscoveryStore, progress: RelayProgress, timeout: float) -> None:
    async with connect(url, max_size=MAX_FRAME_BYTES, compression=None, open_timeout=timeout) as ws:
        progress.connected += 1
        started = int(time.time())
        async with asyncio.timeout(timeout):
            events = await stored_events(ws, [{"kinds": KINDS}])
        progress.written += (await anyio.to_thread.run_sync(store.ingest, events, url)).written
        progress.synced.set()
        log.info("relay %s: %d agihub events read; following", url, len(events))
        await ws.send(json.dumps(["REQ", LIVE, {"kinds": KINDS, "since": max(0, started - OVERLAP_S)}]))
        async for frame in ws:
            await _live_message(frame, url, store, progress)


async def _live_message(frame: str | bytes, url: str, store: DiscoveryStore, progress: RelayProgress) -> None:
    try:
        message = json.loads(frame)
    except ValueError:
        raise DiscoveryError("relay sent a frame that is not JSON") from None
    if not isinstance(message, list) or len(message) < 2 or message[1] != LIVE:
        return  # AUTH challenges, NOTICEs, EOSE of the live subscription
    if message[0] == "CLOSED":
        raise DiscoveryError(f"relay closed the live subscription: {message[2:]}")
    if message[0] == "EVENT" and len(message) > 2:
        event = checked_event(message[2])
        if event is not None:
            progress.written += (await anyio.to_thread.run_sync(store.ingest, [event], url)).written


async def follow_all(
    urls: list[str], store: DiscoveryStore, *, timeout: float = 10.0, max_backoff: float = 30.0
) -> dict[str, RelayProgress]:
    """Follow every relay concurrently until cancelled; returns the progress objects as it starts."""
    progress = {url: RelayProgress(url) for url in urls}
    async with asyncio.TaskGroup() as group:
        for url in urls:
            group.create_task(follow(url, store, progress[url], timeout=timeout, max_backoff=max_backoff))
    return progress
