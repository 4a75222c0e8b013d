"""Parsing of the Aptos REST API's JSON: committed transactions and their ``events``, VM status
strings of failed transactions, and view-function results.

The fixtures follow the documented shapes (https://aptos.dev/en/build/apis/fullnode-rest-api-reference,
``UserTransaction`` / ``Event`` / ``MoveValue``): u64 values are decimal strings, ``vector<u8>`` is a
0x-hex string, addresses may come in short (``0x1``) or long form, and module events (``#[event]``)
carry a zero GUID.
"""

from __future__ import annotations

import pytest

from agihub.chain import catalog
from agihub.chain import errors as chain_errors
from agihub.chain.aptos import canonical_address, error_from_vm_status, order_from_view, parse_events
from agihub.chain.base import OrderState
from agihub.chain.errors import ChainConnectionError, ChainInputError, UnknownContractError, UnknownOrder

MARKET = "0x" + "a6" * 32
BUYER = "0x" + "b0" * 32
RELAY = "0x" + "7e" * 32
ROOT_HEX = "0x" + "22" * 32
COMMIT_HEX = "0x" + "c0" * 32

MODULE_EVENT_GUID = {"creation_number": "0", "account_address": "0x0"}


def module_event(name: str, data: dict, address: str = MARKET) -> dict:
    return {
        "guid": MODULE_EVENT_GUID,
        "sequence_number": "0",
        "type": f"{address}::events::{name}",
        "data": data,
    }


def committed_tx(events: list[dict], success: bool = True, vm_status: str = "Executed successfully") -> dict:
    return {
        "type": "user_transaction",
        "version": "1234",
        "hash": "0x" + "ab" * 32,
        "state_change_hash": "0x" + "01" * 32,
        "event_root_hash": "0x" + "02" * 32,
        "state_checkpoint_hash": None,
        "gas_used": "1520",
        "success": success,
        "vm_status": vm_status,
        "accumulator_root_hash": "0x" + "03" * 32,
        "changes": [],
        "sender": BUYER,
        "sequence_number": "7",
        "max_gas_amount": "200000",
        "gas_unit_price": "100",
        "expiration_timestamp_secs": "1700000600",
        "payload": {
            "type": "entry_function_payload",
            "function": f"{MARKET}::market::pull",
            "type_arguments": ["0x1::aptos_coin::AptosCoin"],
            "arguments": [ROOT_HEX, [RELAY], "100", "1000", "50", "3600", "7200", "1800"],
        },
        "signature": {
            "type": "ed25519_signature",
            "public_key": "0x" + "11" * 32,
            "signature": "0x" + "22" * 64,
        },
        "events": events,
        "timestamp": "1700000000123456",
    }


PULLED = {
    "order_id": "1",
    "buyer": BUYER,
    "model_root": ROOT_HEX,
    "relays": [RELAY, "0x1"],
    "down": "100",
    "cost": "1000",
    "tip": "50",
    "take_deadline": "1700003600",
    "ack_window": "7200",
    "reveal_window": "1800",
}


def test_parse_order_pulled_among_framework_events() -> None:
    tx = committed_tx(
        [
            {  # coin withdrawal, a framework event: not ours
                "guid": MODULE_EVENT_GUID,
                "sequence_number": "0",
                "type": "0x1::fungible_asset::Withdraw",
                "data": {"store": "0x" + "55" * 32, "amount": "1150"},
            },
            module_event("OrderPulled", PULLED),
            module_event("FeeStatement", {"total_charge_gas_units": "15"}, address="0x1"),
        ]
    )
    [event] = parse_events(tx, MARKET)
    assert event.name == "OrderPulled"
    assert event.tx_hash == "0x" + "ab" * 32
    assert event.log_index == 1
    assert event["order_id"] == 1 and event["down"] == 100 and event["take_deadline"] == 1_700_003_600
    assert event["model_root"] == bytes.fromhex("22" * 32)
    assert event["buyer"] == BUYER
    assert event["relays"] == (RELAY, canonical_address("0x1"))


def test_parse_events_accepts_short_market_address_in_type() -> None:
    short_market = "0xa61"
    tx = committed_tx([module_event("FeeChanged", {"bps": "250"}, address=short_market)])
    [event] = parse_events(tx, canonical_address(short_market))
    assert event.name == "FeeChanged" and event["bps"] == 250


def test_events_of_another_deployment_are_ignored() -> None:
    other = "0x" + "99" * 32
    assert parse_events(committed_tx([module_event("FeeChanged", {"bps": "1"}, address=other)]), MARKET) == ()


def test_every_catalogue_event_parses() -> None:
    samples = {
        "uint": "5",
        "bytes32": COMMIT_HEX,
        "address": RELAY,
        "address_list": [RELAY],
        "string": "wss://r",
    }
    events = [module_event(e.name, {f.name: samples[f.kind] for f in e.fields}) for e in catalog.EVENTS]
    parsed = parse_events(committed_tx(events), MARKET)
    assert [e.name for e in parsed] == [e.name for e in catalog.EVENTS]
    taken = next(e for e in parsed if e.name == "OrderTaken")
    assert taken["key_commit"] == bytes.fromhex("c0" * 32) and taken["ack_deadline"] == 5


def test_unknown_market_event_is_a_drift_error() -> None:
    with pytest.raises(ChainInputError, match="OrderStolen"):
        parse_events(committed_tx([module_event("OrderStolen", {})]), MARKET)


