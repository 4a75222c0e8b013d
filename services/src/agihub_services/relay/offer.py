"""The relay's own offer (kind 31338): its endpoint, price and the models it holds, kept current.

The relay signs the offer with its Nostr key (``AGIHUB_RELAY_NOSTR_KEY``) and stores it in its own
event store, so any client asking ``{"kinds":[31338],"#m":[root]}`` finds it. :meth:`OfferPublisher.refresh`
publishes a new offer only when its terms differ from the stored one: at start (a changed endpoint,
price or blob store since the last run) and after every upload or delete that changes the set of held
models (:mod:`agihub_services.relay.holdings` decides what "held" means). Offers are addressable
(``d`` = the relay's pubkey), so the store keeps exactly one: each new offer's ``created_at`` is
strictly greater than the stored one's, so it always replaces it, even within the same second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread

from agihub.errors import StorageError
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import Event, parse_event
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.filters import Filter
from agihub_services.relay.holdings import ModelIndex
from agihub_services.relay.settings import RelaySettings
from agihub_services.relay.store import EventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfferTerms:
    """What an offer says: compared to decide whether a new one is needed."""

    endpoint: str
    models: tuple[str, ...]
    price: int | None

    @classmethod
    def of(cls, event: Event) -> OfferTerms:
        price = event.first_tag("price")
        return cls(
            event.first_tag("endpoint") or "",
            tuple(sorted(set(event.tag_values("m")))),
            int(price) if price is not None else None,
        )


class OfferPublisher:
    """Keeps one relay's offer in its event store in step with its settings and blob store."""

    def __init__(self, settings: RelaySettings, store: EventStore, blobs: BlobStore) -> None:
        self.settings, self.store = settings, store
        self.key = SecretKey.parse(settings.nostr_key)
        self.pubkey = self.key.public_key.hex
        self.index = ModelIndex(blobs)
        self._lock = threading.Lock()

    def terms(self) -> OfferTerms:
        """What the relay offers now: held models plus the operator's ``offer_models``."""
        models = set(self.index.roots()) | set(self.settings.offer_models)
        return OfferTerms(self.settings.public_url, tuple(sorted(models)), self.settings.price)

    def current(self) -> Event | None:
        """The offer stored now (None before the first one)."""
        flt = Filter(
            authors=frozenset({self.pubkey}),
            kinds=frozenset({kinds.RELAY_OFFER}),
            tags={"d": frozenset({self.pubkey})},
            limit=1,
        )
        raws = self.store.query([flt])
        return parse_event(json.loads(raws[0])) if raws else None

    def refresh(self) -> Event | None:
        """Publish a new offer if the terms changed; returns it, or None when the stored one is current.

        Raises :class:`StorageError` when the database refuses it (nothing changes then).
        """
        with self._lock:
            terms, current = self.terms(), self.current()
            if current is not None and OfferTerms.of(current) == terms:
                return None
            created_at = int(time.time())
            if current is not None:
                created_at = max(created_at, current.created_at + 1)
            offer = kinds.relay_offer(
                self.key, terms.endpoint, list(terms.models), terms.price, created_at=created_at
            )
            result = self.store.save(offer)
            if not result.stored:  # only another writer on this database could cause this
                raise StorageError(f"the relay's own offer was not stored: {result.message}")
        log.info("published relay offer %s: %d model(s)", offer.id, len(terms.models))
        return offer


class OfferRefresher:
    """Runs :meth:`OfferPublisher.refresh` off the event loop whenever :meth:`poke` asks for it.

    Pokes arriving while a refresh runs collapse into one more refresh, so a burst of uploads costs
    at most two rescans.

    :param on_publish: called on the event loop with each new offer (the app sends it to live
        subscribers, whose queues are not thread-safe).
    """

    def __init__(self, publisher: OfferPublisher, on_publish: Callable[[Event], None] | None = None) -> None:
        self.publisher, self.on_publish = publisher, on_publish
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Refresh once (before the relay serves anyone), then after every poke."""
        await self._refresh()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def poke(self) -> None:
        """Ask for a refresh (cheap; safe to call from any request handler)."""
        self._wanted.set()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await self._refresh()

    async def _refresh(self) -> None:
        try:
            offer = await anyio.to_thread.run_sync(self.publisher.refresh)
        except Exception:
            log.exception("could not refresh the relay offer; retrying on the next change")
            return
        if offer is not None and self.on_publish is not None:
            self.on_publish(offer)
