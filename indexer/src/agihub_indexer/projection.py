"""Pure projections: market events -> database rows. No I/O; unit-tested without a chain.

Two kinds of output:

* **History rows**, one or more per event, keyed by the event's position (chain, block, tx, index):
  ``chain_events`` (every event, decoded), ``order_events`` (state history), ``payments`` (every
  movement of value), ``relay_deliveries`` (a relay's delivery record), ``scores``, plus ``epochs``
  and ``models`` keyed by their own ids with the block that created them.
* **Current state** of orders, relays and contributions, folded event by event:
  ``apply_*(row or None, event) -> row``. Folding an entity's full history from ``None`` gives the
  same row as folding its new events onto the stored row, which is how a reorg rollback rebuilds
  exactly the entities it touched.

Amounts are uint256 on the EVM, so they are stored as decimal strings (exact on SQLite and
PostgreSQL alike); ids, times and block numbers must fit a signed 64-bit column or the event is
refused as malformed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from agihub.chain.catalog import OrderState
from agihub_indexer.errors import MalformedEvent
from agihub_indexer.sources.base import EventRecord

log = logging.getLogger(__name__)

Row = dict[str, Any]
Rows = dict[str, list[Row]]

INT64_MAX = 2**63 - 1

ORDER_EVENTS = frozenset(
    {
        "OrderPulled",
        "PaymentRaised",
        "OrderCancelled",
        "OrderTaken",
        "OrderConfirmed",
        "KeyRevealed",
        "OrderSettled",
    }
)
RELAY_EVENTS = frozenset({"RelayRegistered", "RelayUpdated", "RelayDeregistered"})
CONTRIBUTION_EVENTS = frozenset(
    {"ContributionRegistered", "ScoreCommitted", "ScoreRevealed", "ScoreFinalized", "RewardClaimed"}
)
#: Tables whose rows are keyed by an event position; a rollback deletes them by block number.
POSITION_TABLES = ("chain_events", "order_events", "payments", "relay_deliveries", "scores")
#: Tables keyed by their own id, created once at a block; a rollback deletes them by block number.
CREATED_TABLES = ("epochs", "models")
#: Current-state tables: a rollback re-folds the entities it touched.
STATE_TABLES = ("orders", "relays", "contributions")


def int64(event: EventRecord, name: str) -> int:
    """Field ``name`` as an int that fits a BIGINT column; MalformedEvent otherwise."""
    value = event.fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise MalformedEvent(
            f"{event.name} at block {event.block_number}: {name}={value!r} is not a 64-bit id"
        )
    return value


def amount(event: EventRecord, name: str) -> str:
    """Field ``name`` as a decimal string (uint256 amounts exceed every integer column type)."""
    value = event.fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEvent(f"{event.name} at block {event.block_number}: {name}={value!r} is not an amount")
    return str(value)


def position(event: EventRecord) -> Row:
    """The position columns every history row starts with."""
    return {
        "chain": event.chain,
        "block_number": event.block_number,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
    }


def entity_keys(event: EventRecord) -> tuple[int | None, int | None, str | None]:
    """``(order_id, contribution_id, relay)`` the event changes (None where it changes none)."""
    if event.name in ORDER_EVENTS:
        return int64(event, "order_id"), None, None
    if event.name in CONTRIBUTION_EVENTS:
        return None, int64(event, "contribution_id"), None
    if event.name in RELAY_EVENTS:
        return None, None, str(event.fields["relay"])
    return None, None, None


def event_row(event: EventRecord, keys: tuple[int | None, int | None, str | None] | None = None) -> Row:
    """The ``chain_events`` row: the decoded event with its entity keys for lookups and rollback.

    ``keys`` is :func:`entity_keys` of the event when the caller already has it.
    """
    order_id, contribution_id, relay = keys if keys is not None else entity_keys(event)
    return {
        "chain": event.chain,
        "block_number": event.block_number,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "block_hash": event.block_hash,
        "contract": event.contract,
        "name": event.name,
        "order_id": order_id,
        "contribution_id": contribution_id,
        "relay": relay,
        "fields": event.fields,
    }


def event_from_row(row: Any) -> EventRecord:
    """Rebuild an :class:`EventRecord` from a ``chain_events`` row (for re-folding after a rollback)."""
    return EventRecord(
        row.chain,
        row.block_number,
        row.block_hash,
        row.tx_hash,
        row.log_index,
        row.contract,
        row.name,
        dict(row.fields),
    )


# -- orders -----------------------------------------------------------------------------------------
def _payment(event: EventRecord, seq: int, kind: str, account: str | None, value: str, **ids: Any) -> Row:
    return {
        **position(event),
        "seq": seq,
        "kind": kind,
        "account": account,
        "amount": value,
        "order_id": ids.get("order_id"),
        "contribution_id": ids.get("contribution_id"),
    }


def _new_order(event: EventRecord, order_id: int) -> Row:
    return {
        "chain": event.chain,
        "order_id": order_id,
        "buyer": None,
        "model_root": None,
        "relays": None,
        "state": int(OrderState.NONE),
        "down": "0",
        "cost": "0",
        "tip": "0",
        "deadline": 0,
        "ack_window": 0,
        "reveal_window": 0,
        "taker": None,
        "key_commit": None,
        "delivery_root": None,
        "refund": None,
        "relay_amount": None,
        "fee": None,
        "created_block": event.block_number,
        "updated_block": event.block_number,
    }


def _pulled(order: Row, event: EventRecord, out: Rows) -> None:
    f = event.fields
    down, cost, tip = amount(event, "down"), amount(event, "cost"), amount(event, "tip")
    order.update(
        buyer=f["buyer"],
        model_root=f["model_root"],
        relays=list(f["relays"]),
        state=int(OrderState.OPEN),
        down=down,
        cost=cost,
        tip=tip,
        deadline=int64(event, "take_deadline"),
        ack_window=int64(event, "ack_window"),
        reveal_window=int64(event, "reveal_window"),
    )
    escrow = str(int(down) + int(cost) + int(tip))
    out["payments"].append(_payment(event, 0, "escrow", f["buyer"], escrow, order_id=order["order_id"]))


def _raised(order: Row, event: EventRecord, out: Rows) -> None:
    added = sum(int(amount(event, k)) for k in ("down", "cost", "tip"))
    order.update(down=amount(event, "new_down"), cost=amount(event, "new_cost"), tip=amount(event, "new_tip"))
    out["payments"].append(
        _payment(event, 0, "escrow", order["buyer"], str(added), order_id=order["order_id"])
    )


def _cancelled(order: Row, event: EventRecord, out: Rows) -> None:
    refund = amount(event, "refund")
    order.update(state=int(OrderState.CANCELLED), refund=refund, deadline=0)
    out["payments"].append(_payment(event, 0, "refund", order["buyer"], refund, order_id=order["order_id"]))


def _taken(order: Row, event: EventRecord, out: Rows) -> None:
    relay, order_id = event.fields["relay"], order["order_id"]
    order.update(
        state=int(OrderState.TAKEN),
        taker=relay,
        key_commit=event.fields["key_commit"],
        deadline=int64(event, "ack_deadline"),
    )
    out["payments"].append(
        _payment(event, 0, "down_payment", relay, amount(event, "down_paid"), order_id=order_id)
    )
    out["relay_deliveries"].append(
        {**position(event), "relay": relay, "order_id": order_id, "outcome": "taken"}
    )


def _confirmed(order: Row, event: EventRecord, out: Rows) -> None:
    order.update(
        state=int(OrderState.ACKED),
        delivery_root=event.fields["delivery_root"],
        deadline=int64(event, "reveal_deadline"),
    )


def _revealed(order: Row, event: EventRecord, out: Rows) -> None:
    relay, order_id = event.fields["relay"], order["order_id"]
    paid, fee = amount(event, "relay_amount"), amount(event, "fee")
    order.update(state=int(OrderState.COMPLETED), relay_amount=paid, fee=fee, deadline=0)
    out["payments"].append(_payment(event, 0, "relay_payment", relay, paid, order_id=order_id))
    out["payments"].append(_payment(event, 1, "fee", None, fee, order_id=order_id))
    out["relay_deliveries"].append(
        {**position(event), "relay": relay, "order_id": order_id, "outcome": "delivered"}
    )


def _settled(order: Row, event: EventRecord, out: Rows) -> None:
    refund, from_state = amount(event, "refund"), int64(event, "from_state")
    order.update(state=int(OrderState.EXPIRED), refund=refund, deadline=0)
    order_id = order["order_id"]
    out["payments"].append(_payment(event, 0, "refund", order["buyer"], refund, order_id=order_id))
    # A relay that took the order and let it expire failed that delivery.
    if from_state in (OrderState.TAKEN, OrderState.ACKED) and order["taker"]:
        out["relay_deliveries"].append(
            {**position(event), "relay": order["taker"], "order_id": order_id, "outcome": "failed"}
        )


_ORDER_HANDLERS = {
    "OrderPulled": _pulled,
    "PaymentRaised": _raised,
    "OrderCancelled": _cancelled,
    "OrderTaken": _taken,
    "OrderConfirmed": _confirmed,
    "KeyRevealed": _revealed,
    "OrderSettled": _settled,
}


def apply_order(order: Row | None, event: EventRecord, out: Rows) -> Row:
    """Fold one order event onto ``order`` (None: not seen yet); history rows go to ``out``.

    An order first seen after its ``OrderPulled`` (indexing started later) gets a row whose
    pull-time fields are unknown (None) rather than being dropped.
    """
    order_id = int64(event, "order_id")
    row = dict(order) if order is not None else _new_order(event, order_id)
    if order is None and event.name != "OrderPulled":
        log.warning(
            "order %s first seen at %s (block %s): its pull predates the indexed range",
            order_id,
            event.name,
            event.block_number,
        )
    _ORDER_HANDLERS[event.name](row, event, out)
    row["updated_block"] = event.block_number
    out["order_events"].append(
        {**position(event), "order_id": order_id, "event": event.name, "state": row["state"]}
    )
    return row


# -- relays -----------------------------------------------------------------------------------------
def apply_relay(relay: Row | None, event: EventRecord) -> Row:
    """Fold one relay registry event onto ``relay`` (None: not seen yet)."""
    address = str(event.fields["relay"])
    row = (
        dict(relay)
        if relay is not None
        else {
            "chain": event.chain,
            "address": address,
            "nostr_pubkey": None,
            "endpoint": None,
            "registered": False,
            "registered_block": None,
            "updated_block": event.block_number,
        }
    )
    if event.name == "RelayDeregistered":
        row["registered"] = False
    else:
        row.update(
            nostr_pubkey=event.fields["nostr_pubkey"], endpoint=event.fields["endpoint"], registered=True
        )
        if event.name == "RelayRegistered":
            row["registered_block"] = event.block_number
    row["updated_block"] = event.block_number
    return row


# -- contributions ----------------------------------------------------------------------------------
def _new_contribution(event: EventRecord, contribution_id: int) -> Row:
    return {
        "chain": event.chain,
        "contribution_id": contribution_id,
        "contributor": None,
        "model_root": None,
        "parent_root": None,
        "epoch": None,
        "score": None,
        "final": False,
        "claimed": False,
        "reward": None,
        "created_block": event.block_number,
        "updated_block": event.block_number,
    }


def _score_row(event: EventRecord, kind: str, **values: Any) -> Row:
    return {
        **position(event),
        "contribution_id": int64(event, "contribution_id"),
        "kind": kind,
        "validator": values.get("validator"),
        "commitment": values.get("commitment"),
        "score": values.get("score"),
    }


def apply_contribution(contribution: Row | None, event: EventRecord, out: Rows) -> Row:
    """Fold one contribution/score/reward event onto ``contribution``; history rows go to ``out``."""
    cid = int64(event, "contribution_id")
    row = dict(contribution) if contribution is not None else _new_contribution(event, cid)
    f = event.fields
    if event.name == "ContributionRegistered":
        row.update(
            contributor=f["contributor"],
            model_root=f["model_root"],
            parent_root=f["parent_root"],
            epoch=int64(event, "epoch"),
        )
        out["models"].append(
            {
                "chain": event.chain,
                "model_root": f["model_root"],
                "parent_root": f["parent_root"],
                "contribution_id": cid,
                "contributor": f["contributor"],
                "block_number": event.block_number,
            }
        )
    elif event.name == "ScoreCommitted":
        out["scores"].append(
            _score_row(event, "committed", validator=f["validator"], commitment=f["commitment"])
        )
    elif event.name == "ScoreRevealed":
        out["scores"].append(
            _score_row(event, "revealed", validator=f["validator"], score=amount(event, "score"))
        )
    elif event.name == "ScoreFinalized":
        row.update(score=amount(event, "score"), final=True, epoch=int64(event, "epoch"))
        out["scores"].append(_score_row(event, "finalized", score=row["score"]))
    else:  # RewardClaimed
        reward = amount(event, "amount")
        row.update(claimed=True, reward=reward)
        out["payments"].append(_payment(event, 0, "reward", f["contributor"], reward, contribution_id=cid))
    row["updated_block"] = event.block_number
    return row


# -- everything else --------------------------------------------------------------------------------
def standalone_rows(event: EventRecord, out: Rows) -> None:
    """History rows of events that change no order, relay or contribution."""
    if event.name == "Withdrawn":
        out["payments"].append(
            _payment(event, 0, "withdrawal", event.fields["account"], amount(event, "amount"))
        )
    elif event.name == "EpochClosed":
        out["epochs"].append(
            {
                "chain": event.chain,
                "epoch": int64(event, "epoch"),
                "pool": amount(event, "pool"),
                "total_score": amount(event, "total_score"),
                "block_number": event.block_number,
            }
        )


class Projector:
    """Folds a sequence of events onto preloaded state; collects history rows and changed state.

    ``orders``, ``relays`` and ``contributions`` map an entity key to its current row (absent: not
    stored yet). After :meth:`apply`, ``changed`` names every key whose row must be written back.
    """

    def __init__(
        self,
        orders: dict[int, Row] | None = None,
        relays: dict[str, Row] | None = None,
        contributions: dict[int, Row] | None = None,
    ) -> None:
        self.orders = dict(orders or {})
        self.relays = dict(relays or {})
        self.contributions = dict(contributions or {})
        self.rows: Rows = defaultdict(list)
        self.changed: dict[str, set[Any]] = {"orders": set(), "relays": set(), "contributions": set()}

    def apply(self, events: Iterable[EventRecord]) -> Projector:
        """Apply ``events`` in order (they must be sorted by position)."""
        history = self.rows["chain_events"]
        for event in events:
            keys = entity_keys(event)  # once per event: the row and the routing both need them
            history.append(event_row(event, keys))
            self._route(event, keys)
        return self

    def _route(self, event: EventRecord, keys: tuple[int | None, int | None, str | None]) -> None:
        order_id, contribution_id, relay = keys
        if order_id is not None:
            self.orders[order_id] = apply_order(self.orders.get(order_id), event, self.rows)
            self.changed["orders"].add(order_id)
        elif contribution_id is not None:
            self.contributions[contribution_id] = apply_contribution(
                self.contributions.get(contribution_id), event, self.rows
            )
            self.changed["contributions"].add(contribution_id)
        elif relay is not None:
            self.relays[relay] = apply_relay(self.relays.get(relay), event)
            self.changed["relays"].add(relay)
        else:
            standalone_rows(event, self.rows)

    def state_rows(self, table: str) -> list[Row]:
        """Rows of ``table`` ("orders", "relays", "contributions") that changed, in key order."""
        source = {"orders": self.orders, "relays": self.relays, "contributions": self.contributions}[table]
        return [source[key] for key in sorted(self.changed[table])]
