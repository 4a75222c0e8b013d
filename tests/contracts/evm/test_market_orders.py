"""Order lifecycle of market.vy: one test per transition and per error, on py-evm (titanoboa)."""

from __future__ import annotations

import boa
import pytest

from agihub.chain.catalog import MAX_WINDOW, OrderState
from agihub.chain.commitment import key_commit
from tests.contracts.evm.evm_market_kit import (
    COST,
    DELIVERY_ROOT,
    DOWN,
    MODEL_ROOT,
    TIP,
    WINDOW,
    OrderKit,
    one_event,
)

TOTAL = DOWN + COST + TIP
AMOUNT_MAX = 2**85 - 1


def _pull(market, buyer, relays, *, down=DOWN, cost=COST, tip=TIP, windows=(WINDOW,) * 3, value=None):
    with boa.env.prank(buyer):
        return market.pull(
            MODEL_ROOT, relays, down, cost, tip, *windows, value=down + cost + tip if value is None else value
        )


# ---- pull --------------------------------------------------------------------------------------
def test_pull_opens_order_escrows_value_and_emits(market, kit: OrderKit):
    oid = kit.pull()
    ev = one_event(market, "OrderPulled")  # read before any other call replaces the logs
    assert oid == 1 and market.next_order_id() == 2
    assert (ev.order_id, ev.buyer, ev.model_root, list(ev.relays)) == (1, kit.buyer, MODEL_ROOT, kit.relays)
    assert (ev.down, ev.cost, ev.tip, ev.ack_window, ev.reveal_window) == (DOWN, COST, TIP, WINDOW, WINDOW)
    assert ev.take_deadline == boa.env.timestamp + WINDOW
    order = market.get_order(oid)
    assert (order.buyer, order.state, order.deadline) == (kit.buyer, OrderState.OPEN, ev.take_deadline)
    assert (order.down, order.cost, order.tip) == (DOWN, COST, TIP)
    assert boa.env.get_balance(market.address) == TOTAL
    assert kit.pull() == 2


def test_pull_accepts_zero_down_and_tip(market, kit):
    oid = kit.pull(down=0, tip=0)
    assert market.get_order(oid).cost == COST


def test_pull_rejects_empty_relay_list(market, buyer):
    with boa.reverts("market: E_NO_RELAYS"):
        _pull(market, buyer, [])


def test_pull_rejects_more_than_max_relays(market, buyer, relays):
    with boa.reverts("market: E_TOO_MANY_RELAYS"):
        _pull(market, buyer, relays * 3)


def test_pull_rejects_duplicate_relay(market, buyer, relays):
    with boa.reverts("market: E_DUPLICATE_RELAY"):
        _pull(market, buyer, [relays[0], relays[1], relays[0]])


def test_pull_rejects_unregistered_relay(market, buyer, relays, other):
    with boa.reverts("market: E_RELAY_NOT_REGISTERED"):
        _pull(market, buyer, [relays[0], other])


def test_pull_rejects_zero_cost(market, buyer, relays):
    with boa.reverts("market: E_ZERO_AMOUNT"):
        _pull(market, buyer, relays, cost=0)


def test_pull_rejects_amount_above_packing_bound(market, buyer, relays):
    boa.env.set_balance(buyer, 2**90)
    with boa.reverts("market: E_OVERFLOW"):
        _pull(market, buyer, relays, tip=AMOUNT_MAX + 1)


@pytest.mark.parametrize("value_delta", [-1, 1])
def test_pull_rejects_value_not_equal_to_sum(market, buyer, relays, value_delta):
    with boa.reverts("market: E_BAD_VALUE"):
        _pull(market, buyer, relays, value=TOTAL + value_delta)


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("bad", [0, MAX_WINDOW + 1])
def test_pull_rejects_bad_windows(market, buyer, relays, position, bad):
    windows = [WINDOW] * 3
    windows[position] = bad
    with boa.reverts("market: E_BAD_WINDOW"):
        _pull(market, buyer, relays, windows=tuple(windows))


def test_failed_pull_leaves_no_trace(market, kit, buyer, relays):
    with boa.reverts("market: E_BAD_VALUE"):
        _pull(market, buyer, relays, value=1)
    assert market.next_order_id() == 1 and boa.env.get_balance(market.address) == 0


