"""Admin surface: two-step transfer, fee, validators, quorum."""

from __future__ import annotations

import boa
import pytest

from agihub.chain.catalog import FEE_CAP_BPS
from tests.contracts.evm.evm_market_kit import one_event


def test_deploy_defaults(market, admin):
    assert (market.admin(), market.fee_bps(), market.quorum(), market.next_order_id()) == (admin, 0, 1, 1)
    assert market.pending_admin() == "0x0000000000000000000000000000000000000000"


def test_two_step_admin_transfer(market, admin, other):
    with boa.env.prank(admin):
        market.transfer_admin(other)
    assert market.admin() == admin and market.pending_admin() == other
    with boa.env.prank(other):
        market.accept_admin()
    ev = one_event(market, "AdminChanged")
    assert (ev.old_admin, ev.new_admin) == (admin, other)
    assert market.admin() == other
    with boa.env.prank(admin), boa.reverts("market: E_NOT_ADMIN"):
        market.set_fee(1)


def test_transfer_admin_requires_admin(market, other):
    with boa.env.prank(other), boa.reverts("market: E_NOT_ADMIN"):
        market.transfer_admin(other)


def test_accept_admin_requires_pending(market, admin, other):
    with boa.env.prank(other), boa.reverts("market: E_NOT_PENDING_ADMIN"):
        market.accept_admin()
    with boa.env.prank(admin):
        market.transfer_admin(other)
        market.transfer_admin("0x0000000000000000000000000000000000000000")  # withdraw the proposal
    with boa.env.prank(other), boa.reverts("market: E_NOT_PENDING_ADMIN"):
        market.accept_admin()


@pytest.mark.parametrize("bps", [0, 1, FEE_CAP_BPS])
def test_set_fee(market, admin, bps):
    with boa.env.prank(admin):
        market.set_fee(bps)
    assert one_event(market, "FeeChanged").bps == bps and market.fee_bps() == bps


def test_set_fee_rejects_above_cap_and_non_admin(market, admin, other):
    with boa.env.prank(admin), boa.reverts("market: E_FEE_TOO_HIGH"):
        market.set_fee(FEE_CAP_BPS + 1)
    with boa.env.prank(other), boa.reverts("market: E_NOT_ADMIN"):
        market.set_fee(1)
    assert market.fee_bps() == 0


def test_validators(market, admin, other):
    with boa.env.prank(admin):
        market.add_validator(other)
        assert one_event(market, "ValidatorAdded").validator == other
        with boa.reverts("market: E_ALREADY_VALIDATOR"):
            market.add_validator(other)
        market.remove_validator(other)
        assert one_event(market, "ValidatorRemoved").validator == other
        with boa.reverts("market: E_NOT_VALIDATOR"):
            market.remove_validator(other)
    assert not market.is_validator(other)
    with boa.env.prank(other), boa.reverts("market: E_NOT_ADMIN"):
        market.add_validator(other)
    with boa.env.prank(other), boa.reverts("market: E_NOT_ADMIN"):
        market.remove_validator(other)


def test_quorum(market, admin, other):
    with boa.env.prank(admin):
        market.set_quorum(3)
        assert one_event(market, "QuorumChanged").quorum == 3
        with boa.reverts("market: E_BAD_QUORUM"):
            market.set_quorum(0)
    assert market.quorum() == 3
    with boa.env.prank(other), boa.reverts("market: E_NOT_ADMIN"):
        market.set_quorum(2)


def test_deploy_rejects_zero_epoch_length(market_deployer):
    with boa.reverts("market: E_BAD_WINDOW"):
        market_deployer.deploy(0)
