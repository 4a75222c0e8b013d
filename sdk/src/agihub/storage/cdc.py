"""Content-defined chunking (FastCDC) for datasets and other opaque files.

FastCDC (Xia et al., "FastCDC: a Fast and Efficient Content-Defined Chunking Approach for Data
Deduplication", USENIX ATC 2016, https://www.usenix.org/conference/atc16/technical-sessions/presentation/xia)
cuts a byte stream where a *gear* rolling hash ``h = (h << 1) + GEAR[byte]`` (64-bit, wrapping)
has chosen bits all zero, so boundaries depend on the bytes around them, not on their offsets:
inserting or deleting bytes moves only the chunks around the edit, every other chunk keeps its
bytes and its sha256. An edited or appended dataset version therefore reuses most chunks.

``fastcdc/1`` (the manifest's ``chunking.scheme``), fully determined by the chunk cap:

* sizes: ``max = cap`` (a power of two), ``avg = cap / 8``, ``min = cap / 32`` — the paper's
  2 KiB / 8 KiB / 64 KiB ratios;
* gear table: ``GEAR[b]`` = first 8 bytes (big-endian) of ``sha256("agihub/fastcdc/gear/v1" ‖ b)``;
* hash at byte ``i``: ``h_i = Σ_{j<64} GEAR[data[i-j]] << j  (mod 2^64)`` — the gear hash of the 64
  bytes ending at ``i`` (older bytes are shifted out of a 64-bit word anyway);
* normalized chunking (the paper's NC level 2): with ``b = log2(avg)``, ``MASK_S`` has the top
  ``b + 2`` bits set and ``MASK_L`` the top ``b - 2`` (top bits see the whole 64-byte window);
* from a chunk start ``s``: the chunk ends after the first byte ``i`` in ``[s+min-1, s+avg-1)``
  with ``h_i & MASK_S == 0``, else the first ``i`` in ``[s+avg-1, s+max)`` with
  ``h_i & MASK_L == 0``, else at ``s + max``; the rest of the file is the last chunk when it is at
  most ``min`` bytes (cut-point skipping: no hash is computed for the first ``min - 64`` bytes).

Two implementations give identical cut points (a test compares them): a numba kernel (the
optional ``agihub[fast]`` extra; ~1 byte per cycle, faster than sha256 of the same bytes) and a
numpy fallback that computes the window hash in 6 vectorized doubling steps (a few times slower).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agihub.storage.chunking import MAX_CHUNK_SIZE, ChunkSpan
from agihub.storage.errors import ParameterError, PayloadError

log = logging.getLogger(__name__)

SCHEME = "fastcdc/1"
#: Default cap for datasets: 8 MiB max, 1 MiB average, 256 KiB min chunks (a 1 GiB dataset has
#: ~1000 chunks, a ~100 KB manifest).
DEFAULT_CDC_CAP = 8 * 1024 * 1024
MIN_CDC_CAP = 4096  # min = 128 bytes > the 64-byte window
WINDOW = 64
_BLOCK = 8 * 1024 * 1024  # numpy fallback: bytes hashed per vectorized pass

GEAR = np.array(
    [
        int.from_bytes(hashlib.sha256(b"agihub/fastcdc/gear/v1" + bytes([b])).digest()[:8], "big")
        for b in range(256)
    ],
    dtype=np.uint64,
)


@dataclass(frozen=True)
class CdcParams:
    """Sizes and masks derived from the cap (see the module docstring)."""

    cap: int

    def __post_init__(self) -> None:
        check_cdc_cap(self.cap)

    @property
    def max_size(self) -> int:
        return self.cap

    @property
    def avg_size(self) -> int:
        return self.cap // 8

    @property
    def min_size(self) -> int:
        return self.cap // 32

    @property
    def mask_s(self) -> int:
        return _top_bits(self.avg_size.bit_length() - 1 + 2)

    @property
    def mask_l(self) -> int:
        return _top_bits(self.avg_size.bit_length() - 1 - 2)


def _top_bits(count: int) -> int:
    return ((1 << count) - 1) << (64 - count)


def check_cdc_cap(cap: int) -> None:
    """Refuse caps that are not a power of two in [MIN_CDC_CAP, MAX_CHUNK_SIZE]."""
    if not MIN_CDC_CAP <= cap <= MAX_CHUNK_SIZE or cap & (cap - 1):
        raise ParameterError(
            f"CDC chunk cap {cap} must be a power of two in [{MIN_CDC_CAP}, {MAX_CHUNK_SIZE}]"
        )


# --- numba kernel (optional) --------------------------------------------------------------------


def _build_numba() -> Callable[..., int] | None:
    try:
        import numba
    except ImportError:
        return None
    u64 = numba.uint64

    @numba.njit(cache=True, nogil=True)
    def cut_points(data, gear, min_size, avg_size, max_size, mask_s, mask_l, out):  # type: ignore[no-untyped-def]
        n = data.shape[0]
        one = u64(1)
        zero = u64(0)
        count = 0
        start = 0
        while start < n:
            if n - start <= min_size:
                end = n
            else:
                limit = start + min(max_size, n - start)
                normal = min(start + avg_size, limit)
                h = zero
                for j in range(start + min_size - 64, start + min_size - 1):
                    h = (h << one) + gear[data[j]]
                end = limit
                j = start + min_size - 1
                found = False
                while j < normal - 1:
                    h = (h << one) + gear[data[j]]
                    if (h & mask_s) == zero:
                        end = j + 1
                        found = True
                        break
                    j += 1
                if not found:
                    while j < limit:
                        h = (h << one) + gear[data[j]]
                        if (h & mask_l) == zero:
                            end = j + 1
                            break
                        j += 1
            out[count] = end
            count += 1
            start = end
        return count

    return cut_points  # type: ignore[no-any-return]


@functools.cache
def _kernel() -> Callable[..., int] | None:
    """The compiled kernel, built on first use (importing numba costs ~0.5 s: commands that never
    chunk data do not pay it)."""
    return _build_numba()


def backend() -> str:
    """``numba`` when the compiled kernel is available, else ``numpy``."""
    return "numba" if importlib.util.find_spec("numba") is not None else "numpy"


def _ends_numba(data: np.ndarray, p: CdcParams) -> np.ndarray:
    kernel = _kernel()
    if kernel is None:
        raise ParameterError("the numba CDC kernel is not installed: pip install 'agihub[fast]'")
    out = np.empty(data.shape[0] // p.min_size + 2, dtype=np.int64)
    count = kernel(
        data, GEAR, p.min_size, p.avg_size, p.max_size, np.uint64(p.mask_s), np.uint64(p.mask_l), out
    )
    return out[:count]


# --- numpy fallback -----------------------------------------------------------------------------


def _window_hashes(data: np.ndarray, begin: int, end: int) -> np.ndarray:
    """``h_i`` for i in [begin, end) (begin >= 63): the gear hash of the 64 bytes ending at i."""
    lo = begin - (WINDOW - 1)
    h = GEAR[data[lo:end]]
    width = 1
    while width < WINDOW:  # h_i ← h_i + h_{i-w} << w doubles the window: 1, 2, 4, ..., 64 bytes
        h[width:] += h[:-width] << np.uint64(width)
        width *= 2
    return h[WINDOW - 1 :]


def _candidates(data: np.ndarray, p: CdcParams) -> tuple[np.ndarray, np.ndarray]:
    """Positions i >= min-1 with ``h_i & MASK_L == 0`` and the subset with ``h_i & MASK_S == 0``."""
    n = data.shape[0]
    loose, strict = [], []
    mask_l, mask_s = np.uint64(p.mask_l), np.uint64(p.mask_s)
    for begin in range(p.min_size - 1, n, _BLOCK):
        end = min(begin + _BLOCK, n)
        h = _window_hashes(data, begin, end)
        hits = np.flatnonzero((h & mask_l) == 0)
        loose.append(hits + begin)
        strict.append(hits[(h[hits] & mask_s) == 0] + begin)
    if not loose:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(loose), np.concatenate(strict)


def _ends_numpy(data: np.ndarray, p: CdcParams) -> np.ndarray:
    n = data.shape[0]
    loose, strict = _candidates(data, p)
    ends = []
    start = 0
    while start < n:
        if n - start <= p.min_size:
            end = n
        else:
            limit = start + min(p.max_size, n - start)
            normal = min(start + p.avg_size, limit)
            end = limit
            k = np.searchsorted(strict, start + p.min_size - 1)
            if k < strict.shape[0] and strict[k] < normal - 1:
                end = int(strict[k]) + 1
            else:
                k = np.searchsorted(loose, normal - 1)
                if k < loose.shape[0] and loose[k] < limit:
                    end = int(loose[k]) + 1
        ends.append(end)
        start = end
    return np.array(ends, dtype=np.int64)


# --- public API ---------------------------------------------------------------------------------


def cut_points(data: bytes | bytearray | memoryview | np.ndarray, cap: int = DEFAULT_CDC_CAP,
               *, use: str | None = None) -> np.ndarray:  # fmt: skip
    """End offsets of the chunks of ``data`` (the last is ``len(data)``); ``use`` forces a backend."""
    p = CdcParams(cap)
    array = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    if array.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    chosen = use or backend()
    if chosen == "numba":
        return _ends_numba(array, p)
    if chosen != "numpy":
        raise ParameterError(f"unknown CDC backend {chosen!r}; use numba or numpy")
    return _ends_numpy(array, p)


def cdc_spans(
    data: bytes | bytearray | memoryview | np.ndarray, cap: int = DEFAULT_CDC_CAP
) -> list[ChunkSpan]:
    """Chunks of in-memory ``data``."""
    return _spans(cut_points(data, cap))


def file_spans(path: str | os.PathLike[str], cap: int = DEFAULT_CDC_CAP) -> list[ChunkSpan]:
    """Chunks of a file, read through a memory map (the page cache, not the heap, holds the bytes)."""
    CdcParams(cap)
    try:
        with open(path, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            if size == 0:
                raise PayloadError(f"{path} is empty; there is nothing to publish")
            with mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) as view:
                array = np.frombuffer(view, dtype=np.uint8)
                try:
                    return _spans(cut_points(array, cap))
                finally:
                    del array  # the mmap cannot close while a buffer exports it
    except OSError as exc:
        raise PayloadError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _spans(ends: np.ndarray) -> list[ChunkSpan]:
    spans = []
    start = 0
    for end in ends.tolist():
        spans.append(ChunkSpan(start, end - start))
        start = end
    return spans
