"""``GET /relays`` and ``GET /relays/{chain}/{address}`` with the relay's delivery and timeout record.

Each relay carries its current offer (endpoint, price, models: kind 31338) when ``agihub discovery
run`` has read one signed by the Nostr key the relay registered on chain.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from agihub_services.api import pagination, schemas
from agihub_services.api.deps import EngineDep
from agihub_services.api.errors import ApiProblem
from agihub_services.db.schema import DiscoveredOfferModel, DiscoveredRelayOffer, Relay, RelayDelivery
from agihub_services.discovery import queries

router = APIRouter(prefix="/relays", tags=["relays"], responses=schemas.ERROR_RESPONSES)

_KEY_TYPES = (str, str)  # (chain, address)
RECENT_DELIVERIES = 20


def relay_model(row: Relay) -> schemas.Relay:
    """The API view of a ``relays`` row (without its offer: see :func:`with_offers`)."""
    return schemas.Relay.model_validate(row, from_attributes=True)


def offer_model(row: DiscoveredRelayOffer, models: list[str]) -> schemas.RelayOffer:
    """The API view of a stored kind-31338 offer with the roots it names."""
    return schemas.RelayOffer(
        pubkey=row.pubkey,
        endpoint=row.endpoint,
        price=row.price,
        created_at=row.created_at,
        event_id=row.event_id,
        models=models,
    )


def with_offers(session: Session, relays: list[schemas.Relay]) -> list[schemas.Relay]:
    """``relays`` with the offer signed by each one's registered Nostr key (one query per list)."""
    offers = queries.offers_by_pubkey(session, [r.nostr_pubkey for r in relays if r.nostr_pubkey])
    for relay in relays:
        found = offers.get(queries.bare(relay.nostr_pubkey)) if relay.nostr_pubkey else None
        relay.offer = offer_model(*found) if found else None
    return relays


@router.get("", response_model=schemas.Page[schemas.Relay])
def list_relays(
    engine: EngineDep,
    chain: schemas.ChainQuery = None,
    registered: Annotated[bool | None, Query(description="only (un)registered relays")] = None,
    limit: pagination.LimitQuery = pagination.DEFAULT_PAGE_SIZE,
    cursor: pagination.CursorQuery = None,
) -> schemas.Page[schemas.Relay]:
    """Relays ordered by chain and address."""
    digest = pagination.filter_digest({"chain": chain, "registered": registered})
    query = select(Relay).order_by(Relay.chain, Relay.address).limit(limit + 1)
    if chain is not None:
        query = query.where(Relay.chain == chain)
    if registered is not None:
        query = query.where(Relay.registered == registered)
    if cursor is not None:
        after = pagination.decode_cursor(cursor, digest, _KEY_TYPES)
        query = query.where(tuple_(Relay.chain, Relay.address) > tuple_(*after))
    with Session(engine) as session:
        rows = list(session.scalars(query))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = pagination.encode_cursor((rows[-1].chain, rows[-1].address), digest)
        items = with_offers(session, [relay_model(r) for r in rows])
    return schemas.Page[schemas.Relay](items=items, next_cursor=next_cursor)


@router.get("/offers", response_model=schemas.Page[schemas.RelayOffer])
def list_offers(
    engine: EngineDep,
    model: schemas.HashQuery = None,
    limit: pagination.LimitQuery = pagination.DEFAULT_PAGE_SIZE,
    cursor: pagination.CursorQuery = None,
) -> schemas.Page[schemas.RelayOffer]:
    """Every relay offer read from relays (kind 31338), registered on chain or not, by pubkey."""
    digest = pagination.filter_digest({"model": model})
    query = select(DiscoveredRelayOffer.pubkey).order_by(DiscoveredRelayOffer.pubkey).limit(limit + 1)
    if model is not None:
        named = select(DiscoveredOfferModel.pubkey).where(
            DiscoveredOfferModel.model_root == queries.bare(model)
        )
        query = query.where(DiscoveredRelayOffer.pubkey.in_(named))
    if cursor is not None:
        (after,) = pagination.decode_cursor(cursor, digest, (str,))
        query = query.where(DiscoveredRelayOffer.pubkey > after)
    with Session(engine) as session:
        pubkeys = list(session.scalars(query))
        next_cursor = None
        if len(pubkeys) > limit:
            pubkeys = pubkeys[:limit]
            next_cursor = pagination.encode_cursor((pubkeys[-1],), digest)
        offers = queries.offers_by_pubkey(session, pubkeys)
    items = [offer_model(*offers[p]) for p in pubkeys if p in offers]
    return schemas.Page[schemas.RelayOffer](items=items, next_cursor=next_cursor)


def delivery_record(session: Session, chain: str, address: str) -> schemas.DeliveryRecord:
    """Counts of taken, delivered and failed (timed-out) deliveries of one relay."""
    counts = session.execute(
        select(RelayDelivery.outcome, func.count())
        .where(RelayDelivery.chain == chain, RelayDelivery.relay == address)
        .group_by(RelayDelivery.outcome)
    ).all()
    known = set(schemas.DeliveryRecord.model_fields)
    return schemas.DeliveryRecord(**{outcome: n for outcome, n in counts if outcome in known})


@router.get(
    "/{chain}/{address}",
    response_model=schemas.RelayDetail,
)
def get_relay(
    engine: EngineDep, chain: schemas.ChainPath, address: schemas.AddressPath
) -> schemas.RelayDetail:
    """One relay with its offer, its delivery record and its most recent deliveries, newest first."""
    with Session(engine) as session:
        row = session.get(Relay, (chain, address))
        if row is None:
            raise ApiProblem(404, "not_found", f"no relay {address} on {chain}")
        recent = session.scalars(
            select(RelayDelivery)
            .where(RelayDelivery.chain == chain, RelayDelivery.relay == address)
            .order_by(RelayDelivery.block_number.desc(), RelayDelivery.log_index.desc())
            .limit(RECENT_DELIVERIES)
        ).all()
        [relay] = with_offers(session, [relay_model(row)])
        return schemas.RelayDetail(
            **relay.model_dump(),
            record=delivery_record(session, chain, address),
            recent_deliveries=[schemas.Delivery.model_validate(d, from_attributes=True) for d in recent],
        )
