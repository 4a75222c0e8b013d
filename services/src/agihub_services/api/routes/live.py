"""Live updates over server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html).

``GET /orders/{chain}/{order_id}/events`` streams an order's events (``event: order_event``) as the
indexer writes them; each carries ``id: <block>:<log_index>`` so a reconnecting client that sends
``Last-Event-ID`` resumes after it. ``GET /relays/{chain}/{address}/queue`` streams orders offered to
a relay whenever they change (``event: order``), starting with those currently open.

Both poll the database (the indexer is another process; there is no notification channel shared by
SQLite and PostgreSQL) every ``interval`` seconds, bounded to 0.05..5 s, and send a comment line as a
keep-alive so proxies do not cut idle streams.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, Select, func, select, tuple_
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from agihub.chain.catalog import OrderState
from agihub_services.api import schemas
from agihub_services.api.routes.orders import event_model, load_order, order_model
from agihub_services.db.schema import MarketOrder, OrderEvent

log = logging.getLogger(__name__)
T = TypeVar("T")
router = APIRouter(tags=["live"], responses=schemas.ERROR_RESPONSES)

IntervalQuery = Annotated[float, Query(ge=0.05, le=5.0, description="poll interval in seconds")]
#: Rows sent per poll at most; the rest follow on the next poll.
BATCH = 200
KEEPALIVE_SECONDS = 15.0
#: Orders read per relay-queue poll (the relay filter runs in Python over the JSON list of relays).
QUEUE_SCAN = 1000
_LAST_EVENT_ID = re.compile(r"^(\d{1,19}):(\d{1,9})$")
_SSE = {200: {"content": {"text/event-stream": {}}, "description": "a server-sent event stream"}}


def sse(event: str, data: str, event_id: str | None = None) -> str:
    """One server-sent event frame."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def parse_last_event_id(value: str | None) -> tuple[int, int] | None:
    """``<block>:<log_index>`` from a Last-Event-ID header; 422 naming the header when malformed."""
    if value is None:
        return None
    match = _LAST_EVENT_ID.match(value)
    if match is None:
        error = {
            "loc": ("header", "last-event-id"),
            "msg": "expected <block>:<log_index>",
            "type": "value_error",
        }
        raise RequestValidationError([error])
    return int(match[1]), int(match[2])


def order_events_after(
    engine: Engine, chain: str, order_id: int, after: tuple[int, int] | None
) -> list[schemas.OrderEvent]:
    """The order's events past ``after`` (block, log index), oldest first, at most BATCH of them."""
    query = select(OrderEvent).where(OrderEvent.chain == chain, OrderEvent.order_id == order_id)
    if after is not None:
        query = query.where(tuple_(OrderEvent.block_number, OrderEvent.log_index) > tuple_(*after))
    query = query.order_by(OrderEvent.block_number, OrderEvent.log_index).limit(BATCH)
    with Session(engine) as session:
        return [event_model(row) for row in session.scalars(query)]


def _check_order(engine: Engine, chain: str, order_id: int) -> None:
    with Session(engine) as session:
        load_order(session, chain, order_id)


async def _poll(
    request: Request, interval: float, fetch: Callable[[], Sequence[T]], render: Callable[[T], str]
) -> AsyncIterator[str]:
    """Call ``fetch`` every ``interval`` seconds and yield ``render(item)`` per item until the client leaves."""
    idle = 0.0
    while not await request.is_disconnected():
        items = await run_in_threadpool(fetch)
        for item in items:
            yield render(item)
        idle = 0.0 if items else idle + interval
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ": keep-alive\n\n"
        if len(items) < BATCH:  # a full batch means more rows are waiting: fetch them at once
            await asyncio.sleep(interval)


