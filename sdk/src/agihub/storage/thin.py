"""Thin data packages: which chunks a new version carries, reuses, or stores as deltas.

Given earlier data packages (``bases``: the previous version first, then the packages it reuses),
each chunk of the new file is, in this order of preference:

1. **reused**: a base carries a chunk with its sha256 in full → named in ``reuse.chunks``;
2. **a reused delta**: a base stored a chunk with its sha256 as a delta whose reference and
   delta bytes are both carried by packages among ``bases`` → the same delta entry, pointing at
   its carrier (no bytes carried here; an unchanged chunk of the previous version stays free);
3. **a new delta** (only when a resolver gives the bases' carried files): the chunk is aligned
   with the previous version's chunks (:func:`agihub.storage.delta_chunks.align_references`), and
   when the matched chunk's bytes — or, for a chunk the previous version itself stored as a delta,
   that delta's reference — are carried in full by a base, the zstd delta against them is carried
   instead of the chunk if it is below half the chunk's size;
4. **carried** in full.

References are always chunks a base carries in full, so rebuilding any chunk reads at most one
level of bases (no delta chains): a chunk edited again in the next version is encoded against the
same, older reference, and its delta grows with the edits until a full copy is cheaper.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agihub.storage.chunking import ChunkSpan
from agihub.storage.delta_chunks import align_references, encode_delta, worth_it
from agihub.storage.errors import IntegrityError, PayloadError
from agihub.storage.manifest import DeltaChunk, Reuse, SignedManifest, carried_chunks
from agihub.storage.unpack import BaseResolver, carried_offsets

#: Deltas computed per batch and worker: a batch's deltas are held until written (bounded memory).
_BATCH = 2


@dataclass(frozen=True)
class StoredPiece:
    """One item of the stored stream: ``length`` bytes at ``offset`` of the source file, or of the
    staged delta file when ``delta`` is true."""

    offset: int
    length: int
    delta: bool = False


@dataclass(frozen=True)
class ThinPlan:
    """What a thin package's stream holds (``stored``, in order) and its manifest's ``reuse``."""

    stored: list[StoredPiece]
    reuse: Reuse


@dataclass(frozen=True)
class _Ref:
    """A reference chunk: its sha256 and the base (index into the caller's ``bases``) carrying it."""

    sha256: str
    base: int


@dataclass(frozen=True)
class _Delta:
    """A delta entry in terms of the caller's base indices (``carrier`` None: carried here)."""

    chunk: int
    ref: _Ref
    sha256: str
    length: int
    carrier: int | None


class ThinPlanner:
    """Decides a new data version's thin layout against ``bases`` (see the module docstring).

    ``resolve`` (manifest_id → manifest, carried file) enables new deltas; without it the plan
    only reuses what the bases' manifests name. ``workers`` threads compute deltas (zstd releases
    the GIL).
    """

    def __init__(
        self, bases: Sequence[SignedManifest], resolve: BaseResolver | None = None, workers: int = 1
    ) -> None:
        for base in bases:
            if base.manifest.payload.kind != "data":
                raise PayloadError("only data packages can be reused; a base is a model or delta package")
        bases = list({b.manifest_id.hex(): b for b in bases}.values())  # each once, in order
        self._ids: list[str] = [base.manifest_id.hex() for base in bases]
        self._full: dict[str, int] = {}
        for index, base in enumerate(bases):
            for chunk in carried_chunks(base.manifest):
                self._full.setdefault(chunk.sha256, index)
        position = {mid: i for i, mid in enumerate(self._ids)}
        self._deltas: dict[str, _Delta] = {}
        for index, base in enumerate(bases):
            for digest, delta in _known_deltas(base, index, position):
                self._deltas.setdefault(digest, delta)
        self._previous = bases[0].manifest.chunking.chunks if bases else []
        self._resolve = resolve
        self._workers = max(1, workers)

    def _reference(self, sha256: str) -> _Ref | None:
        """The reference to encode an edit of the chunk ``sha256`` against, if a base has one."""
        if sha256 in self._full:
            return _Ref(sha256, self._full[sha256])
        known = self._deltas.get(sha256)
        return None if known is None else known.ref

    def plan(
        self, src: Path, spans: Sequence[ChunkSpan], digests: Sequence[bytes], delta_file: Path
    ) -> ThinPlan | None:
        """The layout of the new version (None: nothing reusable, pack it in full). New delta bytes
        are written to ``delta_file``, back to back in chunk order."""
        hexes = [d.hex() for d in digests]
        reused: dict[int, int] = {i: self._full[h] for i, h in enumerate(hexes) if h in self._full}
        deltas: dict[int, _Delta] = {}
        for i, h in enumerate(hexes):
            known = self._deltas.get(h)
            if i not in reused and known is not None:
                deltas[i] = _Delta(i, known.ref, known.sha256, known.length, known.carrier)
        pieces: dict[int, StoredPiece] = {}
        if self._resolve is not None and self._previous:
            self._new_deltas(src, spans, hexes, reused, deltas, pieces, delta_file)
        if not reused and not deltas:
            return None
        if len(reused) + sum(d.carrier is not None for d in deltas.values()) == len(spans):
            # A package carries at least one item (its stream is never empty): the last chunk, whole.
            reused.pop(len(spans) - 1, None)
            deltas.pop(len(spans) - 1, None)
            if not reused and not deltas:
                return None  # a one-chunk file a base already has: pack it in full
        return self._layout(spans, reused, deltas, pieces)

    def _new_deltas(
        self,
        src: Path,
        spans: Sequence[ChunkSpan],
        hexes: list[str],
        reused: dict[int, int],
        deltas: dict[int, _Delta],
        pieces: dict[int, StoredPiece],
        delta_file: Path,
    ) -> None:
        old = [(bytes.fromhex(c.sha256), c.length) for c in self._previous]
        refs = [self._reference(c.sha256) for c in self._previous]
        match = align_references(
            [(bytes.fromhex(h), s.length) for h, s in zip(hexes, spans, strict=True)],
            old,
            [r is not None for r in refs],
        )
        todo: list[tuple[int, _Ref]] = []
        for i, j in enumerate(match):
            ref = None if j is None else refs[j]
            if i not in reused and i not in deltas and ref is not None and ref.sha256 != hexes[i]:
                todo.append((i, ref))
        if not todo or self._resolve is None:
            return
        with _Reader(src, self._ids, self._resolve) as reader, delta_file.open("wb") as out:

            def encode(task: tuple[int, _Ref]) -> tuple[int, _Ref, bytes]:
                i, ref = task
                return i, ref, encode_delta(reader.reference(ref), reader.source(spans[i]))

            with ThreadPoolExecutor(self._workers, thread_name_prefix="agihub-delta") as pool:
                step = self._workers * _BATCH
                for start in range(0, len(todo), step):
                    for i, ref, patch in pool.map(encode, todo[start : start + step]):
                        if not worth_it(len(patch), spans[i].length):
                            continue
                        pieces[i] = StoredPiece(out.tell(), len(patch), delta=True)
                        out.write(patch)
                        deltas[i] = _Delta(i, ref, hashlib.sha256(patch).hexdigest(), len(patch), None)

    def _layout(
        self,
        spans: Sequence[ChunkSpan],
        reused: dict[int, int],
        deltas: dict[int, _Delta],
        pieces: dict[int, StoredPiece],
    ) -> ThinPlan:
        used = sorted(
            {*reused.values()}
            | {d.ref.base for d in deltas.values()}
            | {d.carrier for d in deltas.values() if d.carrier is not None}
        )
        renumber = {old: new for new, old in enumerate(used)}
        ranges: list[list[int]] = []
        for i in sorted(reused):
            base = renumber[reused[i]]
            if ranges and ranges[-1][1] == i and ranges[-1][2] == base:
                ranges[-1][1] = i + 1
            else:
                ranges.append([i, i + 1, base])
        entries = [
            DeltaChunk(
                chunk=d.chunk,
                ref=d.ref.sha256,
                ref_base=renumber[d.ref.base],
                sha256=d.sha256,
                length=d.length,
                carrier=None if d.carrier is None else renumber[d.carrier],
            )
            for d in (deltas[i] for i in sorted(deltas))
        ]
        stored = []
        for i, span in enumerate(spans):
            if i in reused:
                continue
            if i not in deltas:
                stored.append(StoredPiece(span.offset, span.length))
            elif deltas[i].carrier is None:
                stored.append(pieces[i])
        reuse = Reuse(bases=[self._ids[u] for u in used], chunks=ranges, deltas=entries or None)
        return ThinPlan(stored, reuse)


def _known_deltas(base: SignedManifest, index: int, position: dict[str, int]) -> list[tuple[str, _Delta]]:
    """A base's delta entries whose reference and carrier are both among the caller's bases, keyed
    by the sha256 of the chunk they rebuild."""
    body = base.manifest
    if body.reuse is None or body.reuse.deltas is None:
        return []
    out = []
    for delta in body.reuse.deltas:
        ref_base = position.get(body.reuse.bases[delta.ref_base])
        carrier = index if delta.carrier is None else position.get(body.reuse.bases[delta.carrier])
        if ref_base is None or carrier is None:
            continue
        digest = body.chunking.chunks[delta.chunk].sha256
        out.append((digest, _Delta(-1, _Ref(delta.ref, ref_base), delta.sha256, delta.length, carrier)))
    return out


class _Reader:
    """Positional reads of the new file's chunks and of reference chunks in the bases' carried
    files (thread-safe: ``os.pread``). Each reference is checked against its sha256, so a corrupt
    base copy cannot yield a delta that will not rebuild."""

    def __init__(self, src: Path, ids: list[str], resolve: BaseResolver) -> None:
        self._src = os.open(src, os.O_RDONLY)
        self._ids = ids
        self._resolve = resolve
        self._bases: dict[int, tuple[int, dict[str, tuple[int, int]]]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._src)
        for fd, _ in self._bases.values():
            os.close(fd)

    def _open(self, base: int) -> tuple[int, dict[str, tuple[int, int]]]:
        with self._lock:  # workers may ask for a base at once; the resolver may rebuild its file
            if base not in self._bases:
                self._bases[base] = self._resolve_base(base)
            return self._bases[base]

    def _resolve_base(self, base: int) -> tuple[int, dict[str, tuple[int, int]]]:
        mid = self._ids[base]
        signed, path = self._resolve(mid)
        if signed.manifest_id.hex() != mid:
            raise IntegrityError(f"base package {mid[:12]} resolved to another manifest")
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise PayloadError(f"cannot read the carried chunks of base package {mid[:12]}: {exc}") from exc
        return fd, carried_offsets(signed.manifest)

    def reference(self, ref: _Ref) -> bytes:
        """The bytes of reference chunk ``ref``, checked."""
        fd, offsets = self._open(ref.base)
        offset, length = offsets[ref.sha256]
        data = _pread(fd, offset, length)
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise IntegrityError(
                f"base package {self._ids[ref.base][:12]}: its carried chunk {ref.sha256[:12]} fails its "
                "sha256 (corrupt local copy); fetch that version again"
            )
        return data

    def source(self, span: ChunkSpan) -> bytes:
        """The new file's bytes of ``span``."""
        data = _pread(self._src, span.offset, span.length)
        if len(data) != span.length:
            raise PayloadError("the input file shrank while it was being packed; pack a stable copy")
        return data


def _pread(fd: int, offset: int, length: int) -> bytes:
    parts, got = [], 0
    while got < length:
        part = os.pread(fd, length - got, offset + got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)
