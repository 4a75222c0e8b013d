"""The log decoder against eth_abi's encoder, for every event of the catalogue, and malformed logs."""

from __future__ import annotations

import random

import eth_abi
import pytest
from eth_utils import to_checksum_address

from agihub.chain.catalog import EVENTS, evm_abi_type
from agihub_indexer.errors import MalformedEvent
from agihub_indexer.sources.evm_abi import LAYOUTS, checksum_address, decode_log, event_signature, keccak256


def _value(kind: str, rng: random.Random) -> tuple[object, object]:
    """(value to encode, value the decoder must return)."""
    if kind == "uint":
        v = rng.choice([0, 1, 2**64, 2**256 - 1, rng.getrandbits(200)])
        return v, v
    if kind == "address":
        raw = rng.randbytes(20)
        return "0x" + raw.hex(), to_checksum_address(raw)
    if kind == "bytes32":
        raw = rng.randbytes(32)
        return raw, "0x" + raw.hex()
    if kind == "string":
        text = "wss://relay-é.example/" + "x" * rng.randint(0, 200)
        return text, text
    if kind == "address_list":
        raws = [rng.randbytes(20) for _ in range(rng.randint(0, 8))]
        return ["0x" + r.hex() for r in raws], [to_checksum_address(r) for r in raws]
    if kind == "bool":
        v = rng.random() < 0.5
        return v, v
    raise AssertionError(kind)


def _encode(event, rng: random.Random) -> tuple[list[str], str, dict[str, object]]:
    topics = ["0x" + keccak256(event_signature(event).encode()).hex()]
    data_types, data_values, expected = [], [], {}
    for field in event.fields:
        encoded, decoded = _value(field.kind, rng)
        expected[field.name] = decoded
        if field.indexed:
            topics.append("0x" + eth_abi.encode([evm_abi_type(field.kind)], [encoded]).hex())
        else:
            data_types.append(evm_abi_type(field.kind))
            data_values.append(encoded)
    return topics, "0x" + eth_abi.encode(data_types, data_values).hex(), expected


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
def test_every_catalogue_event_decodes_what_eth_abi_encodes(event) -> None:
    rng = random.Random(event.name)
    for _ in range(20):
        topics, data, expected = _encode(event, rng)
        assert decode_log(topics, data) == (event.name, expected)


def test_topic0_table_covers_the_catalogue_with_known_signatures() -> None:
    assert len(LAYOUTS) == len(EVENTS)
    # keccak("Withdrawn(address,uint256)") as computed by eth_utils, independently of our hasher
    from eth_utils import keccak

    assert "0x" + keccak(text="Withdrawn(address,uint256)").hex() in LAYOUTS


def test_checksum_matches_eth_utils() -> None:
    rng = random.Random(7)
    for _ in range(50):
        raw = rng.randbytes(20)
        assert checksum_address(raw) == to_checksum_address(raw)


def test_foreign_and_empty_logs_are_not_market_events() -> None:
    assert decode_log([], "0x") is None
    assert decode_log(["0x" + "ab" * 32], "0x") is None


def _withdrawn(amount_hex: str = "00" * 31 + "05", account_word: str = "00" * 12 + "11" * 20):
    topic0 = "0x" + keccak256(b"Withdrawn(address,uint256)").hex()
    return [topic0, "0x" + account_word], "0x" + amount_hex


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t, d: (t[:1], d), "topics"),
        (lambda t, d: ([*t, t[1]], d), "topics"),
        (lambda t, d: (t, d[:-2]), "data has"),
        (lambda t, d: ([t[0], "0x" + "ff" * 32], d), "non-zero high bytes"),
        (lambda t, d: ([t[0], "0x1234"], d), "topic of 2 bytes"),
        (lambda t, d: (t, "zz"), "0x-prefixed"),
    ],
)
def test_malformed_market_logs_raise_naming_the_problem(mutate, message) -> None:
    topics, data = mutate(*_withdrawn())
    with pytest.raises(MalformedEvent, match=message):
        decode_log(topics, data)


def test_oversized_and_truncated_dynamic_fields_are_refused() -> None:
    event = next(e for e in EVENTS if e.name == "RelayRegistered")
    topics, _data, _ = _encode(event, random.Random(1))
    pubkey = "11" * 32
    huge = "0x" + pubkey + (64).to_bytes(32, "big").hex() + (10**6).to_bytes(32, "big").hex()
    with pytest.raises(MalformedEvent, match="exceeds"):
        decode_log(topics, huge)
    short = "0x" + pubkey + (64).to_bytes(32, "big").hex() + (100).to_bytes(32, "big").hex() + "61" * 10
    with pytest.raises(MalformedEvent, match="past the end"):
        decode_log(topics, short)
    bad_offset = "0x" + pubkey + (2**40).to_bytes(32, "big").hex()
    with pytest.raises(MalformedEvent, match="past the end"):
        decode_log(topics, bad_offset)
