"""Rows of the indexer's tables written directly, as the indexer would, for the read-endpoint tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import (
    ContributionRow,
    MarketOrder,
    ModelLineage,
    OrderEvent,
    Payment,
    Relay,
    RelayDelivery,
    ScoreRecord,
)

CHAIN = "evm:31337"
OTHER_CHAIN = "aptos:4"
# EIP-55 forms, as the indexer stores EVM addresses.
BUYER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
RELAY_A = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
RELAY_B = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
CONTRIBUTOR = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
ROOT_BASE = "0x" + "11" * 32
ROOT_CHILD = "0x" + "22" * 32
ROOT_GRANDCHILD = "0x" + "33" * 32


def tx(n: int) -> str:
    return "0x" + f"{n:064x}"


def order(order_id: int, created_block: int, **fields: Any) -> MarketOrder:
    values: dict[str, Any] = {
        "chain": CHAIN,
        "order_id": order_id,
        "buyer": BUYER,
        "model_root": ROOT_BASE,
        "relays": [RELAY_A],
        "state": 1,
        "down": "10",
        "cost": "100",
        "tip": "1",
        "deadline": 1000,
        "ack_window": 10,
        "reveal_window": 10,
        "created_block": created_block,
        "updated_block": created_block,
    }
    values.update(fields)
    return MarketOrder(**values)


def order_event(
    order_id: int, block: int, log_index: int, event: str, state: int, chain: str = CHAIN
) -> OrderEvent:
    return OrderEvent(
        chain=chain,
        block_number=block,
        tx_hash=tx(block),
        log_index=log_index,
        order_id=order_id,
        event=event,
        state=state,
    )


def delivery(relay: str, order_id: int, block: int, outcome: str) -> RelayDelivery:
    return RelayDelivery(
        chain=CHAIN,
        block_number=block,
        tx_hash=tx(block),
        log_index=0,
        relay=relay,
        order_id=order_id,
        outcome=outcome,
    )


def payment(block: int, seq: int, kind: str, account: str | None, amount: int, chain: str = CHAIN) -> Payment:
    return Payment(
        chain=chain,
        block_number=block,
        tx_hash=tx(block),
        log_index=0,
        seq=seq,
        kind=kind,
        account=account,
        amount=str(amount),
    )


def seed_market(engine: Engine) -> None:
    """Five orders over two chains, two relays with a delivery record, a three-model lineage."""
    with session_scope(engine) as s:
        s.add_all(
            [
                order(1, 10, state=4, taker=RELAY_A),
                order(2, 11, state=6, taker=RELAY_B, relays=[RELAY_A, RELAY_B]),
                order(3, 12, state=1, buyer=RELAY_B, model_root=ROOT_CHILD),
                order(4, 12, state=2, taker=RELAY_A),
                order(1, 11, chain=OTHER_CHAIN, buyer="0x" + "ab" * 32, relays=None),
                order_event(1, 10, 0, "OrderCreated", 1),
                order_event(1, 13, 2, "OrderTaken", 2),
                order_event(1, 13, 1, "Unrelated", 1, chain=OTHER_CHAIN),
                order_event(1, 15, 0, "KeyRevealed", 4),
                Relay(
                    chain=CHAIN,
                    address=RELAY_A,
                    endpoint="ws://a",
                    registered=True,
                    registered_block=1,
                    updated_block=1,
                ),
                Relay(
                    chain=CHAIN,
                    address=RELAY_B,
                    endpoint="ws://b",
                    registered=False,
                    registered_block=2,
                    updated_block=9,
                ),
                delivery(RELAY_A, 1, 13, "taken"),
                delivery(RELAY_A, 1, 15, "delivered"),
                delivery(RELAY_B, 2, 14, "taken"),
                delivery(RELAY_B, 2, 20, "failed"),
                delivery(RELAY_A, 4, 21, "taken"),
            ]
        )
        for root, parent, cid, block in (
            (ROOT_BASE, "0x" + "00" * 32, 1, 3),
            (ROOT_CHILD, ROOT_BASE, 2, 5),
            (ROOT_GRANDCHILD, ROOT_CHILD, 3, 7),
        ):
            s.add(
                ModelLineage(
                    chain=CHAIN,
                    model_root=root,
                    parent_root=parent,
                    contribution_id=cid,
                    contributor=CONTRIBUTOR,
                    block_number=block,
                )
            )
            s.add(
                ContributionRow(
                    chain=CHAIN,
                    contribution_id=cid,
                    contributor=CONTRIBUTOR if cid != 3 else RELAY_B,
                    model_root=root,
                    parent_root=parent,
                    epoch=1 if cid < 3 else None,
                    score="5" if cid < 3 else None,
                    final=cid < 3,
                    claimed=cid == 1,
                    reward="7" if cid == 1 else None,
                    created_block=block,
                    updated_block=block + 10,
                )
            )
        s.add_all(
            [
                ScoreRecord(
                    chain=CHAIN,
                    block_number=4,
                    tx_hash=tx(4),
                    log_index=0,
                    contribution_id=1,
                    kind="committed",
                    validator=RELAY_B,
                    commitment=tx(99),
                ),
                ScoreRecord(
                    chain=CHAIN,
                    block_number=6,
                    tx_hash=tx(6),
                    log_index=0,
                    contribution_id=1,
                    kind="revealed",
                    validator=RELAY_B,
                    score="5",
                ),
                ScoreRecord(
                    chain=CHAIN,
                    block_number=8,
                    tx_hash=tx(8),
                    log_index=1,
                    contribution_id=1,
                    kind="final",
                    score="5",
                ),
            ]
        )