@router.get("/orders/{chain}/{order_id}/events", response_class=StreamingResponse, responses=_SSE)
async def order_events(
    request: Request,
    chain: schemas.ChainPath,
    order_id: schemas.IdPath,
    interval: IntervalQuery = 1.0,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> StreamingResponse:
    """Stream the order's events, from the first (or after ``Last-Event-ID``) on, as they are indexed."""
    engine: Engine = request.app.state.engine
    position = parse_last_event_id(last_event_id)
    await run_in_threadpool(_check_order, engine, chain, order_id)

    def fetch() -> list[schemas.OrderEvent]:
        nonlocal position
        events = order_events_after(engine, chain, order_id, position)
        if events:
            position = (events[-1].block_number, events[-1].log_index)
        return events

    def render(e: schemas.OrderEvent) -> str:
        return sse("order_event", e.model_dump_json(), f"{e.block_number}:{e.log_index}")

    return StreamingResponse(_poll(request, interval, fetch, render), media_type="text/event-stream")


class RelayQueue:
    """Orders offered to one relay that changed since the last poll (``updated_block`` moves forward)."""

    def __init__(self, engine: Engine, chain: str, address: str) -> None:
        self.engine, self.chain, self.address = engine, chain, address
        self.from_block: int | None = None
        # What was last sent per order in the current block: rows of a block may land in several polls.
        self.sent: dict[int, tuple[int, int]] = {}

    def poll(self) -> list[schemas.Order]:
        """The first call returns the open orders offered to the relay; later calls what changed since."""
        with Session(self.engine) as session:
            rows = self._snapshot(session) if self.from_block is None else self._changes(session)
            offered = [r for r in rows if self.address in (r.relays or ())]
            out = [order_model(r) for r in offered if self.sent.get(r.order_id) != (r.updated_block, r.state)]
        for item in out:
            self.sent[item.order_id] = (item.updated_block, item.state)
        self.sent = {k: v for k, v in self.sent.items() if v[0] >= (self.from_block or 0)}
        return out

    def _snapshot(self, session: Session) -> list[MarketOrder]:
        head = select(func.max(MarketOrder.updated_block)).where(MarketOrder.chain == self.chain)
        self.from_block = session.scalar(head) or 0
        # Rows of the head block are already reflected in the snapshot: never resend them as changes.
        for row in session.scalars(self._base().where(MarketOrder.updated_block == self.from_block)):
            self.sent[row.order_id] = (row.updated_block, row.state)
        query = self._base().where(MarketOrder.state == int(OrderState.OPEN))
        snapshot = list(session.scalars(query.limit(QUEUE_SCAN)))
        for row in snapshot:
            self.sent.pop(row.order_id, None)  # ...except the open orders, which the snapshot sends
        return snapshot

    def _changes(self, session: Session) -> list[MarketOrder]:
        # ">=": the indexer may commit more rows of the last block seen after the previous poll.
        rows = list(
            session.scalars(
                self._base().where(MarketOrder.updated_block >= self.from_block).limit(QUEUE_SCAN)
            )
        )
        if rows:
            self.from_block = max(self.from_block or 0, rows[-1].updated_block)
        return rows

    def _base(self) -> Select[tuple[MarketOrder]]:
        return (
            select(MarketOrder)
            .where(MarketOrder.chain == self.chain)
            .order_by(MarketOrder.updated_block, MarketOrder.order_id)
        )


@router.get("/relays/{chain}/{address}/queue", response_class=StreamingResponse, responses=_SSE)
async def relay_queue(
    request: Request,
    chain: schemas.ChainPath,
    address: schemas.AddressPath,
    interval: IntervalQuery = 1.0,
) -> StreamingResponse:
    """Stream the open orders offered to the relay, then every later change to an order offered to it."""
    queue = RelayQueue(request.app.state.engine, chain, address)

    def render(order: schemas.Order) -> str:
        return sse(
            "order", json.dumps(order.model_dump(mode="json")), f"{order.updated_block}:{order.order_id}"
        )

    return StreamingResponse(_poll(request, interval, queue.poll, render), media_type="text/event-stream")
