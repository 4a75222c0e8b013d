"""k-of-n erasure coding of the stored stream with zfec (systematic Reed-Solomon over GF(2^8)).

Layout: the stored stream (plaintext payload, or its encrypted segments) is cut into stripes of
``k * block_size`` bytes; the last stripe is zero-padded. zfec turns each stripe's k data blocks
into n blocks, of which blocks 0..k-1 are the data itself (systematic) and k..n-1 are parity.
Shard i = a 72-byte header followed by block i of every stripe, in stripe order, so stripe s of
shard i is at body offset ``s * block_size``; a byte range of the stream maps to the same body
range in every shard (see :func:`stripe_range`).

Defaults: k=4, n=6. Storage overhead is n/k = 1.5x, any two relays may vanish, and a download
talks to only four relays. With relays independently online 90% of the time, 4-of-6 is available
98.4% of the time, against 90% for one copy and 99.9% for three full copies (3x overhead).
Blocks are 1 MiB (stripes of 4 MiB): large enough that zfec runs at full speed, small enough to
keep the pack/unpack window to a few MiB. Tiny payloads use smaller blocks so a shard is never
mostly padding.

Shard header (72 bytes, big-endian)::

    0   8  magic  b"AGHSHRD1"
    8   2  header format version (1)
    10  2  k
    12  2  n
    14  2  shard index
    16  4  block size
    20  8  stripe count
    28 32  model_root
    60  8  package tag: first 8 bytes of the encryption key salt, zero for public packages
           (public packaging is deterministic, so equal public layouts have equal shards)
    68  4  zero (reserved)
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import zfec

from agihub.storage.errors import InsufficientShardsError, ParameterError, ShardMismatchError

MAGIC = b"AGHSHRD1"
HEADER_VERSION = 1
HEADER_SIZE = 72
TAG_SIZE = 8
_HEADER = struct.Struct(">8sHHHHIQ32s8s4x")
DEFAULT_K = 4
DEFAULT_N = 6
DEFAULT_BLOCK_SIZE = 1024 * 1024
MAX_SHARDS = 256


@dataclass(frozen=True)
class ShardHeader:
    """The fixed header at the start of every shard file."""

    k: int
    n: int
    index: int
    block_size: int
    stripes: int
    model_root: bytes
    tag: bytes = bytes(TAG_SIZE)
    version: int = HEADER_VERSION

    def pack(self) -> bytes:
        """The header bytes."""
        return _HEADER.pack(
            MAGIC,
            self.version,
            self.k,
            self.n,
            self.index,
            self.block_size,
            self.stripes,
            self.model_root,
            self.tag,
        )

    @classmethod
    def unpack(cls, data: bytes) -> ShardHeader:
        """Parse a header; a short or foreign header raises :class:`ShardMismatchError`."""
        if len(data) < HEADER_SIZE:
            raise ShardMismatchError(
                f"shard is {len(data)} bytes, shorter than its {HEADER_SIZE}-byte header"
            )
        magic, version, k, n, index, block, stripes, root, tag = _HEADER.unpack(data[:HEADER_SIZE])
        if magic != MAGIC or version != HEADER_VERSION or data[HEADER_SIZE - 4 : HEADER_SIZE] != bytes(4):
            raise ShardMismatchError("not an agihub shard (bad magic, header version or reserved bytes)")
        return cls(k, n, index, block, stripes, root, tag, version)


def check_params(k: int, n: int, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
    """Refuse k, n or a block size that zfec cannot code (or that would not fit the header)."""
    if not 64 <= block_size <= 2**31:
        raise ParameterError(f"block size {block_size} outside [64, 2^31]")
    if not (1 <= k <= n <= MAX_SHARDS):
        raise ParameterError(f"erasure parameters need 1 <= k <= n <= {MAX_SHARDS}, got k={k}, n={n}")


def choose_block_size(stream_size: int, k: int, default: int = DEFAULT_BLOCK_SIZE) -> int:
    """``default``, or less for a stream shorter than one full stripe (rounded up to 64 bytes)."""
    per_block = -(-stream_size // k)
    return max(64, min(default, -(-per_block // 64) * 64))


def stripe_count(stream_size: int, k: int, block_size: int) -> int:
    """Stripes needed for ``stream_size`` bytes."""
    return max(1, -(-stream_size // (k * block_size)))


def stripe_range(begin: int, end: int, k: int, block_size: int) -> range:
    """Stripes holding stream bytes [begin, end); each is body bytes [s*B, (s+1)*B) of any shard."""
    stripe = k * block_size
    if end <= begin:
        return range(0)
    return range(begin // stripe, (end - 1) // stripe + 1)


class StripeEncoder:
    """Encodes one stripe (k * block_size bytes) into n blocks."""

    def __init__(self, k: int, n: int, block_size: int) -> None:
        check_params(k, n)
        self.k, self.n, self.block_size = k, n, block_size
        self._encoder = zfec.Encoder(k, n)
        self._parity = tuple(range(k, n))

    def data_blocks(self, stripe: bytes | bytearray | memoryview) -> tuple[memoryview, ...]:
        """The k data blocks: views of ``stripe`` (systematic code, nothing is copied)."""
        view = memoryview(stripe)
        if len(view) != self.k * self.block_size:
            raise ValueError(f"stripe is {len(view)} bytes, expected {self.k * self.block_size}")
        b = self.block_size
        return tuple(view[i * b : (i + 1) * b] for i in range(self.k))

    def parity_blocks(self, stripe: bytes | bytearray | memoryview) -> list[bytes]:
        """The n - k parity blocks of ``stripe``."""
        return list(self._encoder.encode(self.data_blocks(stripe), self._parity)) if self._parity else []

    def encode(self, stripe: bytes | bytearray | memoryview) -> list[bytes | memoryview]:
        """n blocks: the k data blocks (views of ``stripe``) then the parity blocks."""
        return [*self.data_blocks(stripe), *self.parity_blocks(stripe)]


class StripeDecoder:
    """Rebuilds a stripe's data from any k of its n blocks."""

    def __init__(self, k: int, n: int) -> None:
        check_params(k, n)
        self.k, self.n = k, n
        self._decoder = zfec.Decoder(k, n)

    def decode(self, blocks: Mapping[int, bytes | memoryview]) -> list[bytes | memoryview]:
        """The k data blocks in order, from a mapping shard index -> block of at least k entries."""
        if len(blocks) < self.k:
            raise InsufficientShardsError(f"a stripe needs {self.k} blocks, only {len(blocks)} given")
        chosen = sorted(blocks)[: self.k]
        if chosen == list(range(self.k)):
            return [blocks[i] for i in chosen]  # systematic fast path: the data blocks themselves
        ordered = _order_for_zfec(chosen, self.k)
        return list(self._decoder.decode(tuple(blocks[i] for i in ordered), tuple(ordered)))


def _order_for_zfec(chosen: Sequence[int], k: int) -> list[int]:
    """zfec wants each primary block (index < k) at its own position; parity fills the holes."""
    slots: list[int | None] = [None] * k
    spare = [i for i in chosen if i >= k]
    for i in chosen:
        if i < k:
            slots[i] = i
    return [slot if slot is not None else spare.pop(0) for slot in slots]