# ---- raise_payment -----------------------------------------------------------------------------
def test_raise_open_order_any_amount(market, kit):
    oid = kit.pull()
    with boa.env.prank(kit.buyer):
        market.raise_payment(oid, 1, 2, 3, value=6)
    ev = one_event(market, "PaymentRaised")
    assert (ev.down, ev.cost, ev.tip, ev.new_down, ev.new_cost, ev.new_tip) == (
        1,
        2,
        3,
        DOWN + 1,
        COST + 2,
        TIP + 3,
    )
    assert boa.env.get_balance(market.address) == TOTAL + 6


def test_raise_taken_order_tip_only(market, kit):
    oid = kit.pull()
    kit.take(oid)
    with boa.env.prank(kit.buyer):
        market.raise_payment(oid, 0, 0, 5, value=5)
        assert market.get_order(oid).tip == TIP + 5
        with boa.reverts("market: E_WRONG_STATE"):
            market.raise_payment(oid, 1, 0, 0, value=1)
        with boa.reverts("market: E_WRONG_STATE"):
            market.raise_payment(oid, 0, 1, 0, value=1)


def test_raise_rejects_acked_order(market, kit):
    oid = kit.pull()
    kit.take(oid)
    kit.confirm(oid)
    with boa.env.prank(kit.buyer), boa.reverts("market: E_WRONG_STATE"):
        market.raise_payment(oid, 0, 0, 5, value=5)


def test_raise_rejects_non_buyer(market, kit, other):
    oid = kit.pull()
    with boa.env.prank(other), boa.reverts("market: E_NOT_BUYER"):
        market.raise_payment(oid, 0, 0, 5, value=5)


def test_raise_rejects_zero_sum_bad_value_overflow_and_unknown(market, kit):
    oid = kit.pull()
    boa.env.set_balance(kit.buyer, 2**90)
    with boa.env.prank(kit.buyer):
        with boa.reverts("market: E_ZERO_AMOUNT"):
            market.raise_payment(oid, 0, 0, 0)
        with boa.reverts("market: E_BAD_VALUE"):
            market.raise_payment(oid, 0, 0, 5, value=4)
        with boa.reverts("market: E_OVERFLOW"):
            market.raise_payment(oid, 0, AMOUNT_MAX, 0, value=AMOUNT_MAX)
        with boa.reverts("market: E_UNKNOWN_ORDER"):
            market.raise_payment(99, 0, 0, 5, value=5)
    assert market.get_order(oid).cost == COST


# ---- cancel ------------------------------------------------------------------------------------
def test_cancel_credits_buyer_everything_and_cleans_up(market, kit):
    oid = kit.pull()
    with boa.env.prank(kit.buyer):
        market.cancel(oid)
    assert one_event(market, "OrderCancelled").refund == TOTAL
    assert market.credits(kit.buyer) == TOTAL
    order = market.get_order(oid)
    assert (order.state, order.buyer, order.down, order.cost, order.tip) == (
        OrderState.CANCELLED,
        kit.buyer,
        0,
        0,
        0,
    )


def test_cancel_rejects_non_buyer_taken_and_unknown(market, kit, other):
    oid = kit.pull()
    with boa.env.prank(other), boa.reverts("market: E_NOT_BUYER"):
        market.cancel(oid)
    kit.take(oid)
    with boa.env.prank(kit.buyer):
        with boa.reverts("market: E_WRONG_STATE"):
            market.cancel(oid)
        with boa.reverts("market: E_UNKNOWN_ORDER"):
            market.cancel(0)


# ---- take_order --------------------------------------------------------------------------------
def test_take_credits_down_and_stores_commitment(market, kit):
    oid = kit.pull()
    relay = kit.relays[1]
    kit.take(oid, relay)
    ev = one_event(market, "OrderTaken")
    assert (ev.order_id, ev.relay, ev.down_paid, ev.ack_deadline) == (
        oid,
        relay,
        DOWN,
        boa.env.timestamp + WINDOW,
    )
    order = market.get_order(oid)
    assert (order.state, order.taker, order.key_commit) == (OrderState.TAKEN, relay, ev.key_commit)
    assert market.credits(relay) == DOWN


