"""Durable per-order state of the relay's order agent (table ``relay_agent_orders``).

One row per (market, order id). Every write is one short transaction; the agent writes the order key
before it sends ``take_order`` (see :mod:`agihub_services.relay.agent`), so a crash at any point
leaves either no commitment on chain or a commitment whose key is in this table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Engine, insert, select, update

from agihub.errors import StorageError
from agihub_services.db.schema import RelayAgentOrder

_orders = RelayAgentOrder.__table__

#: Agent states. PREPARED: sealed and key stored, take not (known to be) mined. TAKEN: taken by this
#: relay. The rest are final: REVEALED (paid), EXPIRED (taken, then settled: only the down payment),
#: LOST (another relay took it or it ended before we took it), DECLINED (we hold no shard of the model).
PREPARED, TAKEN, REVEALED, EXPIRED, LOST, DECLINED = (
    "prepared",
    "taken",
    "revealed",
    "expired",
    "lost",
    "declined",
)
FINAL = frozenset({REVEALED, EXPIRED, LOST, DECLINED})
#: Largest order id the table holds (BIGINT); the contract numbers orders from 1 upward.
MAX_ORDER_ID = 2**63 - 1


class AgentStoreError(StorageError):
    """A row is missing or a write would break the agent's invariants."""


@dataclass(frozen=True)
class AgentOrder:
    """One row of ``relay_agent_orders``."""

    market: str
    order_id: int
    state: str
    buyer: str
    model_root: str
    order_key: str | None = None
    salt: str | None = None
    delivery_sha256: str | None = None
    plain_size: int | None = None
    take_tx: str | None = None
    reveal_tx: str | None = None
    settle_tx: str | None = None
    down_paid: str | None = None
    relay_paid: str | None = None
    updated_at: int = 0


_FIELDS = tuple(f.name for f in fields(AgentOrder))


class AgentStore:
    """Reads and writes the agent's rows for one market."""

    def __init__(self, engine: Engine, market: str) -> None:
        self.engine, self.market = engine, market

    def _where(self, order_id: int) -> Any:
        if not 0 <= order_id <= MAX_ORDER_ID:
            raise AgentStoreError(f"order id {order_id} does not fit the agent table (max {MAX_ORDER_ID})")
        return (_orders.c.market == self.market) & (_orders.c.order_id == order_id)

    def get(self, order_id: int) -> AgentOrder | None:
        """The row of ``order_id`` or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_orders).where(self._where(order_id))).first()
        return None if row is None else AgentOrder(**{k: getattr(row, k) for k in _FIELDS})

    def insert(self, order: AgentOrder) -> AgentOrder:
        """Add a new row; refuses (AgentStoreError) if the order already has one, so a key is never
        overwritten."""
        if order.market != self.market:
            raise AgentStoreError(f"row is for market {order.market}, store is for {self.market}")
        if self.get(order.order_id) is not None:
            raise AgentStoreError(f"order {order.order_id} already has an agent row")
        values = {k: getattr(order, k) for k in _FIELDS} | {"updated_at": int(time.time())}
        with self.engine.begin() as conn:
            conn.execute(insert(_orders).values(**values))
        return AgentOrder(**values)

    def update(self, order_id: int, **changes: Any) -> AgentOrder:
        """Change some columns of an existing row (never the key, salt or identity)."""
        frozen = {"market", "order_id", "order_key", "salt"} & changes.keys()
        if frozen:
            raise AgentStoreError(f"columns {sorted(frozen)} never change once written")
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_orders).where(self._where(order_id)).values(**changes, updated_at=int(time.time()))
            ).rowcount
        if not done:
            raise AgentStoreError(f"order {order_id} has no agent row")
        row = self.get(order_id)
        assert row is not None  # just updated
        return row

    def open_orders(self) -> list[int]:
        """Ids of rows not yet in a final state, oldest first."""
        stmt = (
            select(_orders.c.order_id)
            .where(_orders.c.market == self.market, _orders.c.state.not_in(sorted(FINAL)))
            .order_by(_orders.c.order_id)
        )
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(stmt).scalars()]

    def all(self) -> list[AgentOrder]:
        """Every row of this market, by order id."""
        stmt = select(_orders).where(_orders.c.market == self.market).order_by(_orders.c.order_id)
        with self.engine.connect() as conn:
            return [AgentOrder(**{k: getattr(r, k) for k in _FIELDS}) for r in conn.execute(stmt)]
