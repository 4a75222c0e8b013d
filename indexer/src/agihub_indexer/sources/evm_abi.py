"""Decode market logs against :mod:`agihub.chain.catalog`, without web3.

The catalogue fixes every event's fields and their kinds, so the decoder is a small table built at
import: topic0 -> (name, indexed fields, data fields). Only the kinds the catalogue uses are
supported (``uint``, ``address``, ``bytes32``, ``bool``, ``string``, ``address_list``). Every length and
offset is bounds-checked: a log that does not decode raises :class:`MalformedEvent` naming the log.
Spec: https://docs.soliditylang.org/en/latest/abi-spec.html#events
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from Crypto.Hash import keccak

from agihub.chain.catalog import EVENTS, Event, Param, evm_abi_type
from agihub_indexer.errors import MalformedEvent

WORD = 32
# Dynamic arrays and strings in market events are bounded (relay lists <= 8, endpoints <= 256 bytes);
# anything far larger is a hostile or broken node, not a market log.
MAX_DYNAMIC_LENGTH = 4096


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum hash, not NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=data).digest()


@functools.lru_cache(maxsize=65536)
def checksum_address(raw20: bytes) -> str:
    """EIP-55 spelling of a 20-byte address (cached: the same accounts recur in every batch).

    https://eips.ethereum.org/EIPS/eip-55
    """
    hex40 = raw20.hex()
    digest = keccak256(hex40.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(hex40, digest[:40], strict=True)
    )


def event_signature(event: Event) -> str:
    """``Name(type,...)`` over all fields in order, as the EVM hashes it into topic 0."""
    return f"{event.name}({','.join(evm_abi_type(f.kind) for f in event.fields)})"


@dataclass(frozen=True)
class EventLayout:
    """How one event's fields are spread over topics and data."""

    name: str
    topic0: str
    indexed: tuple[Param, ...]
    data: tuple[Param, ...]


def _layout(event: Event) -> EventLayout:
    topic0 = "0x" + keccak256(event_signature(event).encode("ascii")).hex()
    indexed = tuple(f for f in event.fields if f.indexed and "evm" in f.chains)
    data = tuple(f for f in event.fields if not f.indexed and "evm" in f.chains)
    return EventLayout(event.name, topic0, indexed, data)


LAYOUTS: dict[str, EventLayout] = {layout.topic0: layout for layout in map(_layout, EVENTS)}
TOPIC0S: tuple[str, ...] = tuple(LAYOUTS)


def _word_uint(buf: bytes, at: int) -> int:
    if at < 0 or at + WORD > len(buf):
        raise ValueError(f"word at byte {at} past the end ({len(buf)} bytes)")
    return int.from_bytes(buf[at : at + WORD], "big")


def _address(word: bytes) -> str:
    if any(word[:12]):
        raise ValueError("address word has non-zero high bytes")
    return checksum_address(bytes(word[12:]))


def _static(kind: str, word: bytes) -> Any:
    if kind == "uint":
        return int.from_bytes(word, "big")
    if kind == "address":
        return _address(word)
    if kind == "bytes32":
        return "0x" + word.hex()
    if kind == "bool":
        value = int.from_bytes(word, "big")
        if value > 1:
            raise ValueError(f"bool word holds {value}")
        return value == 1
    raise ValueError(f"kind {kind!r} cannot be indexed or static")


def _dynamic(kind: str, buf: bytes, offset: int) -> Any:
    length = _word_uint(buf, offset)
    if length > MAX_DYNAMIC_LENGTH:
        raise ValueError(f"dynamic length {length} exceeds {MAX_DYNAMIC_LENGTH}")
    start = offset + WORD
    if kind == "string":
        if start + length > len(buf):
            raise ValueError("string runs past the end of data")
        return buf[start : start + length].decode("utf-8")
    if kind == "address_list":
        if start + length * WORD > len(buf):
            raise ValueError("address list runs past the end of data")
        return [_address(buf[start + i * WORD : start + (i + 1) * WORD]) for i in range(length)]
    raise ValueError(f"unsupported dynamic kind {kind!r}")


_DYNAMIC = frozenset({"string", "address_list"})


def _decode_data(layout: EventLayout, buf: bytes) -> dict[str, Any]:
    if len(buf) < WORD * len(layout.data):
        raise ValueError(f"data has {len(buf)} bytes, the head alone needs {WORD * len(layout.data)}")
    out: dict[str, Any] = {}
    for i, param in enumerate(layout.data):
        head = buf[i * WORD : (i + 1) * WORD]
        if param.kind in _DYNAMIC:
            out[param.name] = _dynamic(param.kind, buf, int.from_bytes(head, "big"))
        else:
            out[param.name] = _static(param.kind, head)
    return out


def decode_log(topics: list[str], data: str) -> tuple[str, dict[str, Any]] | None:
    """``(event name, fields)`` of a market log, or None when topic 0 is not a market event.

    Raises :class:`MalformedEvent` when topic 0 names a market event but the rest does not fit it.
    """
    if not topics:
        return None
    layout = LAYOUTS.get(topics[0].lower())
    if layout is None:
        return None
    try:
        if len(topics) != 1 + len(layout.indexed):
            raise ValueError(f"{len(topics)} topics, expected {1 + len(layout.indexed)}")
        fields = {
            p.name: _static(p.kind, _topic_bytes(t)) for p, t in zip(layout.indexed, topics[1:], strict=True)
        }
        fields.update(_decode_data(layout, _hex_bytes(data)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"{layout.name} log does not match the catalogue: {exc}") from None
    return layout.name, fields


def _hex_bytes(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex, got {str(value)[:20]!r}")
    return bytes.fromhex(value[2:])


def _topic_bytes(topic: str) -> bytes:
    raw = _hex_bytes(topic)
    if len(raw) != WORD:
        raise ValueError(f"topic of {len(raw)} bytes")
    return raw