def test_take_rejects_second_take(market, kit):
    oid = kit.pull()
    kit.take(oid)
    with boa.reverts("market: E_WRONG_STATE"):
        kit.take(oid, kit.relays[1])


def test_take_rejects_after_deadline(market, kit):
    oid = kit.pull()
    boa.env.time_travel(seconds=WINDOW + 1)
    with boa.reverts("market: E_DEADLINE_PASSED"):
        kit.take(oid)


def test_take_at_deadline_is_allowed(market, kit):
    oid = kit.pull()
    boa.env.time_travel(seconds=WINDOW)
    kit.take(oid)
    assert market.get_order(oid).state == OrderState.TAKEN


def test_take_rejects_relay_not_listed(market, kit):
    oid = kit.pull(relays=kit.relays[:2])
    outsider = kit.relays[2]
    with boa.env.prank(outsider):
        with boa.reverts("market: E_NOT_LISTED_RELAY"):  # honest list, caller not in it
            market.take_order(oid, b"\x01" * 32, kit.relays[:2])
        with boa.reverts("market: E_NOT_LISTED_RELAY"):  # forged list that names the caller
            market.take_order(oid, b"\x01" * 32, kit.relays)


def test_take_rejects_deregistered_relay(market, kit):
    oid = kit.pull()
    with boa.env.prank(kit.relays[0]):
        market.deregister_relay()
        with boa.reverts("market: E_RELAY_NOT_REGISTERED"):
            market.take_order(oid, b"\x01" * 32, kit.relays)


def test_take_rejects_unknown_order(market, kit):
    with boa.env.prank(kit.relays[0]), boa.reverts("market: E_UNKNOWN_ORDER"):
        market.take_order(7, b"\x01" * 32, kit.relays)


# ---- confirm_received --------------------------------------------------------------------------
def test_confirm_moves_to_acked_with_reveal_deadline(market, kit):
    oid = kit.pull()
    kit.take(oid)
    kit.confirm(oid)
    ev = one_event(market, "OrderConfirmed")
    assert (ev.delivery_root, ev.reveal_deadline) == (DELIVERY_ROOT, boa.env.timestamp + WINDOW)
    assert market.get_order(oid).state == OrderState.ACKED


def test_confirm_rejects_non_buyer_open_order_and_late_ack(market, kit, other):
    oid = kit.pull()
    with boa.reverts("market: E_WRONG_STATE"):
        kit.confirm(oid)
    kit.take(oid)
    with boa.env.prank(other), boa.reverts("market: E_NOT_BUYER"):
        market.confirm_received(oid, DELIVERY_ROOT)
    boa.env.time_travel(seconds=WINDOW + 1)
    with boa.reverts("market: E_DEADLINE_PASSED"):
        kit.confirm(oid)


# ---- reveal_key --------------------------------------------------------------------------------
def test_reveal_pays_relay_minus_fee_and_cleans_up(market, kit, admin):
    with boa.env.prank(admin):
        market.set_fee(250)
    oid = kit.pull()
    secret = kit.take(oid)
    kit.confirm(oid)
    kit.reveal(oid, secret)
    fee = (COST + TIP) * 250 // 10_000
    ev = one_event(market, "KeyRevealed")
    assert (ev.key, ev.salt, ev.relay_amount, ev.fee) == (secret.key, secret.salt, COST + TIP - fee, fee)
    assert market.credits(kit.relays[0]) == DOWN + COST + TIP - fee
    assert market.reward_pool() == fee
    order = market.get_order(oid)
    assert (order.state, order.cost, order.key_commit) == (OrderState.COMPLETED, 0, b"\0" * 32)
    assert order.taker == "0x0000000000000000000000000000000000000000"


def test_reveal_rejects_wrong_secret_and_keeps_order(market, kit):
    oid = kit.pull()
    secret = kit.take(oid)
    kit.confirm(oid)
    with boa.env.prank(kit.relays[0]):
        with boa.reverts("market: E_BAD_REVEAL"):
            market.reveal_key(oid, secret.key, b"\x00" * 32)
        with boa.reverts("market: E_BAD_REVEAL"):
            market.reveal_key(oid, b"\x00" * 32, secret.salt)
    assert market.get_order(oid).state == OrderState.ACKED
    kit.reveal(oid, secret)


