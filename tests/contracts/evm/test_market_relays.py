"""Relay registry of market.vy: register, update, deregister and their errors."""

from __future__ import annotations

import boa
import pytest

from tests.contracts.evm.evm_market_kit import PUBKEY, one_event


@pytest.fixture
def relay(market) -> str:
    return boa.env.generate_address("fresh-relay")


def test_register_stores_entry_and_emits(market, relay):
    with boa.env.prank(relay):
        market.register_relay(PUBKEY, "wss://relay.example")
    ev = one_event(market, "RelayRegistered")
    assert (ev.relay, ev.nostr_pubkey, ev.endpoint) == (relay, PUBKEY, "wss://relay.example")
    assert market.relay_info(relay) == (True, PUBKEY, "wss://relay.example")


def test_register_twice_is_rejected(market, relay):
    with boa.env.prank(relay):
        market.register_relay(PUBKEY, "wss://a")
        with boa.reverts("market: E_ALREADY_REGISTERED"):
            market.register_relay(PUBKEY, "wss://b")
    assert market.relay_info(relay)[2] == "wss://a"


def test_register_rejects_zero_pubkey(market, relay):
    with boa.env.prank(relay), boa.reverts("market: E_BAD_PUBKEY"):
        market.register_relay(b"\0" * 32, "wss://a")


def test_register_rejects_empty_endpoint(market, relay):
    with boa.env.prank(relay), boa.reverts("market: E_BAD_ENDPOINT"):
        market.register_relay(PUBKEY, "")


def test_register_accepts_256_byte_endpoint_and_abi_rejects_longer(market, relay):
    with boa.env.prank(relay):
        market.register_relay(PUBKEY, "x" * 256)
    other = boa.env.generate_address()
    # String[256] is bounded by the ABI decoder; the SDK raises BadEndpoint before sending.
    with boa.env.prank(other), pytest.raises(Exception):  # noqa: B017 - a bare decoder revert
        market.register_relay(PUBKEY, "x" * 257)
    assert market.relay_info(other) == (False, b"\0" * 32, "")


def test_update_changes_entry(market, relays):
    with boa.env.prank(relays[0]):
        market.update_relay(b"\x09" * 32, "wss://new")
    ev = one_event(market, "RelayUpdated")
    assert (ev.nostr_pubkey, ev.endpoint) == (b"\x09" * 32, "wss://new")
    assert market.relay_info(relays[0]) == (True, b"\x09" * 32, "wss://new")


def test_update_rejects_unregistered_and_bad_fields(market, relays, relay):
    with boa.env.prank(relay), boa.reverts("market: E_RELAY_NOT_REGISTERED"):
        market.update_relay(PUBKEY, "wss://x")
    with boa.env.prank(relays[0]):
        with boa.reverts("market: E_BAD_PUBKEY"):
            market.update_relay(b"\0" * 32, "wss://x")
        with boa.reverts("market: E_BAD_ENDPOINT"):
            market.update_relay(PUBKEY, "")
    assert market.relay_info(relays[0])[2] == "https://relay0.example"


def test_deregister_clears_entry_keeps_credits_and_allows_reregistration(market, kit):
    oid = kit.pull()
    kit.take(oid)
    relay = kit.relays[0]
    with boa.env.prank(relay):
        market.deregister_relay()
        assert one_event(market, "RelayDeregistered").relay == relay
        assert market.relay_info(relay) == (False, b"\0" * 32, "")
        assert market.credits(relay) > 0
        with boa.reverts("market: E_RELAY_NOT_REGISTERED"):
            market.deregister_relay()
        market.register_relay(PUBKEY, "wss://back")
    assert market.relay_info(relay)[0] is True


def test_deregistered_relay_cannot_be_listed(market, kit, buyer):
    with boa.env.prank(kit.relays[1]):
        market.deregister_relay()
    with boa.reverts("market: E_RELAY_NOT_REGISTERED"):
        kit.pull()
