"""The compiled ABI of market.vy is checked against the catalogue, never trusted (STYLE.md #11)."""

from __future__ import annotations

import re

import pytest

from agihub.chain.catalog import (
    ENTRY_FUNCTIONS,
    ERRORS,
    EVENTS,
    FEE_CAP_BPS,
    MAX_RELAYS,
    MAX_WINDOW,
    NEVER_RAISED,
    VIEWS,
    evm_abi_type,
)
from agihub.chain.evm_deploy import compile_market
from tests.contracts.evm.evm_market_kit import MARKET_VY


@pytest.fixture(scope="module")
def abi() -> dict[tuple[str, str], dict]:
    compiled = compile_market(MARKET_VY)
    return {(e["type"], e.get("name", "")): e for e in compiled.abi}


def _types(entries: list[dict]) -> list[tuple[str, str]]:
    return [(e["name"], e["type"]) for e in entries]


@pytest.mark.parametrize("fn", ENTRY_FUNCTIONS, ids=lambda f: f.name)
def test_entry_function_matches_catalogue(abi, fn):
    entry = abi[("function", fn.name)]
    expected = [(p.name, evm_abi_type(p.kind)) for p in fn.params_for("evm")]
    assert _types(entry["inputs"]) == expected
    assert entry["stateMutability"] == ("payable" if fn.payable else "nonpayable")


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_matches_catalogue(abi, view):
    entry = abi[("function", view.name)]
    assert entry["stateMutability"] == "view"
    assert [i["type"] for i in entry["inputs"]] == [evm_abi_type(p.kind) for p in view.params]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
def test_event_matches_catalogue(abi, event):
    entry = abi[("event", event.name)]
    got = [(i["name"], i["type"], i["indexed"]) for i in entry["inputs"]]
    assert got == [(f.name, evm_abi_type(f.kind), f.indexed) for f in event.fields]


def test_abi_has_nothing_outside_the_catalogue(abi):
    functions = {name for kind, name in abi if kind == "function"}
    events = {name for kind, name in abi if kind == "event"}
    assert functions == {f.name for f in ENTRY_FUNCTIONS} | {v.name for v in VIEWS}
    assert events == {e.name for e in EVENTS}


def test_revert_strings_are_exactly_the_catalogue():
    source = MARKET_VY.read_text()
    used = set(re.findall(r'"market: (E_[A-Z_]+)"', source))
    assert used == set(ERRORS) - NEVER_RAISED["evm"]
    assert all(name in source for name in NEVER_RAISED["evm"]), "name each unused error in a comment"
    assert not re.findall(r'assert [^"\n]*$', source, flags=re.M), "every assert carries a catalogue reason"


def test_constants_match_catalogue():
    source = MARKET_VY.read_text()
    assert f"MAX_RELAYS: constant(uint256) = {MAX_RELAYS}" in source
    assert f"FEE_CAP_BPS: constant(uint256) = {FEE_CAP_BPS}" in source
    assert MAX_WINDOW == 30 * 86400 and "MAX_WINDOW: constant(uint256) = 30 * 86400" in source
