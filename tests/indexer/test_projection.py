"""Pure projections: events -> rows, without a chain or a database."""

from __future__ import annotations

import pytest

from agihub.chain.catalog import OrderState
from agihub_indexer.errors import MalformedEvent
from agihub_indexer.projection import Projector, apply_order, entity_keys, event_row
from agihub_indexer.sources.base import EventRecord

CHAIN = "evm:1"
BUYER, RELAY, OTHER = "0x" + "b1" * 20, "0x" + "a1" * 20, "0x" + "a2" * 20
ROOT = "0x" + "11" * 32


def ev(block: int, name: str, index: int = 0, **fields: object) -> EventRecord:
    return EventRecord(
        CHAIN, block, f"0x{block:064x}", f"0x{block:064x}", index, "0xmarket", name, dict(fields)
    )


def pulled(block: int = 1, order_id: int = 7) -> EventRecord:
    return ev(
        block,
        "OrderPulled",
        order_id=order_id,
        buyer=BUYER,
        model_root=ROOT,
        relays=[RELAY, OTHER],
        down=10,
        cost=100,
        tip=1,
        take_deadline=1000,
        ack_window=60,
        reveal_window=70,
    )


def taken(block: int = 2, order_id: int = 7) -> EventRecord:
    return ev(
        block,
        "OrderTaken",
        order_id=order_id,
        relay=RELAY,
        key_commit="0x" + "cc" * 32,
        ack_deadline=2000,
        down_paid=10,
    )


def lifecycle() -> list[EventRecord]:
    return [
        pulled(),
        ev(2, "PaymentRaised", order_id=7, down=1, cost=2, tip=3, new_down=11, new_cost=102, new_tip=4),
        taken(3),
        ev(4, "OrderConfirmed", order_id=7, delivery_root="0x" + "dd" * 32, reveal_deadline=3000),
        ev(
            5,
            "KeyRevealed",
            order_id=7,
            relay=RELAY,
            key="0x" + "ee" * 32,
            salt="0x" + "ff" * 32,
            relay_amount=110,
            fee=3,
        ),
    ]


def test_an_order_lifecycle_yields_state_history_payments_and_deliveries() -> None:
    p = Projector().apply(lifecycle())
    order = p.orders[7]
    assert order["state"] == OrderState.COMPLETED
    assert (order["down"], order["cost"], order["tip"]) == ("11", "102", "4")
    assert order["taker"] == RELAY and order["relay_amount"] == "110" and order["fee"] == "3"
    assert order["created_block"] == 1 and order["updated_block"] == 5 and order["deadline"] == 0
    assert [(r["event"], r["state"]) for r in p.rows["order_events"]] == [
        ("OrderPulled", 1),
        ("PaymentRaised", 1),
        ("OrderTaken", 2),
        ("OrderConfirmed", 3),
        ("KeyRevealed", 4),
    ]
    assert [(r["kind"], r["account"], r["amount"]) for r in p.rows["payments"]] == [
        ("escrow", BUYER, "111"),
        ("escrow", BUYER, "6"),
        ("down_payment", RELAY, "10"),
        ("relay_payment", RELAY, "110"),
        ("fee", None, "3"),
    ]
    assert [r["outcome"] for r in p.rows["relay_deliveries"]] == ["taken", "delivered"]
    assert len(p.rows["chain_events"]) == 5


@pytest.mark.parametrize(
    ("from_state", "failed"), [(OrderState.OPEN, False), (OrderState.TAKEN, True), (OrderState.ACKED, True)]
)
def test_an_expired_order_counts_as_a_failed_delivery_only_if_it_was_taken(from_state, failed) -> None:
    events = [pulled()] + ([taken()] if from_state != OrderState.OPEN else [])
    events.append(ev(9, "OrderSettled", order_id=7, from_state=int(from_state), refund=101))
    p = Projector().apply(events)
    assert p.orders[7]["state"] == OrderState.EXPIRED and p.orders[7]["refund"] == "101"
    outcomes = [(r["relay"], r["outcome"]) for r in p.rows["relay_deliveries"] if r["outcome"] == "failed"]
    assert outcomes == ([(RELAY, "failed")] if failed else [])
    assert p.rows["payments"][-1]["kind"] == "refund" and p.rows["payments"][-1]["account"] == BUYER


