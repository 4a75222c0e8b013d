"""The NIP-01 websocket protocol: EVENT, REQ, CLOSE and AUTH in; EVENT, OK, EOSE, CLOSED, NOTICE, AUTH out.

https://github.com/nostr-protocol/nips/blob/master/01.md and 42.md

Every refusal uses the protocol's own form with a machine-readable prefix: ``OK false "invalid: ..."``
for events, ``CLOSED "invalid: ..."`` for subscriptions, ``NOTICE`` when no id is known. Outgoing
messages go through a bounded per-connection queue drained by one writer task, so a publisher never
waits on a slow subscriber; a subscriber that falls too far behind is disconnected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from agihub.errors import StorageError
from agihub.nostr import kinds
from agihub.nostr.event import Event, InvalidEvent, parse_event
from agihub_services.relay.auth import AuthError, check_nip42, new_challenge
from agihub_services.relay.filters import Filter, InvalidFilter, parse_filter
from agihub_services.relay.ratelimit import RateLimiter
from agihub_services.relay.settings import RelaySettings
from agihub_services.relay.store import BatchWriter, EventStore

log = logging.getLogger(__name__)

#: Outgoing messages a connection may have queued before it counts as too slow and is dropped.
SEND_QUEUE_MAX = 10_000
#: EVENTs of one connection that may await storage at once before the relay stops reading from it.
MAX_PENDING_SAVES = 64


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Hub:
    """State shared by all connections: settings, storage, rate limiters and live subscriptions."""

    settings: RelaySettings
    store: EventStore
    address_limiter: RateLimiter
    pubkey_limiter: RateLimiter
    writer: BatchWriter
    connections: set[Connection] = field(default_factory=set)

    @classmethod
    def create(cls, settings: RelaySettings, store: EventStore) -> Hub:
        return cls(
            settings,
            store,
            RateLimiter(settings.rate_per_address, settings.burst_per_address),
            RateLimiter(settings.rate_per_pubkey, settings.burst_per_pubkey),
            BatchWriter(store),
        )

    def broadcast(self, ev: Event, raw: str) -> None:
        """Queue ``ev`` to every live subscription it matches."""
        for conn in list(self.connections):
            for sub_id, filters in conn.subscriptions.items():
                if any(f.matches(ev) for f in filters):
                    conn.send_raw(f'["EVENT",{_dumps(sub_id)},{raw}]')


class Connection:
    """One client websocket: its subscriptions, its NIP-42 state and its outgoing queue."""

    def __init__(self, hub: Hub, address: str) -> None:
        self.hub, self.settings, self.address = hub, hub.settings, address
        self.challenge = new_challenge()
        self.authed: set[str] = set()
        self.subscriptions: dict[str, list[Filter]] = {}
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE_MAX)
        self.too_slow = False
        self.pending_saves: set[asyncio.Task[None]] = set()
        self._save_slots = asyncio.Semaphore(MAX_PENDING_SAVES)

    # --- outgoing ---------------------------------------------------------------------------------
    def send(self, *message: object) -> None:
        self.send_raw(_dumps(list(message)))

    def send_raw(self, text: str) -> None:
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.too_slow = True
            self.subscriptions.clear()

    def notice(self, message: str) -> None:
        self.send("NOTICE", message)

    # --- incoming ---------------------------------------------------------------------------------
    async def handle(self, text: str) -> None:
        """Process one text frame from the client."""
        if _utf8_len(text) > self.settings.max_message_length:
            self.notice(f"invalid: message exceeds max_message_length {self.settings.max_message_length}")
            return
        if not self.hub.address_limiter.allow(self.address):
            self.notice("rate-limited: too many messages from your address; slow down")
            return
        try:
            message = json.loads(text)
        except ValueError:
            self.notice("invalid: message is not JSON")
            return
        if not isinstance(message, list) or not message or not isinstance(message[0], str):
            self.notice('invalid: message must be a JSON array starting with a type, e.g. ["REQ", ...]')
            return
        handler = _HANDLERS.get(message[0])
        if handler is None:
            self.notice(f"invalid: unknown message type {message[0][:32]!r}")
            return
        await handler(self, message)

    async def on_event(self, message: list) -> None:
        if len(message) != 2:
            self.notice('invalid: EVENT message must be ["EVENT", <event>]')
            return
        obj = message[1]
        event_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else ""
        try:
            ev = self._accept(obj)
        except InvalidEvent as exc:
            self.send("OK", event_id[:64], False, str(exc) if _prefixed(str(exc)) else f"invalid: {exc}")
            return
        if kinds.is_ephemeral(ev.kind):
            self.hub.broadcast(ev, ev.to_json())
            self.send("OK", ev.id, True, "")
            return
        # Saves run as tasks so a client's pipelined EVENTs share one batch commit; at most
        # MAX_PENDING_SAVES per connection, after which reading pauses (back-pressure).
        await self._save_slots.acquire()
        task = asyncio.get_running_loop().create_task(self._store(ev))
        self.pending_saves.add(task)
        task.add_done_callback(self._saved)

    def _saved(self, task: asyncio.Task[None]) -> None:
        self.pending_saves.discard(task)
        self._save_slots.release()

    async def _store(self, ev: Event) -> None:
        try:
            result = await self.hub.writer.save(ev)
        except StorageError:
            self.send("OK", ev.id, False, "error: could not store the event; try again later")
            return
        if result.stored:
            self.hub.broadcast(ev, ev.to_json())
        self.send(
            "OK", ev.id, result.stored or result.message.startswith("duplicate: already"), result.message
        )

    async def settle(self) -> None:
        """Wait until every EVENT this connection sent has been stored (or refused)."""
        if self.pending_saves:
            await asyncio.gather(*list(self.pending_saves), return_exceptions=True)

    def _accept(self, obj: object) -> Event:
        """Everything an EVENT must pass before storage; raises InvalidEvent with the OK message."""
        self._check_limits(obj)
        ev = parse_event(obj)
        now = int(time.time())
        if ev.created_at > now + self.settings.created_at_upper_limit:
            raise InvalidEvent(
                f"created_at is more than {self.settings.created_at_upper_limit} s in the future"
            )
        lower = self.settings.created_at_lower_limit
        if lower and ev.created_at < now - lower:
            raise InvalidEvent(f"created_at is more than {lower} s in the past")
        if ev.kind in (kinds.AUTH, kinds.BLOSSOM_AUTH):
            raise InvalidEvent("authentication events are not published; send AUTH instead")
        if self.settings.auth_required and ev.pubkey not in self.authed:
            raise InvalidEvent("auth-required: authenticate with NIP-42 AUTH before publishing")
        kinds.validate_agihub_event(ev)
        if not self.hub.pubkey_limiter.allow(ev.pubkey):
            raise InvalidEvent("rate-limited: this pubkey publishes too fast; slow down")
        return ev

    def _check_limits(self, obj: object) -> None:
        # Checked before the signature so an oversized event costs no Schnorr verification.
        if not isinstance(obj, dict):
            return
        tags, content = obj.get("tags"), obj.get("content")
        if isinstance(tags, list) and len(tags) > self.settings.max_event_tags:
            raise InvalidEvent(
                f"event has {len(tags)} tags; max_event_tags is {self.settings.max_event_tags}"
            )
        if isinstance(content, str) and len(content) > self.settings.max_content_length:
            raise InvalidEvent(f"content exceeds max_content_length {self.settings.max_content_length}")

    async def on_req(self, message: list) -> None:
        sub_id = message[1] if len(message) > 1 else None
        if not self._valid_sub_id(sub_id):
            return
        assert isinstance(sub_id, str)
        try:
            filters = self._parse_filters(sub_id, message[2:])
        except InvalidFilter as exc:
            self.send("CLOSED", sub_id, f"invalid: {exc}")
            return
        if filters is None:
            return
        await self.settle()  # a REQ sees every EVENT sent before it on this connection
        self.subscriptions[sub_id] = filters
        try:
            rows = await anyio.to_thread.run_sync(self.hub.store.query, filters)
        except SQLAlchemyError:
            log.exception("query for subscription failed")
            self.subscriptions.pop(sub_id, None)
            self.send("CLOSED", sub_id, "error: could not query stored events; try again later")
            return
        quoted = _dumps(sub_id)
        for raw in rows:
            self.send_raw(f'["EVENT",{quoted},{raw}]')
        self.send("EOSE", sub_id)

    def _valid_sub_id(self, sub_id: object) -> bool:
        limit = self.settings.max_subid_length
        if isinstance(sub_id, str) and 0 < len(sub_id) <= limit:
            return True
        if isinstance(sub_id, str) and sub_id:
            self.send("CLOSED", sub_id[:limit], f"invalid: subscription id longer than {limit}")
        else:
            self.notice("invalid: subscription id must be a non-empty string")
        return False

    def _parse_filters(self, sub_id: str, raw: list) -> list[Filter] | None:
        if not raw:
            raise InvalidFilter("REQ needs at least one filter")
        if len(raw) > self.settings.max_filters:
            raise InvalidFilter(f"REQ has {len(raw)} filters; max_filters is {self.settings.max_filters}")
        if sub_id not in self.subscriptions and len(self.subscriptions) >= self.settings.max_subscriptions:
            self.send("CLOSED", sub_id, f"blocked: max_subscriptions is {self.settings.max_subscriptions}")
            return None
        limits = {"max_limit": self.settings.max_limit, "default_limit": self.settings.default_limit}
        return [parse_filter(obj, **limits) for obj in raw]

    async def on_close(self, message: list) -> None:
        if len(message) != 2 or not isinstance(message[1], str):
            self.notice('invalid: CLOSE message must be ["CLOSE", <subscription id>]')
            return
        self.subscriptions.pop(message[1], None)

    async def on_auth(self, message: list) -> None:
        obj = message[1] if len(message) == 2 else None
        event_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else ""
        try:
            ev = check_nip42(
                obj,
                challenge=self.challenge,
                relay_url=self.settings.public_url,
                window=self.settings.auth_window,
            )
        except AuthError as exc:
            self.send("OK", event_id[:64], False, f"invalid: {exc}")
            return
        self.authed.add(ev.pubkey)
        self.send("OK", ev.id, True, "")


_HANDLERS = {
    "EVENT": Connection.on_event,
    "REQ": Connection.on_req,
    "CLOSE": Connection.on_close,
    "AUTH": Connection.on_auth,
}

_PREFIXES = ("invalid:", "auth-required:", "rate-limited:", "blocked:", "restricted:", "duplicate:", "pow:")


def _prefixed(message: str) -> bool:
    return message.startswith(_PREFIXES)


def _utf8_len(text: str) -> int:
    # A str of n characters is n..4n UTF-8 bytes; only encode when the cheap bound is inconclusive.
    return len(text) if text.isascii() else len(text.encode("utf-8"))


async def serve_connection(hub: Hub, websocket: WebSocket) -> None:
    """Run one client connection until it closes (the Starlette websocket endpoint)."""
    await websocket.accept()
    client = websocket.client
    conn = Connection(hub, client.host if client else "unknown")
    hub.connections.add(conn)
    conn.send("AUTH", conn.challenge)
    writer = asyncio.create_task(_drain(conn, websocket))
    try:
        await _read_loop(conn, websocket)
        await conn.settle()
    finally:
        hub.connections.discard(conn)
        if conn.outbox.full():
            writer.cancel()
        else:
            conn.outbox.put_nowait(None)
        await asyncio.gather(writer, return_exceptions=True)


async def _read_loop(conn: Connection, websocket: WebSocket) -> None:
    try:
        while not conn.too_slow:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                conn.notice("invalid: binary frames are not part of NIP-01; send JSON text")
                continue
            await conn.handle(text)
    except WebSocketDisconnect:
        return


async def _drain(conn: Connection, websocket: WebSocket) -> None:
    try:
        while (text := await conn.outbox.get()) is not None and not conn.too_slow:
            await websocket.send_text(text)
        if conn.too_slow:
            log.warning("dropping slow subscriber %s", conn.address)
            await websocket.close(code=1008, reason="too slow: outgoing queue full")
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
