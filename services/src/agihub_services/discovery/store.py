"""Checked agihub events into the ``discovery_*`` tables: newest per NIP-01 key, in one transaction.

Model versions are keyed by ``(publisher, model_root)`` and offers by the relay's pubkey, exactly the
``(pubkey, kind, d)`` key under which relays replace them. An event replaces the stored row only if it
is newer (``created_at``, then the lower id), so reading the same events again, or from several
relays in any order, ends in the same rows. Run one discovery process per database: the
read-then-write is serialized inside the process only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, delete, insert, select

from agihub.discovery import ModelVersion, RelayOffer, newest
from agihub.nostr import kinds
from agihub.nostr.event import Event
from agihub_services.db.schema import DiscoveredModelVersion, DiscoveredOfferModel, DiscoveredRelayOffer

_versions: Table = DiscoveredModelVersion.__table__  # type: ignore[assignment]
_offers: Table = DiscoveredRelayOffer.__table__  # type: ignore[assignment]
_offer_models: Table = DiscoveredOfferModel.__table__  # type: ignore[assignment]


@dataclass
class IngestResult:
    """How many events were newer than the stored rows (written) and how many were not."""

    written: int = 0
    unchanged: int = 0


class DiscoveryStore:
    """Writes checked events (from :func:`agihub.discovery.checked_event`) into the shared database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    def ingest(self, events: Iterable[Event], relay_url: str) -> IngestResult:
        """Upsert every model version and offer in ``events`` that is newer than its stored row.

        Raises :class:`~agihub.nostr.event.InvalidEvent` (writing nothing) if any agihub event's tags
        are malformed; other kinds are ignored.
        """
        batch = list(events)
        for event in batch:  # every event is checked, not only the newest of each key
            kinds.validate_agihub_event(event)
        result = IngestResult()
        with self._lock, self.engine.begin() as conn:
            for event in newest(batch):
                if event.kind == kinds.MODEL_VERSION:
                    written = _put_version(conn, ModelVersion.from_event(event), event, relay_url)
                elif event.kind == kinds.RELAY_OFFER:
                    written = _put_offer(conn, RelayOffer.from_event(event), event, relay_url)
                else:
                    continue
                if written:
                    result.written += 1
                else:
                    result.unchanged += 1
        return result


def _newer(conn: Connection, table: Table, where: list, event: Event) -> bool | None:
    """None: no stored row; True: ``event`` is newer than it; False: it is not."""
    row = conn.execute(select(table.c.event_id, table.c.created_at).where(*where)).first()
    if row is None:
        return None
    return (event.created_at, -int(event.id, 16)) > (row.created_at, -int(row.event_id, 16))


def _put_version(conn: Connection, version: ModelVersion, event: Event, relay_url: str) -> bool:
    where = [_versions.c.publisher == version.publisher, _versions.c.model_root == version.model_root]
    newer = _newer(conn, _versions, where, event)
    if newer is False:
        return False
    if newer:
        conn.execute(delete(_versions).where(*where))
    conn.execute(
        insert(_versions).values(
            publisher=version.publisher,
            model_root=version.model_root,
            event_id=version.event_id,
            created_at=version.created_at,
            name=version.name,
            parent_root=version.parent,
            size=_text(version.size),
            shards=_text(version.shards),
            topics=list(version.topics),
            content=version.metadata,
            relay_url=relay_url,
            raw=event.to_json(),
        )
    )
    return True


def _put_offer(conn: Connection, offer: RelayOffer, event: Event, relay_url: str) -> bool:
    where = [_offers.c.pubkey == offer.pubkey]
    newer = _newer(conn, _offers, where, event)
    if newer is False:
        return False
    if newer:
        conn.execute(delete(_offers).where(*where))
        conn.execute(delete(_offer_models).where(_offer_models.c.pubkey == offer.pubkey))
    conn.execute(
        insert(_offers).values(
            pubkey=offer.pubkey,
            event_id=offer.event_id,
            created_at=offer.created_at,
            endpoint=offer.endpoint,
            price=_text(offer.price),
            relay_url=relay_url,
            raw=event.to_json(),
        )
    )
    if offer.models:
        conn.execute(insert(_offer_models), [{"pubkey": offer.pubkey, "model_root": m} for m in offer.models])
    return True


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
