"""Tensor-aligned chunking of a payload.

A chunk is the unit that is hashed into the Merkle tree and encrypted as one AES-GCM segment.
For a safetensors file, chunk boundaries fall on tensor boundaries: the header is its own chunk(s),
consecutive small tensors share a chunk up to the cap, and a tensor larger than the cap is cut into
cap-sized pieces starting at its first byte. So a client that wants one tensor fetches only the
chunks that hold it, and a tensor changed by a fine-tune changes only its own chunks' hashes.
Other payloads (delta files) are cut into fixed cap-sized chunks.

The cap is recorded in the manifest; the same bytes with the same cap always give the same chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agihub.storage.errors import ParameterError, PayloadError
from agihub.storage.safetensors import SafetensorsHeader

# 4 MiB: small enough to bound memory and to make single-tensor fetches cheap, large enough that
# a 2 GiB model has ~512 chunks (a 40 KB manifest) and per-chunk overheads (one GCM segment,
# one tree leaf) stay far below 0.01%.
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
MIN_CHUNK_SIZE = 64
MAX_CHUNK_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk's position in the plaintext payload."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.offset + self.length


def check_chunk_size(chunk_size: int) -> None:
    """Refuse caps outside [MIN_CHUNK_SIZE, MAX_CHUNK_SIZE]."""
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ParameterError(f"chunk size {chunk_size} outside [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}]")


def _split(offset: int, length: int, cap: int) -> Iterable[ChunkSpan]:
    for start in range(offset, offset + length, cap):
        yield ChunkSpan(start, min(cap, offset + length - start))


def fixed_chunks(size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[ChunkSpan]:
    """Cap-sized chunks over an opaque payload of ``size`` bytes."""
    check_chunk_size(chunk_size)
    if size <= 0:
        raise PayloadError("payload is empty; there is nothing to publish")
    return list(_split(0, size, chunk_size))


def _group_ranges(ranges: Iterable[tuple[int, int]], cap: int) -> list[ChunkSpan]:
    """Pack contiguous (begin, end) ranges into chunks, never cutting a range that fits in the cap."""
    chunks: list[ChunkSpan] = []
    open_start = open_end = None
    for begin, end in ranges:
        if end == begin:
            continue
        if open_start is not None and (end - open_start > cap or end - begin > cap):
            chunks.append(ChunkSpan(open_start, open_end - open_start))  # type: ignore[operator]
            open_start = None
        if end - begin > cap:
            chunks.extend(_split(begin, end - begin, cap))
            continue
        open_start = begin if open_start is None else open_start
        open_end = end
    if open_start is not None:
        chunks.append(ChunkSpan(open_start, open_end - open_start))  # type: ignore[operator]
    return chunks


def tensor_chunks(header: SafetensorsHeader, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[ChunkSpan]:
    """Tensor-aligned chunks covering a validated safetensors file."""
    check_chunk_size(chunk_size)
    chunks = list(_split(0, header.data_start, chunk_size))
    chunks.extend(_group_ranges(((t.begin, t.end) for t in header.tensors), chunk_size))
    return chunks


def chunks_for_range(chunks: Sequence[ChunkSpan], begin: int, end: int) -> range:
    """Indices of the chunks overlapping payload bytes [begin, end) (empty for an empty range)."""
    if end <= begin:
        return range(0)
    first = _bisect(chunks, begin)
    last = _bisect(chunks, end - 1)
    return range(first, last + 1)


def _bisect(chunks: Sequence[ChunkSpan], offset: int) -> int:
    lo, hi = 0, len(chunks) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if chunks[mid].offset <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo
