"""One exception class per contract error, and one mapping function for names, reasons and codes."""

from __future__ import annotations

import pytest

from agihub.chain import errors
from agihub.chain.catalog import ERROR_CODES, ERRORS
from agihub.errors import AgihubError, ChainError


@pytest.mark.parametrize("name", ERRORS)
def test_every_catalogue_error_has_a_class(name):
    cls = errors.error_class(name)
    assert cls is not errors.UnknownContractError
    assert (cls.name, cls.code) == (name, ERROR_CODES[name])
    assert (
        issubclass(cls, errors.ContractError) and issubclass(cls, ChainError) and issubclass(cls, AgihubError)
    )
    assert cls.__name__ in errors.__all__


@pytest.mark.parametrize("name", ERRORS)
def test_all_spellings_map_to_the_same_class(name):
    code = ERROR_CODES[name]
    move_abort = (0x1 << 16) | code  # std::error::invalid_argument category
    classes = {
        type(errors.error_from_name(spelling))
        for spelling in (name, f"market: {name}", f"  market: {name} ", code, move_abort)
    }
    assert classes == {errors.error_class(name)}


def test_message_names_the_error_and_detail():
    exc = errors.error_from_name("market: E_NOT_BUYER", detail="order 7")
    assert isinstance(exc, errors.NotBuyer)
    assert str(exc) == "E_NOT_BUYER (code 12): order 7"


@pytest.mark.parametrize("unknown", ["E_NOPE", "market: something else", "", 0, 999, 0xFFFF])
def test_unknown_errors_are_typed_but_not_guessed(unknown):
    exc = errors.error_from_name(unknown)
    assert type(exc) is errors.UnknownContractError
    assert str(unknown) in str(exc)


def test_non_contract_errors_are_chain_errors():
    for cls in (errors.ChainConnectionError, errors.ChainInputError, errors.TransactionRejected):
        assert issubclass(cls, ChainError) and not issubclass(cls, errors.ContractError)