def test_reveal_rejects_non_taker(market, kit):
    oid = kit.pull()
    secret = kit.take(oid)
    kit.confirm(oid)
    with boa.reverts("market: E_NOT_TAKER"):
        kit.reveal(oid, secret, relay=kit.relays[1])


def test_reveal_rejects_before_ack_after_deadline_and_replay(market, kit):
    oid = kit.pull()
    secret = kit.take(oid)
    with boa.reverts("market: E_WRONG_STATE"):
        kit.reveal(oid, secret)
    kit.confirm(oid)
    boa.env.time_travel(seconds=WINDOW + 1)
    with boa.reverts("market: E_DEADLINE_PASSED"):
        kit.reveal(oid, secret)


def test_reveal_cannot_be_replayed_or_moved_to_another_order(market, kit):
    first, second = kit.pull(), kit.pull()
    secret = kit.take(first)
    with boa.env.prank(kit.relays[0]):  # reuse order 1's commitment for order 2
        market.take_order(second, key_commit(secret.key, secret.salt, first, kit.relays[0]), kit.relays)
    kit.confirm(first)
    kit.confirm(second)
    kit.reveal(first, secret)
    with boa.reverts("market: E_WRONG_STATE"):
        kit.reveal(first, secret)
    with boa.reverts("market: E_BAD_REVEAL"):  # the commitment binds the order id
        kit.reveal(second, secret)


# ---- settle ------------------------------------------------------------------------------------
def test_settle_open_refunds_everything(market, kit, other):
    oid = kit.pull()
    boa.env.time_travel(seconds=WINDOW + 1)
    with boa.env.prank(other):
        market.settle(oid)
    ev = one_event(market, "OrderSettled")
    assert (ev.from_state, ev.refund) == (OrderState.OPEN, TOTAL)
    assert market.credits(kit.buyer) == TOTAL and market.get_order(oid).state == OrderState.EXPIRED


@pytest.mark.parametrize("acked", [False, True])
def test_settle_taken_or_acked_refunds_cost_and_tip_relay_keeps_down(market, kit, acked):
    oid = kit.pull()
    kit.take(oid)
    if acked:
        kit.confirm(oid)
    boa.env.time_travel(seconds=WINDOW + 1)
    market.settle(oid)
    ev = one_event(market, "OrderSettled")
    assert (ev.from_state, ev.refund) == (OrderState.ACKED if acked else OrderState.TAKEN, COST + TIP)
    assert market.credits(kit.buyer) == COST + TIP and market.credits(kit.relays[0]) == DOWN


def test_settle_rejects_early_terminal_and_unknown(market, kit):
    oid = kit.pull()
    with boa.reverts("market: E_NOT_DUE"):
        market.settle(oid)
    boa.env.time_travel(seconds=WINDOW)
    with boa.reverts("market: E_NOT_DUE"):  # the deadline itself is still in time
        market.settle(oid)
    boa.env.time_travel(seconds=1)
    market.settle(oid)
    with boa.reverts("market: E_WRONG_STATE"):
        market.settle(oid)
    with boa.reverts("market: E_UNKNOWN_ORDER"):
        market.settle(42)


def test_get_order_unknown(market):
    with boa.reverts("market: E_UNKNOWN_ORDER"):
        market.get_order(1)


def test_orders_do_not_touch_each_other(market, kit):
    a, b = kit.pull(), kit.pull(down=1, cost=2, tip=3)
    before = market.get_order(b)
    secret = kit.take(a)
    kit.confirm(a)
    kit.reveal(a, secret)
    assert market.get_order(b) == before


def test_pull_checks_registration_then_later_duplicates_like_the_move_port(market, buyer, relays, other):
    # [A, X, A] with X unregistered: A's duplicate is found before X is looked at.
    with boa.reverts("market: E_DUPLICATE_RELAY"):
        _pull(market, buyer, [relays[0], other, relays[0]])
    with boa.reverts("market: E_RELAY_NOT_REGISTERED"):
        _pull(market, buyer, [other, relays[0], relays[0]])
