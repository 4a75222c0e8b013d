"""``GET /orders`` (filtered, newest first, cursor-paginated) and ``GET /orders/{chain}/{order_id}``.

Order ids are unique per chain only, so a single order is addressed by chain and id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from agihub.chain.catalog import OrderState
from agihub_services.api import pagination, schemas
from agihub_services.api.deps import EngineDep
from agihub_services.api.errors import ApiProblem
from agihub_services.db.schema import MarketOrder, OrderEvent

router = APIRouter(prefix="/orders", tags=["orders"], responses=schemas.ERROR_RESPONSES)

_STATE_NAMES = {s.value: s.name.lower() for s in OrderState}
StateQuery = Annotated[
    int | None,
    Query(ge=min(_STATE_NAMES), le=max(_STATE_NAMES), description="OrderState value: " + str(_STATE_NAMES)),
]
_KEY_TYPES = (int, str, int)  # (created_block, chain, order_id)


def order_model(row: MarketOrder) -> schemas.Order:
    """The API view of an ``orders`` row."""
    fields: dict[str, Any] = {c.key: getattr(row, c.key) for c in MarketOrder.__table__.columns}
    return schemas.Order(**fields, state_name=_STATE_NAMES.get(row.state, "unknown"))


def event_model(row: OrderEvent) -> schemas.OrderEvent:
    """The API view of an ``order_events`` row."""
    return schemas.OrderEvent.model_validate(row, from_attributes=True)


@router.get("", response_model=schemas.Page[schemas.Order])
def list_orders(
    engine: EngineDep,
    chain: schemas.ChainQuery = None,
    buyer: schemas.AddressQuery = None,
    relay: Annotated[schemas.AddressQuery, Query(description="the relay that took the order")] = None,
    model: schemas.HashQuery = None,
    state: StateQuery = None,
    from_block: Annotated[schemas.BlockQuery, Query(description="created at or after this block")] = None,
    to_block: Annotated[schemas.BlockQuery, Query(description="created at or before this block")] = None,
    limit: pagination.LimitQuery = pagination.DEFAULT_PAGE_SIZE,
    cursor: pagination.CursorQuery = None,
) -> schemas.Page[schemas.Order]:
    """Orders matching every given filter, newest first (by creation block, then chain and id)."""
    filters = {
        "chain": chain,
        "buyer": buyer,
        "relay": relay,
        "model": model,
        "state": state,
        "from_block": from_block,
        "to_block": to_block,
    }
    digest = pagination.filter_digest(filters)
    after = pagination.decode_cursor(cursor, digest, _KEY_TYPES) if cursor is not None else None
    query = _filtered(select(MarketOrder), filters, after).limit(limit + 1)
    with Session(engine) as session:
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = pagination.encode_cursor((last.created_block, last.chain, last.order_id), digest)
    return schemas.Page[schemas.Order](items=[order_model(r) for r in rows], next_cursor=next_cursor)


def _filtered(query: Select[Any], f: dict[str, Any], after: pagination.Key | None) -> Select[Any]:
    equal = {
        "chain": MarketOrder.chain,
        "buyer": MarketOrder.buyer,
        "relay": MarketOrder.taker,
        "model": MarketOrder.model_root,
        "state": MarketOrder.state,
    }
    for name, column in equal.items():
        if f[name] is not None:
            query = query.where(column == f[name])
    if f["from_block"] is not None:
        query = query.where(MarketOrder.created_block >= f["from_block"])
    if f["to_block"] is not None:
        query = query.where(MarketOrder.created_block <= f["to_block"])
    key = tuple_(MarketOrder.created_block, MarketOrder.chain, MarketOrder.order_id)
    if after is not None:
        query = query.where(key < tuple_(*after))
    return query.order_by(
        MarketOrder.created_block.desc(), MarketOrder.chain.desc(), MarketOrder.order_id.desc()
    )


def load_order(session: Session, chain: str, order_id: int) -> MarketOrder:
    """The order row, or ApiProblem 404 ``not_found`` naming it."""
    row = session.get(MarketOrder, (chain, order_id))
    if row is None:
        raise ApiProblem(404, "not_found", f"no order {order_id} on {chain}")
    return row


@router.get("/{chain}/{order_id}", response_model=schemas.OrderDetail)
def get_order(engine: EngineDep, chain: schemas.ChainPath, order_id: schemas.IdPath) -> schemas.OrderDetail:
    """One order with its full state history, oldest event first."""
    with Session(engine) as session:
        row = load_order(session, chain, order_id)
        events = session.scalars(
            select(OrderEvent)
            .where(OrderEvent.chain == chain, OrderEvent.order_id == order_id)
            .order_by(OrderEvent.block_number, OrderEvent.log_index)
        ).all()
        return schemas.OrderDetail(**order_model(row).model_dump(), events=[event_model(e) for e in events])
