"""Commitments: byte layout checked against an independent encoder (eth-abi packed + eth-hash)."""

from __future__ import annotations

import pytest
from eth_abi.packed import encode_packed
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from agihub.chain.commitment import address_word, keccak256, key_commit, new_secret, score_commit
from agihub.chain.errors import ChainInputError

B32 = st.binary(min_size=32, max_size=32)
EVM_ADDR = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


def test_keccak_is_the_ethereum_variant():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


@given(key=B32, salt=B32, order_id=st.integers(0, 2**256 - 1), relay=EVM_ADDR)
def test_key_commit_layout(key, salt, order_id, relay):
    expected = keccak(
        encode_packed(["bytes32", "bytes32", "uint256", "uint256"], [key, salt, order_id, int(relay, 16)])
    )
    assert key_commit(key, salt, order_id, relay) == expected


@given(score=st.integers(0, 2**64 - 1), salt=B32, cid=st.integers(0, 2**64), validator=EVM_ADDR)
def test_score_commit_layout(score, salt, cid, validator):
    expected = keccak(
        encode_packed(["uint256", "bytes32", "uint256", "uint256"], [score, salt, cid, int(validator, 16)])
    )
    assert score_commit(score, salt, cid, validator) == expected


def test_aptos_and_evm_addresses_become_words():
    assert address_word("0x" + "ab" * 20) == b"\0" * 12 + b"\xab" * 20
    assert address_word("0x" + "cd" * 32) == b"\xcd" * 32
    assert address_word("0x1") == b"\0" * 31 + b"\x01"
    assert address_word(b"\x01" * 20) == b"\0" * 12 + b"\x01" * 20


def test_commitment_binds_every_input():
    key, salt = new_secret(), new_secret()
    base = key_commit(key, salt, 1, "0x" + "11" * 20)
    assert (
        len(
            {
                base,
                key_commit(key, salt, 2, "0x" + "11" * 20),
                key_commit(key, salt, 1, "0x" + "12" * 20),
                key_commit(salt, key, 1, "0x" + "11" * 20),
            }
        )
        == 4
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: key_commit(b"\0" * 31, b"\0" * 32, 1, "0x01"),
        lambda: key_commit(b"\0" * 32, "x" * 32, 1, "0x01"),  # type: ignore[arg-type]
        lambda: key_commit(b"\0" * 32, b"\0" * 32, -1, "0x01"),
        lambda: key_commit(b"\0" * 32, b"\0" * 32, 2**256, "0x01"),
        lambda: key_commit(b"\0" * 32, b"\0" * 32, 1, "0xzz"),
        lambda: key_commit(b"\0" * 32, b"\0" * 32, 1, "0x" + "1" * 65),
        lambda: key_commit(b"\0" * 32, b"\0" * 32, 1, b"\x01" * 21),
        lambda: score_commit(True, b"\0" * 32, 1, "0x01"),  # type: ignore[arg-type]
    ],
)
def test_malformed_inputs_are_refused(call):
    with pytest.raises(ChainInputError):
        call()
