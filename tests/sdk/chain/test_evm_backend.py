"""EVM backend pieces that need no chain: revert mapping, connection failures, deploy config."""

from __future__ import annotations

import socket

import pytest
from web3.exceptions import ContractLogicError, Web3RPCError

from agihub.chain import errors as E
from agihub.chain.evm import _contract_error, checksum, connect
from agihub.chain.evm_deploy import SOURCE_ENV, compile_market, default_market_source
from agihub.errors import ConfigError


def test_revert_reason_in_message_maps_to_typed_error():
    assert isinstance(
        _contract_error(ContractLogicError("execution reverted: market: E_NOT_TAKER")), E.NotTaker
    )


def test_revert_reason_in_abi_data_maps_to_typed_error():
    reason = b"market: E_BAD_REVEAL"
    data = "0x08c379a0" + (32).to_bytes(32, "big").hex() + len(reason).to_bytes(32, "big").hex()
    data += reason.ljust(32, b"\0").hex()
    exc = ContractLogicError("execution reverted", data=data)
    assert isinstance(_contract_error(exc), E.BadReveal)


def test_bare_revert_is_unknown_contract_error():
    assert type(_contract_error(ContractLogicError("execution reverted"))) is E.UnknownContractError


def test_node_refusal_is_transaction_rejected():
    exc = Web3RPCError("{'code': -32000, 'message': \"Sender doesn't have enough funds\"}")
    assert isinstance(_contract_error(exc), E.TransactionRejected)


def test_checksum_spells_eip55_and_rejects_garbage():
    eip55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # test vector from EIP-55
    assert checksum(eip55.lower()) == eip55
    with pytest.raises(E.ChainInputError):
        checksum("0x1234")


def test_connect_to_a_closed_port_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(E.ChainConnectionError, match="no EVM JSON-RPC node"):
        connect(f"http://127.0.0.1:{port}", request_timeout=1)


def test_missing_source_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setenv(SOURCE_ENV, str(tmp_path / "absent.vy"))
    with pytest.raises(ConfigError, match=SOURCE_ENV):
        default_market_source()


def test_compile_market_is_cached_and_from_source():
    first, second = compile_market(), compile_market()
    assert first is second and first.bytecode.startswith("0x") and first.vyper_version.startswith("0.4")
