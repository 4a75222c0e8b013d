"""``GET /models`` and ``GET /models/{chain}/{root}``: lineage (parent, versions) and delivering relays."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from agihub_services.api import pagination, schemas
from agihub_services.api.deps import EngineDep
from agihub_services.api.errors import ApiProblem
from agihub_services.db.schema import MarketOrder, ModelLineage, RelayDelivery

router = APIRouter(prefix="/models", tags=["models"], responses=schemas.ERROR_RESPONSES)

_KEY_TYPES = (int, str, str)  # (block_number, chain, model_root), newest first
MAX_VERSIONS = 200


def model_model(row: ModelLineage) -> schemas.Model:
    """The API view of a ``models`` row."""
    return schemas.Model.model_validate(row, from_attributes=True)


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
    return schemas.Page[schemas.Model](items=[model_model(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{chain}/{root}",
    response_model=schemas.ModelDetail,
)
def get_model(
    engine: EngineDep,
    chain: schemas.ChainPath,
    root: Annotated[schemas.Hash32, Path(description="model root, 0x + 64 hex")],
) -> schemas.ModelDetail:
    """One model with its parent, the versions derived from it and the relays that delivered it."""
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
        return schemas.ModelDetail(
            **model_model(row).model_dump(),
            parent=model_model(parent) if parent is not None else None,
            versions=[model_model(v) for v in versions],
            relays=list(relays),
        )
