"""Fixtures for the Vyper market on titanoboa's in-process py-evm (fast, with time travel)."""

from __future__ import annotations

import boa
import pytest

from tests.contracts.evm.evm_market_kit import EPOCH_LENGTH, MARKET_VY, OrderKit


@pytest.fixture(scope="session")
def market_deployer() -> boa.contracts.vyper.vyper_contract.VyperDeployer:
    """The compiled market (compiled once per session)."""
    return boa.load_partial(str(MARKET_VY))


@pytest.fixture
def admin() -> str:
    return boa.env.generate_address("admin")


@pytest.fixture
def market(market_deployer, admin):
    """A fresh market deployed by ``admin``; state is rolled back after the test."""
    with boa.env.anchor():
        with boa.env.prank(admin):
            contract = market_deployer.deploy(EPOCH_LENGTH)
        yield contract


def _funded(label: str) -> str:
    addr = boa.env.generate_address(label)
    boa.env.set_balance(addr, 10**24)
    return addr


@pytest.fixture
def buyer(market) -> str:
    return _funded("buyer")


@pytest.fixture
def other(market) -> str:
    return _funded("other")


@pytest.fixture
def relays(market) -> list[str]:
    """Three registered relays."""
    out = []
    for i in range(3):
        relay = _funded(f"relay{i}")
        with boa.env.prank(relay):
            market.register_relay(bytes([i + 1]) * 32, f"https://relay{i}.example")
        out.append(relay)
    return out


@pytest.fixture
def kit(market, buyer, relays) -> OrderKit:
    return OrderKit(market, buyer, relays)
