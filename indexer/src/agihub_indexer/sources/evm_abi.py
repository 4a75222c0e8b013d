"""Decode market logs against :mod:`agihub.chain.catalog`, without web3.

The catalogue fixes every event's fields and their kinds, so the decoder is a small table built at
import: topic0 -> (name, indexed fields, data fields). Only the kinds the catalogue uses are
supported (``uint``, ``address``, ``bytes32``, ``bool``, ``string``, ``address_list``). Every length and
offset is bounds-checked: a log that does not decode raises :class:`MalformedEvent` naming the log.
Spec: https://docs.soliditylang.org/en/latest/abi-spec.html#events
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """How one event's fields are spread over topics and data, with its decoder built once."""

    name: str
    topic0: str
    indexed: tuple[Param, ...]
    data: tuple[Param, ...]
    #: ``(topics, data hex) -> fields``; raises ValueError when the log does not fit the layout.
    decode: Callable[[list[str], str], dict[str, Any]] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]


def _layout(event: Event) -> EventLayout:
    topic0 = "0x" + keccak256(event_signature(event).encode("ascii")).hex()
    indexed = tuple(f for f in event.fields if f.indexed and "evm" in f.chains)
    data = tuple(f for f in event.fields if not f.indexed and "evm" in f.chains)
    return EventLayout(event.name, topic0, indexed, data, _decoder(indexed, data))


def _word_uint(buf: bytes, at: int) -> int:
    if at < 0 or at + WORD > len(buf):
        raise ValueError(f"word at byte {at} past the end ({len(buf)} bytes)")
    return int.from_bytes(buf[at : at + WORD], "big")


def _address(word: bytes) -> str:
    if any(word[:12]):
        raise ValueError("address word has non-zero high bytes")
    return checksum_address(bytes(word[12:]))


def _bytes32(word: bytes) -> str:
    return "0x" + word.hex()


def _bool(word: bytes) -> bool:
    value = int.from_bytes(word, "big")
    if value > 1:
        raise ValueError(f"bool word holds {value}")
    return value == 1


def _uint(word: bytes) -> int:
    return int.from_bytes(word, "big")


#: Decoders of one 32-byte word per static kind (the only kinds that can be indexed).
_STATIC: dict[str, Callable[[bytes], Any]] = {
    "uint": _uint,
    "address": _address,
    "bytes32": _bytes32,
    "bool": _bool,
}


def _static(kind: str, word: bytes) -> Any:
    decoder = _STATIC.get(kind)
    if decoder is None:
        raise ValueError(f"kind {kind!r} cannot be indexed or static")
    return decoder(word)


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


def _decoder(
    indexed: tuple[Param, ...], data: tuple[Param, ...]
) -> Callable[[list[str], str], dict[str, Any]]:
    """A decoder specialised to one layout: the kind dispatch is resolved here, once, not per log.

    A backfill decodes every market log, so the per-log path is a flat loop over prepared
    ``(name, decoder)`` pairs (see the indexer benchmark, ``tests/benchmarks/bench_indexer.py``).
    """
    topic_fields = tuple((p.name, _STATIC[p.kind]) for p in indexed)
    data_fields = tuple(
        (p.name, p.kind in _DYNAMIC, p.kind if p.kind in _DYNAMIC else _STATIC[p.kind]) for p in data
    )
    n_topics, head = 1 + len(indexed), WORD * len(data)

    def decode(topics: list[str], hex_data: str) -> dict[str, Any]:
        if len(topics) != n_topics:
            raise ValueError(f"{len(topics)} topics, expected {n_topics}")
        fields: dict[str, Any] = {}
        for (name, word_decoder), topic in zip(topic_fields, topics[1:]):  # noqa: B905 - lengths checked
            fields[name] = word_decoder(_topic_bytes(topic))
        buf = _hex_bytes(hex_data)
        if len(buf) < head:
            raise ValueError(f"data has {len(buf)} bytes, the head alone needs {head}")
        at = 0
        for name, is_dynamic, how in data_fields:
            word = buf[at : at + WORD]
            fields[name] = _dynamic(how, buf, int.from_bytes(word, "big")) if is_dynamic else how(word)
            at += WORD
        return fields

    return decode


LAYOUTS: dict[str, EventLayout] = {layout.topic0: layout for layout in map(_layout, EVENTS)}
TOPIC0S: tuple[str, ...] = tuple(LAYOUTS)


def decode_log(topics: list[str], data: str) -> tuple[str, dict[str, Any]] | None:
    """``(event name, fields)`` of a market log, or None when topic 0 is not a market event.

    Raises :class:`MalformedEvent` when topic 0 names a market event but the rest does not fit it.
    """
    if not topics:
        return None
    topic0 = topics[0]
    layout = LAYOUTS.get(topic0) or (LAYOUTS.get(topic0.lower()) if isinstance(topic0, str) else None)
    if layout is None:
        return None
    try:
        fields = layout.decode(topics, data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"{layout.name} log does not match the catalogue: {exc}") from None
    return layout.name, fields


def _hex_bytes(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex, got {str(value)[:20]!r}")
    return bytes.fromhex(value[2:])


def _topic_bytes(topic: str) -> bytes:
    if isinstance(topic, str) and len(topic) == 2 + 2 * WORD and topic.startswith("0x"):
        return bytes.fromhex(topic[2:])
    raw = _hex_bytes(topic)
    raise ValueError(f"topic of {len(raw)} bytes")
