"""Reads of the ``discovery_*`` tables for the API: model cards and relay offers, batched per page.

Chain tables spell roots and Nostr keys ``0x`` + 64 hex (bytes32); events spell them bare. These
functions take either and answer keyed by the bare form.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from agihub_services.db.schema import DiscoveredModelVersion, DiscoveredOfferModel, DiscoveredRelayOffer

#: Cards shown per model (anyone may announce a root; the newest announcements come first).
MAX_CARDS = 10
#: Offers shown per model.
MAX_OFFERS = 100


def bare(value: str) -> str:
    """``0x``-prefixed or bare hex as bare lower-case hex."""
    return value.lower().removeprefix("0x")


def cards_for(session: Session, roots: Iterable[str]) -> dict[str, list[DiscoveredModelVersion]]:
    """Announcements of each root, newest first (at most :data:`MAX_CARDS` each)."""
    keys = sorted({bare(r) for r in roots})
    out: dict[str, list[DiscoveredModelVersion]] = defaultdict(list)
    if not keys:
        return out
    rows = session.scalars(
        select(DiscoveredModelVersion)
        .where(DiscoveredModelVersion.model_root.in_(keys))
        .order_by(
            DiscoveredModelVersion.model_root,
            DiscoveredModelVersion.created_at.desc(),
            DiscoveredModelVersion.event_id,
        )
    )
    for row in rows:
        if len(out[row.model_root]) < MAX_CARDS:
            out[row.model_root].append(row)
    return out


def offers_for(session: Session, roots: Iterable[str]) -> dict[str, list[DiscoveredRelayOffer]]:
    """Current offers naming each root, by relay pubkey (at most :data:`MAX_OFFERS` each)."""
    keys = sorted({bare(r) for r in roots})
    out: dict[str, list[DiscoveredRelayOffer]] = defaultdict(list)
    if not keys:
        return out
    rows = session.execute(
        select(DiscoveredOfferModel.model_root, DiscoveredRelayOffer)
        .join(DiscoveredRelayOffer, DiscoveredRelayOffer.pubkey == DiscoveredOfferModel.pubkey)
        .where(DiscoveredOfferModel.model_root.in_(keys))
        .order_by(DiscoveredOfferModel.model_root, DiscoveredRelayOffer.pubkey)
    )
    for root, offer in rows:
        if len(out[root]) < MAX_OFFERS:
            out[root].append(offer)
    return out


def offers_by_pubkey(
    session: Session, pubkeys: Iterable[str]
) -> dict[str, tuple[DiscoveredRelayOffer, list[str]]]:
    """Each relay's current offer with the roots it names (sorted), keyed by bare pubkey."""
    keys = sorted({bare(p) for p in pubkeys})
    if not keys:
        return {}
    offers = session.scalars(select(DiscoveredRelayOffer).where(DiscoveredRelayOffer.pubkey.in_(keys)))
    out = {offer.pubkey: (offer, []) for offer in offers}
    models = session.execute(
        select(DiscoveredOfferModel.pubkey, DiscoveredOfferModel.model_root)
        .where(DiscoveredOfferModel.pubkey.in_(list(out)))
        .order_by(DiscoveredOfferModel.pubkey, DiscoveredOfferModel.model_root)
    )
    for pubkey, root in models:
        out[pubkey][1].append(root)
    return out
