"""``GET /models`` and ``GET /models/{chain}/{root}``: lineage, cards, offering and delivering relays.

Lineage comes from the chain (the indexer's ``models`` table); each model's cards (kind-31337
announcements) and the relays offering it (kind-31338 offers) come from the ``discovery_*`` tables
that ``agihub discovery run`` fills from relays.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from agihub.discovery import json_object
from agihub_services.api import pagination, schemas
from agihub_services.api.deps import EngineDep
from agihub_services.api.errors import ApiProblem
from agihub_services.db.schema import (
    DiscoveredModelVersion,
    DiscoveredRelayOffer,
    MarketOrder,
    ModelLineage,
    RelayDelivery,
)
from agihub_services.discovery import queries

router = APIRouter(prefix="/models", tags=["models"], responses=schemas.ERROR_RESPONSES)

_KEY_TYPES = (int, str, str)  # (block_number, chain, model_root), newest first
_ANNOUNCED_KEY_TYPES = (int, str, str)  # (created_at, publisher, model_root), newest first
MAX_VERSIONS = 200


def model_model(row: ModelLineage) -> schemas.Model:
    """The API view of a ``models`` row (without cards and offers: see :func:`with_discovery`)."""
    return schemas.Model.model_validate(row, from_attributes=True)


def card_model(row: DiscoveredModelVersion) -> schemas.ModelCard:
    """The API view of a stored kind-31337 announcement."""
    return schemas.ModelCard(
        publisher=row.publisher,
        name=row.name,
        parent_root=row.parent_root,
        size=row.size,
        shards=row.shards,
        topics=list(row.topics),
        metadata=json_object(row.content),
        created_at=row.created_at,
        event_id=row.event_id,
    )


def offer_ref(row: DiscoveredRelayOffer) -> schemas.OfferRef:
    """The API view of a stored kind-31338 offer, without its model list."""
    return schemas.OfferRef(
        pubkey=row.pubkey,
        endpoint=row.endpoint,
        price=row.price,
        created_at=row.created_at,
        event_id=row.event_id,
    )


def with_discovery(session: Session, models: list[schemas.Model]) -> list[schemas.Model]:
    """``models`` with their cards and offers filled in (two queries for the whole list)."""
    roots = [m.model_root for m in models]
    cards, offers = queries.cards_for(session, roots), queries.offers_for(session, roots)
    for model in models:
        key = queries.bare(model.model_root)
        model.cards = [card_model(c) for c in cards.get(key, [])]
        model.offers = [offer_ref(o) for o in offers.get(key, [])]
    return models


@router.get("", response_model=schemas.Page[schemas.Model])
def list_models(
    engine: EngineDep,
    chain: schemas.ChainQuery = None,
    contributor: schemas.AddressQuery = None,
    parent: schemas.HashQuery = None,
    limit: pagination.LimitQuery = pagination.DEFAULT_PAGE_SIZE,
    cursor: pagination.CursorQuery = None,
) -> schemas.Page[schemas.Model]:
    """Registered models, newest first."""
    filters = {"chain": chain, "contributor": contributor, "parent": parent}
    digest = pagination.filter_digest(filters)
    key = tuple_(ModelLineage.block_number, ModelLineage.chain, ModelLineage.model_root)
    query = select(ModelLineage).order_by(
        ModelLineage.block_number.desc(), ModelLineage.chain.desc(), ModelLineage.model_root.desc()
    )
    columns = {
        "chain": ModelLineage.chain,
        "contributor": ModelLineage.contributor,
        "parent": ModelLineage.parent_root,
    }
    for name, column in columns.items():
        if filters[name] is not None:
            query = query.where(column == filters[name])
    if cursor is not None:
        query = query.where(key < tuple_(*pagination.decode_cursor(cursor, digest, _KEY_TYPES)))
    with Session(engine) as session:
        rows = list(session.scalars(query.limit(limit + 1)))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = pagination.encode_cursor((last.block_number, last.chain, last.model_root), digest)
        items = with_discovery(session, [model_model(r) for r in rows])
    return schemas.Page[schemas.Model](items=items, next_cursor=next_cursor)


@router.get("/announced", response_model=schemas.Page[schemas.AnnouncedModel])
def list_announced(
    engine: EngineDep,
    root: schemas.HashQuery = None,
    publisher: schemas.NostrKeyQuery = None,
    limit: pagination.LimitQuery = pagination.DEFAULT_PAGE_SIZE,
    cursor: pagination.CursorQuery = None,
) -> schemas.Page[schemas.AnnouncedModel]:
    """Model versions announced on relays (kind 31337), registered on chain or not, newest first."""
    digest = pagination.filter_digest({"root": root, "publisher": publisher})
    table = DiscoveredModelVersion
    key = tuple_(table.created_at, table.publisher, table.model_root)
    query = select(table).order_by(table.created_at.desc(), table.publisher.desc(), table.model_root.desc())
    if root is not None:
        query = query.where(table.model_root == queries.bare(root))
    if publisher is not None:
        query = query.where(table.publisher == publisher)
    if cursor is not None:
        query = query.where(key < tuple_(*pagination.decode_cursor(cursor, digest, _ANNOUNCED_KEY_TYPES)))
    with Session(engine) as session:
        rows = list(session.scalars(query.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = pagination.encode_cursor((last.created_at, last.publisher, last.model_root), digest)
    items = [schemas.AnnouncedModel(**card_model(r).model_dump(), model_root=r.model_root) for r in rows]
    return schemas.Page[schemas.AnnouncedModel](items=items, next_cursor=next_cursor)


@router.get(
    "/{chain}/{root}",
    response_model=schemas.ModelDetail,
)
def get_model(
    engine: EngineDep,
    chain: schemas.ChainPath,
    root: Annotated[schemas.Hash32, Path(description="model root, 0x + 64 hex")],
) -> schemas.ModelDetail:
    """One model with its cards, the relays offering it, its parent, the versions derived from it and
    the relays that delivered it."""
    with Session(engine) as session:
        row = session.get(ModelLineage, (chain, root))
        if row is None:
            raise ApiProblem(404, "not_found", f"no model {root} on {chain}")
        parent = session.get(ModelLineage, (chain, row.parent_root))
        versions = session.scalars(
            select(ModelLineage)
            .where(ModelLineage.chain == chain, ModelLineage.parent_root == root)
            .order_by(ModelLineage.block_number, ModelLineage.model_root)
            .limit(MAX_VERSIONS)
        ).all()
        relays = session.scalars(
            select(RelayDelivery.relay)
            .join(
                MarketOrder,
                (MarketOrder.chain == RelayDelivery.chain) & (MarketOrder.order_id == RelayDelivery.order_id),
            )
            .where(
                MarketOrder.chain == chain,
                MarketOrder.model_root == root,
                RelayDelivery.outcome == "delivered",
            )
            .distinct()
            .order_by(RelayDelivery.relay)
        ).all()
        main, *others = with_discovery(
            session, [model_model(r) for r in (row, *versions, *([parent] if parent is not None else []))]
        )
        return schemas.ModelDetail(
            **main.model_dump(),
            parent=others[-1] if parent is not None else None,
            versions=others[: len(versions)],
            relays=list(relays),
        )
