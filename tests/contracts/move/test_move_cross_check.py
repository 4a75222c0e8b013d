"""Structural cross-check: the Move package, the compiled Vyper ABI and the SDK catalogue describe
the same surface (issue 3).

For every Move ``entry fun`` (minus the leading ``&signer`` and type parameters), every ``#[event]``
struct and every ``E_`` constant there must be a counterpart with the same name, the same parameter
or field names in the same order, and the corresponding type:

=================  ============  ===============
Move               Vyper ABI     catalogue kind
=================  ============  ===============
u64 / u256         uint256       uint
address            address       address
vector<u8>         bytes32       bytes32
String             string        string
vector<address>    address[]     address_list
bool               bool          bool
=================  ============  ===============

``vector<u8>`` is always a 32-byte value in this protocol (roots, commitments, keys, salts, keys);
the Move code checks the length on entry. Parameters the catalogue marks EVM-only (take_order's
relay list, which the EVM passes in calldata against a stored hash) are ignored on the ABI side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agihub.chain import catalog
from tests.contracts.move.move_source import MOVE_DIR, MovePackage, read_package

MOVE_TO_ABI = {
    "u64": "uint256",
    "u256": "uint256",
    "address": "address",
    "vector<u8>": "bytes32",
    "String": "string",
    "string::String": "string",
    "vector<address>": "address[]",
    "bool": "bool",
}
MOVE_TO_KIND = {
    "u64": "uint",
    "u256": "uint",
    "address": "address",
    "vector<u8>": "bytes32",
    "String": "string",
    "string::String": "string",
    "vector<address>": "address_list",
    "bool": "bool",
}

# Read once at collection so tests can be parametrized per item; the fixture re-reads for checks.
_PACKAGE = read_package(MOVE_DIR)
_MARKET = [f for f in _PACKAGE.module_functions("market") if f.is_entry]
_EVENTS = [s for s in _PACKAGE.structs if "event" in s.attributes]
_ERRORS = [c for c in _PACKAGE.consts if c.module == "market" and c.name.startswith("E_")]


def _abi(abi: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [e for e in abi if e.get("type") == kind and e.get("name") == name]
    assert len(found) == 1, f"Vyper ABI has {len(found)} {kind}s named {name!r}"
    return found[0]


def _convert(table: dict[str, str], move_type: str, where: str) -> str:
    assert move_type in table, f"{where}: Move type {move_type} has no cross-chain counterpart"
    return table[move_type]


# ------------------------------------------------------------------------------------------------
# entry functions


def test_every_move_entry_function_is_in_market_module(move_package: MovePackage) -> None:
    entries = {f.name for f in move_package.functions if f.is_entry and f.module != "market"}
    assert entries == set(), "entry functions outside agihub::market break the one-module surface"


@pytest.mark.parametrize("fn", _MARKET, ids=lambda f: f.name)
def test_entry_function_matches_vyper_abi(fn: Any, vyper_abi: list[dict[str, Any]]) -> None:
    entry = _abi(vyper_abi, "function", fn.name)
    evm_only = {p.name for p in catalog.ENTRY_BY_NAME[fn.name].params if p.chains == ("evm",)}
    abi_params = [(i["name"], i["type"]) for i in entry["inputs"] if i["name"] not in evm_only]
    move_params = [(n, _convert(MOVE_TO_ABI, t, f"{fn.name}.{n}")) for n, t in fn.value_params]
    assert move_params == abi_params
    assert entry["stateMutability"] in {"payable", "nonpayable"}, f"{fn.name} must change state on EVM"


@pytest.mark.parametrize("fn", _MARKET, ids=lambda f: f.name)
def test_entry_function_matches_catalogue(fn: Any) -> None:
    assert fn.name in catalog.ENTRY_BY_NAME, f"{fn.name} is not in agihub.chain.catalog.ENTRY_FUNCTIONS"
    spec = catalog.ENTRY_BY_NAME[fn.name]
    expected = [(p.name, p.kind) for p in spec.params_for("aptos")]
    move_params = [(n, _convert(MOVE_TO_KIND, t, f"{fn.name}.{n}")) for n, t in fn.value_params]
    assert move_params == expected


def test_catalogue_entry_functions_all_exist_in_move() -> None:
    assert {f.name for f in catalog.ENTRY_FUNCTIONS} == {f.name for f in _MARKET}


def test_move_entry_functions_take_the_sender_only_where_the_catalogue_has_a_caller() -> None:
    # `settle` and `close_epoch` are callable by anyone and need no signer; every other entry
    # function acts for its sender and must receive it as `&signer`.
    anyone = {f.name for f in catalog.ENTRY_FUNCTIONS if f.caller == "anyone"}
    for fn in _MARKET:
        has_signer = bool(fn.params) and fn.params[0][1] == "&signer"
        assert has_signer or fn.name in anyone, f"{fn.name} lacks its &signer"


# ------------------------------------------------------------------------------------------------
# events


@pytest.mark.parametrize("event", _EVENTS, ids=lambda e: e.name)
def test_event_matches_vyper_abi(event: Any, vyper_abi: list[dict[str, Any]]) -> None:
    abi_event = _abi(vyper_abi, "event", event.name)
    abi_fields = [(i["name"], i["type"]) for i in abi_event["inputs"]]
    move_fields = [(n, _convert(MOVE_TO_ABI, t, f"{event.name}.{n}")) for n, t in event.fields]
    assert move_fields == abi_fields


@pytest.mark.parametrize("event", _EVENTS, ids=lambda e: e.name)
def test_event_matches_catalogue(event: Any) -> None:
    assert event.name in catalog.EVENT_BY_NAME, f"{event.name} is not in agihub.chain.catalog.EVENTS"
    expected = [(f.name, f.kind) for f in catalog.EVENT_BY_NAME[event.name].fields]
    move_fields = [(n, _convert(MOVE_TO_KIND, t, f"{event.name}.{n}")) for n, t in event.fields]
    assert move_fields == expected


def test_catalogue_events_all_exist_in_move() -> None:
    assert {e.name for e in catalog.EVENTS} == {e.name for e in _EVENTS}


def test_events_live_in_the_events_module() -> None:
    for event in _EVENTS:
        assert event.module == "events", f"{event.name}: events live in agihub::events"


# ------------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("const", [pytest.param(c, id=c.name) for c in _ERRORS])
def test_error_matches_catalogue_code(const: Any) -> None:
    assert const.name in catalog.ERROR_CODES, f"{const.name} is not in agihub.chain.catalog.ERRORS"
    assert int(const.value) == catalog.ERROR_CODES[const.name]


@pytest.mark.parametrize("const", [pytest.param(c, id=c.name) for c in _ERRORS])
def test_error_is_known_to_vyper(const: Any, vyper_source: str) -> None:
    assert f"market: {const.name}" in vyper_source or const.name in vyper_source, (
        f"{const.name} does not appear in contracts/evm/market.vy"
    )


def test_catalogue_errors_all_exist_in_move() -> None:
    assert set(catalog.ERRORS) <= {c.name for c in _ERRORS}


def test_every_error_is_raised_with_one_category(move_package: MovePackage) -> None:
    # One category per error keeps `abort_code` stable for clients; E_BAD_VALUE is EVM-only.
    for const in _ERRORS:
        categories = move_package.abort_categories.get(const.name, set())
        if const.name == "E_BAD_VALUE":
            assert categories == set(), "E_BAD_VALUE must never be raised on Aptos"
            continue
        assert len(categories) == 1, f"{const.name} raised with categories {sorted(categories)}"


def test_every_error_and_struct_field_has_a_doc_line(move_package: MovePackage) -> None:
    undocumented_errors = [
        c.name for c in move_package.consts if c.name.startswith("E_") and not c.documented
    ]
    assert undocumented_errors == []
    sources = [s for s in move_package.structs if s.module in {"market", "events"}]
    undocumented_fields = {s.name: s.undocumented_fields for s in sources if s.undocumented_fields}
    assert undocumented_fields == {}


# ------------------------------------------------------------------------------------------------
# views


@pytest.mark.parametrize("view", catalog.VIEWS, ids=lambda v: v.name)
def test_catalogue_view_exists_in_move(view: Any) -> None:
    found = [f for f in _PACKAGE.module_functions("market") if f.name == view.name]
    assert len(found) == 1, f"view {view.name} missing in agihub::market"
    fn = found[0]
    assert "view" in fn.attributes, f"{view.name} lacks #[view]"
    assert [n for n, _ in fn.params] == [p.name for p in view.params]


# ------------------------------------------------------------------------------------------------
# the SDK's Aptos backend


def test_sdk_passes_the_coin_type_exactly_where_move_is_generic() -> None:
    from agihub.chain.aptos import COIN_GENERIC_FUNCTIONS, COIN_GENERIC_VIEWS

    views = [f for f in _PACKAGE.module_functions("market") if "view" in f.attributes]
    assert {f.name for f in _MARKET if f.type_params} == COIN_GENERIC_FUNCTIONS
    assert {f.name for f in views if f.type_params} == COIN_GENERIC_VIEWS


def test_extractor_reads_params_fields_docs_and_attributes(tmp_path: Path) -> None:
    # Guards the cross-check itself: what read_package reports is what the source says.
    (tmp_path / "m.move").write_text(
        "module agihub::events {\n"
        "    #[event]\n"
        "    struct Paid has drop, store {\n"
        "        /// Who paid.\n"
        "        payer: address,\n"
        "        amount: u64,\n"
        "    }\n"
        "    #[view]\n"
        "    public fun seen<CoinType>(account: address): bool { true }\n"
        "    public entry fun pay<CoinType>(payer: &signer, roots: vector<vector<u8>>, note: String) {}\n"
        "}\n"
    )
    package = read_package(tmp_path)
    [paid] = package.structs
    assert paid.name == "Paid" and "event" in paid.attributes
    assert paid.fields == (("payer", "address"), ("amount", "u64"))
    assert paid.undocumented_fields == ("amount",)
    pay = next(f for f in package.functions if f.name == "pay")
    assert pay.is_entry and pay.type_params == ("CoinType",)
    assert pay.value_params == (("roots", "vector<vector<u8>>"), ("note", "String"))
    seen = next(f for f in package.functions if f.name == "seen")
    assert "view" in seen.attributes and not seen.is_entry
    # A nested vector has no cross-chain counterpart: the cross-check must reject it.
    with pytest.raises(AssertionError, match="no cross-chain counterpart"):
        _convert(MOVE_TO_ABI, pay.value_params[0][1], "pay.roots")
