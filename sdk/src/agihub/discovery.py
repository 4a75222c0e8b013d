"""Discover models and relays from a relay's agihub events: model versions (31337), relay offers (31338).

Every relay stores the signed announcements publishers and relays send it (see
``services/src/agihub_services/relay/README.md`` for the tags). This module asks one relay for them
over its NIP-01 websocket and returns typed objects::

    from agihub import discovery

    offers = discovery.relay_offers("wss://relay.example", model_root=root)   # who holds this model?
    versions = discovery.model_versions("wss://relay.example", publisher=pubkey)

A relay is not trusted: every event is checked here (id, BIP-340 signature, agihub tags) and events
that fail are dropped. The relay answers at most its ``max_limit`` events per request, so the query
pages backwards with ``until`` until a page comes back empty. Of several versions of one offer or
announcement (a relay that does not replace them), the newest wins, as NIP-01 says.

The ``a``-prefixed functions are the same queries for code already running an event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from agihub.errors import AgihubError
from agihub.nostr import kinds
from agihub.nostr.event import Event, InvalidEvent, is_hex64, parse_event

log = logging.getLogger(__name__)

#: Events asked for per page (relays clamp it to their NIP-11 ``max_limit``).
PAGE_LIMIT = 500
#: At most this many pages per query: a relay that never stops sending new events cannot hold us.
MAX_PAGES = 200
#: Largest websocket frame accepted from a relay.
MAX_FRAME_BYTES = 1 << 20


class DiscoveryError(AgihubError):
    """A relay could not be queried: bad URL or argument, unreachable, timed out or refused the REQ."""


@dataclass(frozen=True)
class ModelVersion:
    """A model-version announcement (kind 31337), as signed by its publisher."""

    model_root: str
    name: str
    publisher: str
    parent: str | None
    size: int | None
    shards: int | None
    topics: tuple[str, ...]
    #: The event's content: the manifest metadata as JSON text (free form; see :meth:`card`).
    metadata: str
    created_at: int
    event_id: str

    @classmethod
    def from_event(cls, event: Event) -> ModelVersion:
        """Raises :class:`InvalidEvent` unless ``event`` is a well-formed kind-31337 event."""
        if event.kind != kinds.MODEL_VERSION:
            raise InvalidEvent(f"kind {event.kind} is not a model version ({kinds.MODEL_VERSION})")
        kinds.validate_agihub_event(event)
        return cls(
            model_root=event.d_tag,
            name=event.first_tag("name") or "",
            publisher=event.pubkey,
            parent=event.first_tag("parent"),
            size=_optional_int(event.first_tag("size")),
            shards=_optional_int(event.first_tag("shards")),
            topics=tuple(event.tag_values("t")),
            metadata=event.content,
            created_at=event.created_at,
            event_id=event.id,
        )

    def card(self) -> dict[str, Any]:
        """The metadata as a JSON object ({} when the content is not one)."""
        return json_object(self.metadata)


@dataclass(frozen=True)
class RelayOffer:
    """A relay's offer (kind 31338), signed by the relay's own key."""

    pubkey: str
    endpoint: str
    models: tuple[str, ...]
    #: Price per GiB in the chain's smallest unit (None: the relay names none).
    price: int | None
    created_at: int
    event_id: str

    @classmethod
    def from_event(cls, event: Event) -> RelayOffer:
        """Raises :class:`InvalidEvent` unless ``event`` is a well-formed kind-31338 event."""
        if event.kind != kinds.RELAY_OFFER:
            raise InvalidEvent(f"kind {event.kind} is not a relay offer ({kinds.RELAY_OFFER})")
        kinds.validate_agihub_event(event)
        return cls(
            pubkey=event.pubkey,
            endpoint=event.first_tag("endpoint") or "",
            models=tuple(sorted(set(event.tag_values("m")))),
            price=_optional_int(event.first_tag("price")),
            created_at=event.created_at,
            event_id=event.id,
        )


def json_object(text: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object, or {} when it is not one."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def newest(events: list[Event]) -> list[Event]:
    """One event per ``(pubkey, kind, d)``: the newest, the lower id on a tie (NIP-01); newest first."""
    best: dict[tuple[str, int, str], Event] = {}
    for event in events:
        key = (event.pubkey, event.kind, event.d_tag)
        held = best.get(key)
        if held is None or (event.created_at, _neg(event.id)) > (held.created_at, _neg(held.id)):
            best[key] = event
    return sorted(best.values(), key=lambda e: (-e.created_at, e.id))


# -- queries --------------------------------------------------------------------------------------
def model_versions(
    url: str, *, model_root: str | None = None, publisher: str | None = None, timeout: float = 10.0
) -> list[ModelVersion]:
    """Model versions the relay at ``url`` stores, newest first (optionally of one root or publisher)."""
    return asyncio.run(amodel_versions(url, model_root=model_root, publisher=publisher, timeout=timeout))


def relay_offers(url: str, *, model_root: str | None = None, timeout: float = 10.0) -> list[RelayOffer]:
    """Relay offers the relay at ``url`` stores, newest first (optionally only those holding a root)."""
    return asyncio.run(arelay_offers(url, model_root=model_root, timeout=timeout))


async def amodel_versions(
    url: str, *, model_root: str | None = None, publisher: str | None = None, timeout: float = 10.0
) -> list[ModelVersion]:
    """:func:`model_versions` for a running event loop."""
    flt: dict[str, Any] = {"kinds": [kinds.MODEL_VERSION]}
    if model_root is not None:
        flt["#d"] = [_hex64(model_root, "model_root")]
    if publisher is not None:
        flt["authors"] = [_hex64(publisher, "publisher")]
    events = await fetch_events(url, [flt], timeout=timeout)
    return [ModelVersion.from_event(e) for e in newest(events) if e.kind == kinds.MODEL_VERSION]


async def arelay_offers(
    url: str, *, model_root: str | None = None, timeout: float = 10.0
) -> list[RelayOffer]:
    """:func:`relay_offers` for a running event loop."""
    flt: dict[str, Any] = {"kinds": [kinds.RELAY_OFFER]}
    if model_root is not None:
        flt["#m"] = [_hex64(model_root, "model_root")]
    events = await fetch_events(url, [flt], timeout=timeout)
    return [RelayOffer.from_event(e) for e in newest(events) if e.kind == kinds.RELAY_OFFER]


async def fetch_events(url: str, filters: list[dict[str, Any]], *, timeout: float = 10.0) -> list[Event]:
    """Every stored event matching ``filters`` that checks out, paging with ``until``.

    Raises :class:`DiscoveryError` when the relay cannot be reached, times out or refuses the REQ.
    """
    if not url.startswith(("ws://", "wss://")):
        raise DiscoveryError(f"relay URL {url!r} must start with ws:// or wss://")
    try:
        async with asyncio.timeout(timeout):
            async with connect(url, max_size=MAX_FRAME_BYTES, compression=None, open_timeout=timeout) as ws:
                return await stored_events(ws, filters)
    except TimeoutError:
        raise DiscoveryError(f"{url}: no complete answer within {timeout} s") from None
    except (OSError, WebSocketException) as exc:
        raise DiscoveryError(f"{url}: {type(exc).__name__}: {exc}") from None


async def stored_events(ws: Any, filters: list[dict[str, Any]]) -> list[Event]:
    """Every checked stored event matching ``filters``, over an open websocket ``ws``.

    Pages back in time until a page is empty; ``until`` is inclusive, so events sharing the oldest
    timestamp of a page come again (deduplicated) until a page brings nothing new there. NIP-01 has
    no cursor finer than a second: if more events than the relay's ``max_limit`` share one
    ``created_at``, only ``max_limit`` of them can be read (narrow the filter to get the others).
    """
    found: dict[str, Event] = {}
    until: int | None = None
    for page in range(MAX_PAGES):
        bound = {} if until is None else {"until": until}
        events = await request(
            ws, f"discovery-{page}", [{**f, "limit": PAGE_LIMIT, **bound} for f in filters]
        )
        if not events:
            break
        fresh = [e for e in events if e.id not in found]
        found.update((e.id, e) for e in fresh)
        oldest = min(e.created_at for e in events)
        until = oldest if fresh else oldest - 1
        if until < 0:
            break
    return list(found.values())


async def request(ws: Any, sub_id: str, filters: list[dict[str, Any]]) -> list[Event]:
    """One REQ on an open connection: the checked events up to EOSE (the subscription is closed)."""
    await ws.send(json.dumps(["REQ", sub_id, *filters]))
    events: list[Event] = []
    while True:
        message = _decode(await ws.recv())
        kind = message[0] if message else None
        if kind == "EOSE" and message[1:2] == [sub_id]:
            await ws.send(json.dumps(["CLOSE", sub_id]))
            return events
        if kind == "CLOSED" and message[1:2] == [sub_id]:
            reason = message[2] if len(message) > 2 else ""
            raise DiscoveryError(f"relay refused the query: {reason}")
        if kind == "EVENT" and message[1:2] == [sub_id] and len(message) > 2:
            event = checked_event(message[2])
            if event is not None:
                events.append(event)
        # AUTH challenges, NOTICEs and other subscriptions' messages are not for this query.


def checked_event(obj: object) -> Event | None:
    """``obj`` as an :class:`Event` if its id, signature and agihub tags check out; None otherwise."""
    try:
        event = parse_event(obj)
        kinds.validate_agihub_event(event)
    except InvalidEvent as exc:
        log.warning("dropping an event a relay sent: %s", exc)
        return None
    return event


def _decode(frame: str | bytes) -> list[Any]:
    try:
        message = json.loads(frame)
    except ValueError:
        raise DiscoveryError("relay sent a frame that is not JSON") from None
    if not isinstance(message, list):
        raise DiscoveryError("relay sent a message that is not a JSON array")
    return message


def _hex64(value: str, name: str) -> str:
    hex64 = value.lower().removeprefix("0x") if isinstance(value, str) else value
    if not is_hex64(hex64):
        raise DiscoveryError(f"{name} must be 64 hex characters (optionally 0x-prefixed), got {value!r}")
    return hex64


def _optional_int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _neg(event_id: str) -> int:
    return -int(event_id, 16)


__all__ = [
    "DiscoveryError",
    "ModelVersion",
    "RelayOffer",
    "amodel_versions",
    "arelay_offers",
    "checked_event",
    "fetch_events",
    "model_versions",
    "newest",
    "relay_offers",
    "request",
    "stored_events",
]
