"""Pull-payments: withdraw moves credits out, once, and resists reentrancy."""

from __future__ import annotations

import boa

from tests.contracts.evm.evm_market_kit import COST, DOWN, TIP, WINDOW, one_event

REENTRANT = """
#pragma version ~=0.4.3
interface Market:
    def withdraw(): nonpayable
    def cancel(order_id: uint256): nonpayable
    def pull(model_root: bytes32, relays: DynArray[address, 32], down: uint256, cost: uint256, tip: uint256,
             take_window_s: uint256, ack_window_s: uint256, reveal_window_s: uint256) -> uint256: payable

market: public(Market)
reenter: public(bool)

@deploy
def __init__(market: address):
    self.market = Market(market)

@external
@payable
def open_and_cancel(relay: address):
    oid: uint256 = extcall self.market.pull(
        empty(bytes32), [relay], 0, msg.value, 0, 60, 60, 60, value=msg.value
    )
    extcall self.market.cancel(oid)

@external
def drain(reenter: bool):
    self.reenter = reenter
    extcall self.market.withdraw()

@external
@payable
def __default__():
    if self.reenter:
        extcall self.market.withdraw()
"""


def test_withdraw_pays_credits_once(market, kit):
    oid = kit.pull()
    boa.env.time_travel(seconds=WINDOW + 1)
    market.settle(oid)
    before = boa.env.get_balance(kit.buyer)
    with boa.env.prank(kit.buyer):
        market.withdraw()
        assert one_event(market, "Withdrawn").amount == DOWN + COST + TIP
        assert boa.env.get_balance(kit.buyer) == before + DOWN + COST + TIP
        assert market.credits(kit.buyer) == 0
        with boa.reverts("market: E_NOTHING_TO_WITHDRAW"):
            market.withdraw()
    assert boa.env.get_balance(market.address) == 0


def test_withdraw_keeps_relay_registered(market, kit):
    oid = kit.pull()
    kit.take(oid)
    with boa.env.prank(kit.relays[0]):
        market.withdraw()
    assert market.relay_info(kit.relays[0])[0] is True and market.credits(kit.relays[0]) == 0


def test_withdraw_with_nothing_is_rejected(market, other):
    with boa.env.prank(other), boa.reverts("market: E_NOTHING_TO_WITHDRAW"):
        market.withdraw()


def test_reentrant_withdraw_fails_and_leaves_credits(market, relays):
    attacker = boa.loads(REENTRANT, market.address)
    boa.env.set_balance(boa.env.eoa, 10**20)
    attacker.open_and_cancel(relays[0], value=10**18)
    assert market.credits(attacker.address) == 10**18
    with boa.reverts():
        attacker.drain(True)
    assert market.credits(attacker.address) == 10**18
    assert boa.env.get_balance(market.address) == 10**18
    attacker.drain(False)  # a contract receiver that does not reenter is paid normally
    assert boa.env.get_balance(attacker.address) == 10**18 and market.credits(attacker.address) == 0
