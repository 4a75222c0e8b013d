"""The catalogue is self-consistent: unique names, dense codes, known kinds."""

from __future__ import annotations

from agihub.chain import catalog


def test_error_codes_are_dense_from_one_in_catalogue_order():
    assert list(catalog.ERROR_CODES.values()) == list(range(1, len(catalog.ERRORS) + 1))
    assert len(set(catalog.ERRORS)) == len(catalog.ERRORS)
    assert all(name.startswith("E_") and name.upper() == name for name in catalog.ERRORS)


def test_never_raised_errors_are_catalogued():
    for names in catalog.NEVER_RAISED.values():
        assert names <= set(catalog.ERRORS)


def test_names_are_unique_and_kinds_known():
    for group in (catalog.ENTRY_FUNCTIONS, catalog.VIEWS, catalog.EVENTS):
        names = [item.name for item in group]
        assert len(names) == len(set(names))
    params = [p for f in catalog.ENTRY_FUNCTIONS for p in f.params] + [
        f for e in catalog.EVENTS for f in e.fields
    ]
    assert {p.kind for p in params} <= set(catalog.EVM_ABI_TYPES)
    assert all(set(p.chains) <= {"aptos", "evm"} and p.chains for p in params)


def test_only_take_order_has_a_chain_specific_parameter():
    specific = {f.name for f in catalog.ENTRY_FUNCTIONS if f.params_for("evm") != f.params_for("aptos")}
    assert specific == {"take_order"}
    assert [p.name for p in catalog.ENTRY_BY_NAME["take_order"].params_for("aptos")] == [
        "order_id",
        "key_commit",
    ]


def test_order_states():
    assert [s.value for s in catalog.OrderState] == list(range(7))
    assert [s.name for s in catalog.OrderState if s.terminal] == ["COMPLETED", "CANCELLED", "EXPIRED"]


def test_surface_constants():
    assert (catalog.MAX_RELAYS, catalog.FEE_CAP_BPS, catalog.MAX_WINDOW) == (8, 1000, 30 * 86400)