def test_missing_event_field_is_a_drift_error() -> None:
    data = dict(PULLED)
    del data["tip"]
    with pytest.raises(ChainInputError, match="tip"):
        parse_events(committed_tx([module_event("OrderPulled", data)]), MARKET)


def test_malformed_hex_in_event_is_refused() -> None:
    data = dict(PULLED, model_root="22" * 32)  # no 0x prefix
    with pytest.raises(ChainConnectionError, match="0x-hex"):
        parse_events(committed_tx([module_event("OrderPulled", data)]), MARKET)


# ------------------------------------------------------------------------------------------------
# vm_status -> typed exception

CATEGORY = {"E_NOT_BUYER": 0x5, "E_WRONG_STATE": 0x3, "E_UNKNOWN_ORDER": 0x6}


@pytest.mark.parametrize("name", catalog.ERRORS)
def test_named_abort_maps_to_its_class(name: str) -> None:
    code = 0x10000 * CATEGORY.get(name, 1) + catalog.ERROR_CODES[name]
    status = f"Move abort in {MARKET}::market: {name}({code:#x}): the doc comment of the error"
    error = error_from_vm_status(status, MARKET)
    assert type(error).name == name
    assert error.code == catalog.ERROR_CODES[name]
    assert isinstance(error, chain_errors.ContractError)
    assert name in str(error)


def test_bare_abort_code_maps_by_reason() -> None:
    # Without the package's error map the node reports only the code.
    error = error_from_vm_status(f"Move abort in {MARKET}::market: 0x5000c", MARKET)
    assert isinstance(error, chain_errors.NotBuyer)


def test_short_form_market_address_in_status() -> None:
    error = error_from_vm_status("Move abort in 0xa61::market: E_NOT_TAKER(0x5000e): ", "0xa61")
    assert isinstance(error, chain_errors.NotTaker)


def test_abort_in_framework_module_is_unknown_but_explained() -> None:
    status = (
        "Move abort in 0x1::coin: EINSUFFICIENT_BALANCE(0x10006): Not enough coins to complete transaction"
    )
    error = error_from_vm_status(status, MARKET)
    assert type(error) is UnknownContractError
    assert "EINSUFFICIENT_BALANCE" in str(error)


def test_abort_in_same_named_module_elsewhere_is_not_ours() -> None:
    status = f"Move abort in {'0x' + '99' * 32}::market: E_NOT_BUYER(0x5000c): "
    assert type(error_from_vm_status(status, MARKET)) is UnknownContractError


@pytest.mark.parametrize("status", ["Out of gas", "MISCELLANEOUS_ERROR", ""])
def test_non_abort_failures_are_unknown(status: str) -> None:
    assert type(error_from_vm_status(status, MARKET)) is UnknownContractError


# ------------------------------------------------------------------------------------------------
# get_order view result


def order_values(state: int, **over: object) -> list:
    values = [
        str(state), BUYER, ROOT_HEX, [RELAY], RELAY, COMMIT_HEX, "0x" + "dd" * 32,
        "100", "1000", "50", "1700003600", "7200", "1800", "1700010000", "1700011800",
    ]  # fmt: skip
    for index, value in over.items():
        values[int(index.removeprefix("i"))] = value
    return values


@pytest.mark.parametrize(
    ("state", "deadline"),
    [(OrderState.OPEN, 1_700_003_600), (OrderState.TAKEN, 1_700_010_000), (OrderState.ACKED, 1_700_011_800)],
)
def test_live_order_deadline_follows_state(state: OrderState, deadline: int) -> None:
    order = order_from_view(9, order_values(int(state)))
    assert order.state is state and order.deadline == deadline
    assert order.order_id == 9 and order.buyer == BUYER and order.relays == (RELAY,)
    assert (order.down, order.cost, order.tip) == (100, 1000, 50)
    assert order.taker == RELAY and order.key_commit == bytes.fromhex("c0" * 32)


def test_open_order_has_no_taker_yet() -> None:
    order = order_from_view(1, order_values(1, i4="0x0", i5="0x"))
    assert order.taker is None and order.key_commit is None


def test_terminal_order_reports_state_and_buyer_only() -> None:
    values = [str(int(OrderState.COMPLETED)), BUYER, "0x", [], "0x0", "0x", "0x", *["0"] * 8]
    order = order_from_view(3, values)
    assert order.state is OrderState.COMPLETED and order.buyer == BUYER
    assert order.deadline == 0 and order.down == 0 and order.relays == () and order.taker is None


def test_state_none_is_unknown_order() -> None:
    values = ["0", "0x0", "0x", [], "0x0", "0x", "0x", *["0"] * 8]
    with pytest.raises(UnknownOrder):
        order_from_view(77, values)


@pytest.mark.parametrize(
    "values", [[], ["1"] * 14, order_values(1, i7="lots"), order_values(9), order_values(1, i2="22")]
)
def test_malformed_view_result_is_refused(values: list) -> None:
    with pytest.raises(ChainConnectionError):
        order_from_view(1, values)


def test_aptos_only_length_error_is_named() -> None:
    # E_BAD_LENGTH (code 37) exists only in the Move package so far; whatever class it maps to,
    # the message must name it so the caller sees which check failed.
    status = f"Move abort in {MARKET}::market: E_BAD_LENGTH(0x10025): A hash argument is not 32 bytes."
    error = error_from_vm_status(status, MARKET)
    assert isinstance(error, chain_errors.ContractError)
    assert "E_BAD_LENGTH" in str(error)