def test_cancel_refunds_the_buyer() -> None:
    p = Projector().apply([pulled(), ev(2, "OrderCancelled", order_id=7, refund=111)])
    assert p.orders[7]["state"] == OrderState.CANCELLED
    assert p.rows["payments"][-1] == {
        **p.rows["payments"][-1],
        "kind": "refund",
        "account": BUYER,
        "amount": "111",
    }


def test_folding_in_steps_equals_folding_at_once() -> None:
    events = lifecycle()
    whole = Projector().apply(events)
    first = Projector().apply(events[:2])
    second = Projector(orders=first.orders).apply(events[2:])
    assert second.orders == whole.orders


def test_an_order_seen_first_after_its_pull_gets_a_row_with_unknown_pull_fields() -> None:
    p = Projector().apply([taken()])
    assert p.orders[7]["buyer"] is None and p.orders[7]["state"] == OrderState.TAKEN


def test_relay_registry_fold() -> None:
    events = [
        ev(1, "RelayRegistered", relay=RELAY, nostr_pubkey="0x" + "01" * 32, endpoint="wss://a"),
        ev(2, "RelayUpdated", relay=RELAY, nostr_pubkey="0x" + "02" * 32, endpoint="wss://b"),
        ev(3, "RelayDeregistered", relay=RELAY),
    ]
    p = Projector().apply(events)
    relay = p.relays[RELAY]
    assert relay["endpoint"] == "wss://b" and relay["registered"] is False
    assert relay["registered_block"] == 1 and relay["updated_block"] == 3
    assert p.state_rows("relays") == [relay]


def test_contribution_scores_reward_and_lineage() -> None:
    parent = "0x" + "00" * 32
    events = [
        ev(
            1,
            "ContributionRegistered",
            contribution_id=3,
            contributor=OTHER,
            model_root=ROOT,
            parent_root=parent,
            epoch=1,
        ),
        ev(2, "ScoreCommitted", contribution_id=3, validator=RELAY, commitment="0x" + "cc" * 32),
        ev(3, "ScoreRevealed", contribution_id=3, validator=RELAY, score=42),
        ev(3, "ScoreFinalized", 1, contribution_id=3, score=42, epoch=1),
        ev(4, "EpochClosed", epoch=1, pool=500, total_score=42),
        ev(5, "RewardClaimed", contribution_id=3, contributor=OTHER, amount=500),
        ev(6, "Withdrawn", account=OTHER, amount=500),
    ]
    p = Projector().apply(events)
    c = p.contributions[3]
    assert (c["score"], c["final"], c["claimed"], c["reward"]) == ("42", True, True, "500")
    assert [r["kind"] for r in p.rows["scores"]] == ["committed", "revealed", "finalized"]
    assert p.rows["models"] == [
        {
            "chain": CHAIN,
            "model_root": ROOT,
            "parent_root": parent,
            "contribution_id": 3,
            "contributor": OTHER,
            "block_number": 1,
        }
    ]
    assert p.rows["epochs"][0]["pool"] == "500"
    assert [(r["kind"], r["amount"]) for r in p.rows["payments"]] == [
        ("reward", "500"),
        ("withdrawal", "500"),
    ]


def test_admin_events_are_kept_as_events_only() -> None:
    p = Projector().apply([ev(1, "FeeChanged", bps=100), ev(2, "QuorumChanged", quorum=2)])
    assert len(p.rows["chain_events"]) == 2
    assert not any(p.changed.values()) and set(p.rows) == {"chain_events"}


def test_entity_keys_and_event_row() -> None:
    assert entity_keys(pulled()) == (7, None, None)
    assert entity_keys(ev(1, "RelayDeregistered", relay=RELAY)) == (None, None, RELAY)
    row = event_row(pulled())
    assert row["order_id"] == 7 and row["fields"]["down"] == 10 and row["name"] == "OrderPulled"


@pytest.mark.parametrize("bad", [2**63, -1, "7", True, None])
def test_ids_outside_bigint_are_malformed(bad) -> None:
    with pytest.raises(MalformedEvent, match="order_id"):
        apply_order(
            None, ev(1, "OrderCancelled", order_id=bad, refund=1), {"payments": [], "order_events": []}
        )


def test_amounts_beyond_uint64_stay_exact() -> None:
    big = 2**256 - 1
    p = Projector().apply([ev(1, "Withdrawn", account=OTHER, amount=big)])
    assert p.rows["payments"][0]["amount"] == str(big)


def test_negative_amount_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="amount"):
        Projector().apply([ev(1, "Withdrawn", account=OTHER, amount=-5)])
