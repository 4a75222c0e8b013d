"""The Move unit tests cannot run here (no Aptos CLI), so their *coverage claims* are checked
structurally instead: every abort code they expect is a real ``category << 16 | reason`` of an error
that market.move raises with that category, every error is expected by at least one test, and every
entry function is exercised.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contracts.move.move_source import (
    ERROR_CATEGORIES,
    MovePackage,
    move_int,
    read_package,
)


def _expected_failures(package: MovePackage) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{f.module}::{f.name}", f.attributes["expected_failure"])
        for f in package.functions
        if "expected_failure" in f.attributes
    ]


def _abort_code_table(package: MovePackage) -> dict[int, str]:
    """abort code -> error name, for every (error, category) market.move raises."""
    codes = {
        c.name: move_int(c.value) for c in package.consts if c.module == "market" and c.name.startswith("E_")
    }
    table = {}
    for name, categories in package.abort_categories.items():
        for category in categories:
            table[ERROR_CATEGORIES[category] << 16 | codes[name]] = name
    return table


def test_move_tests_exist(move_package: MovePackage) -> None:
    tests = [f for f in move_package.functions if "test" in f.attributes]
    assert len(tests) >= 60, f"only {len(tests)} Move unit tests"


def test_expected_abort_codes_are_real(move_package: MovePackage) -> None:
    table = _abort_code_table(move_package)
    wrong = {}
    for test, args in _expected_failures(move_package):
        assert args.get("location") == "agihub::market", f"{test}: location must be agihub::market"
        code = move_int(args["abort_code"])
        if code not in table:
            wrong[test] = hex(code)
    assert wrong == {}, "abort codes no error of market.move produces"


def test_every_error_is_expected_by_a_test(move_package: MovePackage) -> None:
    table = _abort_code_table(move_package)
    expected = {table.get(move_int(args["abort_code"])) for _, args in _expected_failures(move_package)}
    errors = {c.name for c in move_package.consts if c.module == "market" and c.name.startswith("E_")}
    # E_BAD_VALUE is EVM-only (msg.value) and can never be raised on Aptos.
    assert errors - expected == {"E_BAD_VALUE"}


def test_every_entry_function_is_exercised(move_package: MovePackage) -> None:
    entries = {f.name for f in move_package.module_functions("market") if f.is_entry}
    called = {c.removeprefix("market::") for c in move_package.calls if c.startswith("market::")}
    assert entries - called == set()


def test_timeouts_use_the_framework_clock(move_package: MovePackage) -> None:
    assert "timestamp::fast_forward_seconds" in move_package.calls
    assert "timestamp::update_global_time_for_test_secs" in move_package.calls


def test_checks_detect_a_wrong_abort_code(tmp_path: Path) -> None:
    # The checks above must be able to fail: a test expecting the wrong category is reported.
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "market.move").write_text(
        "module agihub::market {\n"
        "    use std::error;\n"
        "    /// Nothing to pay.\n"
        "    const E_ZERO_AMOUNT: u64 = 1;\n"
        "    public entry fun pay(payer: &signer, amount: u64) {\n"
        "        assert!(amount > 0, error::invalid_argument(E_ZERO_AMOUNT));\n"
        "    }\n"
        "}\n"
    )
    (tmp_path / "sources" / "market_tests.move").write_text(
        "#[test_only]\nmodule agihub::market_tests {\n"
        "    #[test(payer = @0x1)]\n"
        "    #[expected_failure(abort_code = 0x30001, location = agihub::market)]\n"
        "    fun zero(payer: &signer) { agihub::market::pay(payer, 0); }\n"
        "}\n"
    )
    package = read_package(tmp_path)
    assert package.abort_categories == {"E_ZERO_AMOUNT": {"invalid_argument"}}
    table = _abort_code_table(package)
    assert table == {0x10001: "E_ZERO_AMOUNT"}
    [(name, args)] = _expected_failures(package)
    assert name == "market_tests::zero" and move_int(args["abort_code"]) not in table
    fn = next(f for f in package.functions if f.name == "pay")
    assert fn.is_entry and fn.value_params == (("amount", "u64"),)


@pytest.mark.parametrize(
    ("literal", "value"), [("0x10001", 0x10001), ("1_000", 1000), ("7u64", 7), ("0x1_0025", 0x10025)]
)
def test_move_int(literal: str, value: int) -> None:
    assert move_int(literal) == value
