"""Pins the public surface of agihub.chain (STYLE.md #10): changing it must change this test."""

from __future__ import annotations

import agihub.chain
from agihub.chain import errors


def test_chain_package_exports():
    assert sorted(agihub.chain.__all__) == sorted(
        [
            "FEE_CAP_BPS",
            "MAX_RELAYS",
            "MAX_WINDOW",
            "Chain",
            "ChainEvent",
            "ContractError",
            "Contribution",
            "EpochInfo",
            "EpochResult",
            "Order",
            "OrderState",
            "Receipt",
            "RelayInfo",
            "error_from_name",
            "key_commit",
            "score_commit",
        ]
    )
    for name in agihub.chain.__all__:
        assert hasattr(agihub.chain, name)


def test_errors_module_exports_one_class_per_catalogue_error_plus_helpers():
    helpers = {
        "ChainConnectionError",
        "ChainInputError",
        "ContractError",
        "TransactionRejected",
        "UnknownContractError",
        "error_class",
        "error_from_name",
    }
    classes = set(errors.__all__) - helpers
    assert {errors.error_class(getattr(errors, c).name).__name__ for c in classes} == classes
    assert len(classes) == len(agihub.chain.catalog.ERRORS)
