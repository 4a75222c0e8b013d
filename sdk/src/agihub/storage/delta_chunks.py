"""Delta chunks: a new data chunk stored as a small zstd delta against a similar base chunk.

Deduplication alone reuses a chunk only when it is byte-identical. When 1 % of a dataset's
records are edited at scattered places, every ~1 MiB chunk holds a few edits, so nothing is
identical and a thin package would carry the whole file again. Delta compression after
deduplication (Shilane et al., "WAN optimized replication of backup datasets using
stream-informed delta compression", FAST 2012; Zhang et al., "Finesse", FAST 2019) stores such
a chunk as the difference from a *reference* chunk the reader already has.

Two decisions live here:

* **Which reference** (:func:`align_references`, deterministic, no sampling, no feature sketches):
  the new version is aligned with the previous version's chunk list. Chunks whose sha256 occurs
  exactly once in each list are candidate anchors; the longest run of them in the same order (a
  longest increasing subsequence, as patience diff does) are the anchors. Between two anchors lies
  a gap of new chunks and a gap of old chunks covering the same edited region. A new chunk in a gap
  is matched to the old chunk of that gap overlapping most with its byte range scaled to the old
  gap's length (so small insertions and deletions inside the gap do not shift the match); ties go to
  the earlier chunk. A gap without old bytes (pure insertion) has no reference.
* **The codec** (:func:`encode_delta`, :func:`decode_delta`): a standard zstd frame (RFC 8878)
  compressing the new chunk with the reference chunk's bytes as a raw-content dictionary. Any
  zstd decoder rebuilds it given the reference; the frame records the content size, which must
  equal the chunk's length. Level 1 (zstd's "fast" matcher) with a window covering reference +
  chunk (up to 16 MiB for two 8 MiB chunks) and a hash table sized to the window: the default
  table for a level forgets most of a multi-MiB dictionary. Measured on the JSONL of
  ``tests/benchmarks/bench_cdc.py`` with 1 % of the records edited at scattered places, with
  ~1.3 MiB chunks: default tables at level 3, delta = 3.5 % of the chunk; sized tables at level 3,
  0.080 % at 361 MB/s; at level 1, 0.083 % at 622 MB/s (on random bytes with a few edits: level 1
  0.016 %, level 3 0.13 %). A delta is used only when it is smaller than :data:`MAX_DELTA_SHARE`
  of the chunk; otherwise the chunk is carried in full.

  Known weak spot: text of very low entropy at the scale of a few bytes (say, five words in
  random order) gives every short sequence thousands of earlier copies; zstd's matchers keep the
  most recent one, so they rarely find the aligned place in the reference and the delta is no
  smaller than compressing the chunk alone (~12 % of it there). zstd's long-distance matcher
  does not search dictionaries, so it does not help.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

import zstandard as zstd

from agihub.storage.errors import IntegrityError

#: zstd level: 1 ("fast") with window-sized tables found the edits' surroundings as well as levels
#: 3-19 at 2-100x the speed (the measurements are in the module docstring).
LEVEL = 1
#: A delta is kept only when it is below this share of the chunk's length.
MAX_DELTA_SHARE = 0.5
#: Largest window a delta frame may declare: reference + chunk of two 64 MiB chunks.
MAX_WINDOW_LOG = 27


def _params(reference: int, chunk: int) -> zstd.ZstdCompressionParameters:
    window = min(max((reference + chunk - 1).bit_length(), zstd.WINDOWLOG_MIN), MAX_WINDOW_LOG)
    tables = max(window - 3, zstd.HASHLOG_MIN)
    return zstd.ZstdCompressionParameters.from_level(
        LEVEL,
        window_log=window,
        hash_log=tables,
        chain_log=tables,
        write_content_size=1,
        write_checksum=0,  # the rebuilt chunk is checked against its sha256 instead
        write_dict_id=0,  # a raw-content dictionary has no id
    )


def encode_delta(reference: bytes | memoryview, chunk: bytes | memoryview) -> bytes:
    """The zstd frame that rebuilds ``chunk`` from ``reference`` (see :func:`decode_delta`)."""
    dictionary = zstd.ZstdCompressionDict(bytes(reference), dict_type=zstd.DICT_TYPE_RAWCONTENT)
    compressor = zstd.ZstdCompressor(
        dict_data=dictionary, compression_params=_params(len(reference), len(chunk))
    )
    return compressor.compress(chunk)


def worth_it(delta_length: int, chunk_length: int) -> bool:
    """True when a delta of ``delta_length`` bytes should replace a chunk of ``chunk_length``."""
    return delta_length < MAX_DELTA_SHARE * chunk_length


def decode_delta(reference: bytes, delta: bytes, length: int, what: str) -> bytes:
    """Rebuild a chunk of ``length`` bytes from ``reference`` and its ``delta``.

    The frame header is checked before any allocation (declared content size must be ``length``,
    window at most 2^27), so a hostile frame cannot make the reader allocate more than the chunk.
    Any defect is an :class:`IntegrityError` naming ``what`` (the chunk). The caller still checks
    the result against the chunk's sha256: a frame decoded with the wrong reference gives other
    bytes without a zstd error.
    """
    try:
        frame = zstd.get_frame_parameters(delta)
    except zstd.ZstdError as exc:
        raise IntegrityError(f"{what}: its delta is not a zstd frame ({exc})") from exc
    if frame.content_size != length:
        raise IntegrityError(f"{what}: its delta declares {frame.content_size} bytes; the chunk has {length}")
    if frame.window_size > 1 << MAX_WINDOW_LOG:
        raise IntegrityError(f"{what}: its delta declares a {frame.window_size}-byte window (limit 2^27)")
    dictionary = zstd.ZstdCompressionDict(reference, dict_type=zstd.DICT_TYPE_RAWCONTENT)
    decompressor = zstd.ZstdDecompressor(dict_data=dictionary, max_window_size=1 << MAX_WINDOW_LOG)
    try:
        out = decompressor.decompress(delta, allow_extra_data=False)
    except zstd.ZstdError as exc:
        raise IntegrityError(f"{what}: its delta does not decode ({exc})") from exc
    if len(out) != length:  # pragma: no cover - zstd enforces the declared content size
        raise IntegrityError(f"{what}: its delta rebuilt {len(out)} bytes; the chunk has {length}")
    return out


def _anchors(new: Sequence[bytes], old: Sequence[bytes]) -> list[tuple[int, int]]:
    """(new index, old index) pairs of equal chunks, unique on both sides, in the same order on
    both sides: the longest increasing subsequence of old positions over the unique matches."""
    count_new: dict[bytes, int] = {}
    for digest in new:
        count_new[digest] = count_new.get(digest, 0) + 1
    at_old: dict[bytes, int] = {}
    repeated: set[bytes] = set()
    for j, digest in enumerate(old):
        if digest in at_old:
            repeated.add(digest)
        at_old[digest] = j
    pairs = [
        (i, at_old[d]) for i, d in enumerate(new) if count_new[d] == 1 and d in at_old and d not in repeated
    ]
    # Patience sorting: tails[k] = index in pairs of the smallest old position ending a run of k+1.
    tails: list[int] = []
    tail_values: list[int] = []
    back: list[int] = []
    for p, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tail_values, j)
        back.append(tails[k - 1] if k else -1)
        if k == len(tails):
            tails.append(p)
            tail_values.append(j)
        else:
            tails[k] = p
            tail_values[k] = j
    out: list[tuple[int, int]] = []
    p = tails[-1] if tails else -1
    while p >= 0:
        out.append(pairs[p])
        p = back[p]
    return out[::-1]


def _offsets(lengths: Sequence[int]) -> list[int]:
    return [0, *itertools.accumulate(lengths)]


def align_references(
    new: Sequence[tuple[bytes, int]],
    old: Sequence[tuple[bytes, int]],
    usable: Sequence[bool] | None = None,
) -> list[int | None]:
    """For each new chunk (sha256, length), the index of the old chunk it is most likely an edit of.

    Anchors (equal chunks, see the module docstring) and chunks in gaps without old bytes map to
    None. ``usable[j]`` False excludes old chunk ``j`` as a reference (no base holds its bytes);
    the best-overlapping usable chunk of the gap is taken instead.
    """
    anchors = [(-1, -1), *_anchors([d for d, _ in new], [d for d, _ in old]), (len(new), len(old))]
    new_at, old_at = _offsets([n for _, n in new]), _offsets([n for _, n in old])
    out: list[int | None] = [None] * len(new)
    for (i0, j0), (i1, j1) in itertools.pairwise(anchors):
        if i1 - i0 < 2 or j1 - j0 < 2:
            continue  # no new chunk, or no old bytes, between these anchors
        new_begin, old_begin = new_at[i0 + 1], old_at[j0 + 1]
        new_span, old_span = new_at[i1] - new_begin, old_at[j1] - old_begin
        for i in range(i0 + 1, i1):
            # The new chunk's byte range, scaled onto the old gap.
            lo = (new_at[i] - new_begin) * old_span // new_span + old_begin
            hi = -(-(new_at[i + 1] - new_begin) * old_span // new_span) + old_begin
            first = max(bisect.bisect_right(old_at, lo) - 1, j0 + 1)
            best, best_overlap = None, 0
            for j in range(first, j1):
                if old_at[j] >= hi:
                    break
                overlap = min(hi, old_at[j + 1]) - max(lo, old_at[j])
                if overlap > best_overlap and (usable is None or usable[j]):
                    best, best_overlap = j, overlap
            out[i] = best
    return out
