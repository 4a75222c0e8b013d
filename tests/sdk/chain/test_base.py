"""Chain-neutral models: event decoding, receipts and argument checks."""

from __future__ import annotations

import pytest

from agihub.chain.base import Chain, ChainEvent, Receipt, decode_event, require_bytes32, require_uint
from agihub.chain.catalog import ENTRY_FUNCTIONS, VIEWS
from agihub.chain.errors import ChainInputError


def test_decode_event_normalizes_by_kind():
    raw = {
        "order_id": "7",
        "buyer": "0xABC",
        "model_root": bytearray(b"\x01" * 32),
        "relays": ["0xA", "0xB"],
        "down": 1,
        "cost": 2,
        "tip": 3,
        "take_deadline": 4,
        "ack_window": 5,
        "reveal_window": 6,
        "extra": "ignored",
    }
    event = decode_event("OrderPulled", raw, address=str.lower, tx_hash="0x1", log_index=2)
    assert event["order_id"] == 7 and event["buyer"] == "0xabc" and event["relays"] == ("0xa", "0xb")
    assert isinstance(event["model_root"], bytes) and "extra" not in event.fields
    assert (event.tx_hash, event.log_index) == ("0x1", 2)


def test_decode_event_rejects_unknown_names_and_missing_fields():
    with pytest.raises(ChainInputError, match="unknown event"):
        decode_event("Nope", {})
    with pytest.raises(ChainInputError, match="lacks fields"):
        decode_event("Withdrawn", {"account": "0x1"})


def test_decode_event_string_from_bytes():
    event = decode_event("RelayUpdated", {"relay": "0x1", "nostr_pubkey": b"\0" * 32, "endpoint": b"wss://x"})
    assert event["endpoint"] == "wss://x"


def test_receipt_event_lookup():
    a, b = ChainEvent("FeeChanged", {"bps": 1}), ChainEvent("FeeChanged", {"bps": 2})
    assert Receipt("0x", 1, (a,)).event("FeeChanged") is a
    with pytest.raises(KeyError):
        Receipt("0x", 1, (a, b)).event("FeeChanged")
    with pytest.raises(KeyError):
        Receipt("0x", 1, ()).event("Withdrawn")


@pytest.mark.parametrize("bad", [b"", b"\0" * 31, b"\0" * 33, "0" * 32, None])
def test_require_bytes32(bad):
    with pytest.raises(ChainInputError):
        require_bytes32("x", bad)  # type: ignore[arg-type]
    assert require_bytes32("x", bytearray(32)) == b"\0" * 32


@pytest.mark.parametrize("bad", [-1, 2**256, True, 1.0, "1"])
def test_require_uint(bad):
    with pytest.raises(ChainInputError):
        require_uint("x", bad)  # type: ignore[arg-type]
    assert require_uint("x", 2**64 - 1, 2**64 - 1) == 2**64 - 1


def test_chain_interface_covers_the_catalogue():
    methods = set(Chain.__abstractmethods__)
    assert {f.name for f in ENTRY_FUNCTIONS} <= methods
    assert {v.name for v in VIEWS} <= methods
