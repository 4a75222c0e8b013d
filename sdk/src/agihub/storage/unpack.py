"""Unpack side: check shards on their own, rebuild from any k good ones, read single tensors.

Unpack prefers data shards (a systematic code needs no decoding when they are all present),
checks every rebuilt chunk against the manifest, and when anything fails re-checks the chosen
shards' whole-file hashes: corrupt shards are excluded and others used; with fewer than k good
shards it raises :class:`InsufficientShardsError` naming each bad shard. Output is written to a
temp file beside the destination and renamed into place only after every check passed.

With ``workers=2`` the next stripe is read and its shards hashed on a second thread while the
current one is decoded, decrypted, checked and written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agihub.storage.crypto import SEGMENT_OVERHEAD, SegmentCipher, derive_version_key, version_cipher
from agihub.storage.delta_chunks import decode_delta
from agihub.storage.erasure import HEADER_SIZE, ShardHeader, StripeDecoder, stripe_range
from agihub.storage.errors import (
    DecryptionError,
    InsufficientShardsError,
    IntegrityError,
    PayloadError,
    ShardCorruptError,
    ShardMismatchError,
    StorageError,
)
from agihub.storage.manifest import (
    DeltaChunk,
    ManifestBody,
    SignedManifest,
    Tensor,
    delta_chunks,
    expected_shard_header,
    external_chunks,
    package_tag,
    stored_items,
    version_label,
)

log = logging.getLogger(__name__)


def _prepare_dest(dest: Path) -> None:
    if dest.is_dir():
        raise PayloadError(f"{dest} is a directory; give the path of the file to write")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PayloadError(f"cannot create {dest.parent}: {exc.strerror}") from exc


@dataclass
class ShardStatus:
    """Outcome of checking one shard file; ``ok`` is None when only its header was checked."""

    path: str
    index: int | None
    ok: bool | None
    problem: str | None = None


@dataclass
class VerifyReport:
    """Result of :func:`verify_package`."""

    manifest_id: str
    model_root: str
    k: int
    n: int
    shards: list[ShardStatus]

    @property
    def good(self) -> list[int]:
        """Indices of shards whose header and body both check out."""
        return sorted({s.index for s in self.shards if s.ok and s.index is not None})

    @property
    def recoverable(self) -> bool:
        """True when at least k distinct good shards are present."""
        return len(self.good) >= self.k


def _classify_header(body: ManifestBody, raw: bytes) -> tuple[int | None, str | None]:
    """Shard index and, if the header is wrong for this package, the problem."""
    try:
        header = ShardHeader.unpack(raw)
    except ShardMismatchError as exc:
        return None, str(exc)
    if header.model_root.hex() != body.model_root:
        return header.index, "shard belongs to another model (its model_root differs)"
    if header.index >= body.erasure.n:
        return header.index, f"shard index {header.index} is outside 0..{body.erasure.n - 1}"
    if header.tag != package_tag(body.encryption):
        return header.index, "shard belongs to another package of this model (other encryption or key)"
    if raw[:HEADER_SIZE] != expected_shard_header(body, header.index):
        return header.index, "shard belongs to another erasure layout of this model (k, n or block size)"
    return header.index, None


def _inspect(
    body: ManifestBody, paths: Sequence[str | os.PathLike[str]]
) -> tuple[dict[int, list[Path]], list[ShardStatus]]:
    """Check every header and size; returns usable shard files by index and a status per path.

    Several files may claim one index (copies from different relays); all are kept, in order,
    so a corrupt copy can be replaced by the next one.
    """
    usable: dict[int, list[Path]] = {}
    statuses: list[ShardStatus] = []
    for raw_path in paths:
        path = Path(raw_path)
        try:
            with path.open("rb") as f:
                raw = f.read(HEADER_SIZE)
                size = os.fstat(f.fileno()).st_size
        except OSError as exc:
            statuses.append(ShardStatus(str(path), None, False, f"cannot read: {exc.strerror}"))
            continue
        index, problem = _classify_header(body, raw)
        if problem is None and index is not None and size != body.shards[index].size:
            expected = body.shards[index].size
            problem = f"shard is {size} bytes; the manifest says {expected} (truncated or extended)"
        statuses.append(ShardStatus(str(path), index, False if problem else None, problem))
        if problem is None and index is not None:
            usable.setdefault(index, []).append(path)
    return usable, statuses


def hash_shard(path: Path, window: int = 4 * 1024 * 1024) -> bytes:
    """sha256 of a whole shard file (its blob id on relays), streamed."""
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(window):
            hasher.update(block)
    return hasher.digest()


class _ChunkSink:
    """Consumes the rebuilt stored stream, checks each item's sha256 (a carried chunk, or the delta
    bytes of a chunk stored as a delta), writes plaintext."""

    def __init__(self, body: ManifestBody, out: BinaryIO, cipher: SegmentCipher | None) -> None:
        self._chunks = stored_items(body)
        self._out = out
        self._cipher = cipher
        self._overhead = 0 if cipher is None else SEGMENT_OVERHEAD
        self._index = 0
        self._pending = bytearray()
        self._hasher = hashlib.sha256()
        self._filled = 0

    def _need(self) -> int:
        return self._chunks[self._index].length + self._overhead - self._filled

    def feed(self, data: bytes | memoryview) -> None:
        """Take the next stream bytes; bytes past the last chunk (stripe padding) are ignored."""
        view = memoryview(data)
        while view and self._index < len(self._chunks):
            take = view[: self._need()]
            view = view[len(take) :]
            self._filled += len(take)
            if self._cipher is None:
                self._hasher.update(take)
                self._out.write(take)
            else:
                self._pending += take
            if self._need() == 0:
                self._complete()

    def _complete(self) -> None:
        chunk = self._chunks[self._index]
        if self._cipher is not None:
            plain = self._cipher.decrypt(self._index, bytes(self._pending))
            self._hasher.update(plain)
            self._out.write(plain)
            self._pending.clear()
        if self._hasher.hexdigest() != chunk.sha256:
            what = f"the delta of chunk {chunk.chunk}" if chunk.delta is not None else f"chunk {chunk.chunk}"
            raise IntegrityError(f"{what} rebuilt with a different sha256 than the manifest lists")
        self._index += 1
        self._filled = 0
        self._hasher = hashlib.sha256()

    def finish(self) -> None:
        """Raise unless every chunk was completed."""
        if self._index != len(self._chunks):
            raise IntegrityError(f"stream ended after {self._index} of {len(self._chunks)} chunks")


def _decode_stream(
    body: ManifestBody,
    chosen: dict[int, Path],
    consume: Callable[[bytes | memoryview], None],
    workers: int,
    known: Mapping[int, bytes],
) -> dict[int, bytes]:
    """Rebuild the stored stream stripe by stripe from ``chosen``; returns each shard file's sha256.

    Shards in ``known`` (index → sha256 the caller already checked for that very file) are not
    hashed again; the others are hashed as they are read.
    """
    er = body.erasure
    decoder = StripeDecoder(er.k, er.n)
    hashers = {i: hashlib.sha256() for i in chosen if i not in known}
    files = {i: p.open("rb") for i, p in chosen.items()}
    try:
        for i, f in files.items():
            header = f.read(HEADER_SIZE)
            if i in hashers:
                hashers[i].update(header)
        for blocks in _read_stripes(files, hashers, er.block_size, er.stripes, workers):
            for data_block in decoder.decode(blocks):
                consume(data_block)
    finally:
        for f in files.values():
            f.close()
    return {i: known[i] if i in known else hashers[i].digest() for i in chosen}


def _read_stripes(
    files: dict[int, BinaryIO], hashers: dict[int, Any], block: int, stripes: int, workers: int
) -> Iterator[dict[int, bytes]]:
    """Yield each stripe's blocks, hashing them on the way.

    With two workers the next stripe is read and hashed on a second thread while this one is
    decoded, decrypted, checked and written.
    """

    def read_one() -> dict[int, bytes]:
        out = {i: f.read(block) for i, f in files.items()}
        if any(len(b) != block for b in out.values()):
            raise ShardCorruptError("a shard ended early while it was being read")
        for i, hasher in hashers.items():
            hasher.update(out[i])
        return out

    if workers <= 1:
        for _ in range(stripes):
            yield read_one()
        return
    with ThreadPoolExecutor(1, thread_name_prefix="agihub-unpack") as pool:
        ahead = pool.submit(read_one)
        for s in range(stripes):
            current = ahead.result()
            if s + 1 < stripes:
                ahead = pool.submit(read_one)
            yield current


def _cipher_for(body: ManifestBody, version_key: bytes | None) -> SegmentCipher | None:
    if body.encryption is None:
        return None
    if version_key is None:
        raise DecryptionError(
            "this model is private: pass the version key (or the owner secret with --key-file)"
        )
    return version_cipher(version_key, bytes.fromhex(body.encryption.key_salt), len(stored_items(body)))


def private_version_key(signed: SignedManifest, owner_secret: bytes) -> bytes:
    """Derive a private package's version key from the owner secret."""
    enc = signed.manifest.encryption
    if enc is None:
        raise DecryptionError("this package is public; it has no key")
    return derive_version_key(owner_secret, bytes.fromhex(enc.key_salt), version_label(signed.manifest.card))


def _attempt_rounds(
    body: ManifestBody, usable: dict[int, list[Path]], statuses: list[ShardStatus]
) -> Iterator[dict[int, Path]]:
    """Yield k-subsets of shards to try; the caller marks bad shards in ``usable`` between rounds.

    Data shards (index < k) come first: with all of them present no decoding is needed at all.
    """
    k = body.erasure.k
    while True:
        order = sorted(usable)
        if len(order) < k:
            problems = "; ".join(f"{Path(s.path).name}: {s.problem}" for s in statuses if s.problem)
            raise InsufficientShardsError(
                f"only {len(order)} good shard(s), {k} needed to rebuild"
                + (f" ({problems})" if problems else "")
                + "; fetch more shards from other relays"
            )
        yield {i: usable[i][0] for i in order[:k]}


def _record(statuses: list[ShardStatus], index: int, path: Path, ok: bool) -> None:
    for status in statuses:
        if status.index == index and Path(status.path) == path:
            status.ok = ok
            status.problem = None if ok else "sha256 differs from the manifest (corrupt)"


def _exclude_bad(
    body: ManifestBody,
    chosen: dict[int, Path],
    digests: dict[int, bytes] | None,
    usable: dict[int, list[Path]],
    statuses: list[ShardStatus],
) -> bool:
    """Compare body hashes with the manifest; drop bad shards from ``usable``. True if any was bad."""
    found = False
    for i, path in chosen.items():
        digest = digests[i] if digests is not None else hash_shard(path)
        ok = digest.hex() == body.shards[i].sha256
        _record(statuses, i, path, ok)
        if not ok:
            log.warning("excluding corrupt shard %s (index %d)", path, i)
            usable[i].pop(0)
            if not usable[i]:
                del usable[i]
            found = True
    return found


def unpack(
    signed: SignedManifest,
    shard_paths: Sequence[str | os.PathLike[str]],
    dest: str | os.PathLike[str],
    *,
    version_key: bytes | None = None,
    workers: int = 1,
    verified: Mapping[str | os.PathLike[str], str] | None = None,
) -> list[ShardStatus]:
    """Rebuild the payload at ``dest`` from any k good shards (atomic; nothing partial on error).

    For a thin data package (``reuse`` set) ``dest`` receives the chunks the package carries, back
    to back; :func:`assemble_data` then builds the whole file with the base packages' chunks.

    ``verified`` maps shard files whose whole-file sha256 the caller has just checked (a fetch hashes
    every shard as it arrives) to that sha256; those are not hashed a second time. Every chunk of
    the rebuilt payload is still checked against the manifest.
    """
    body = signed.manifest
    cipher = _cipher_for(body, version_key)
    usable, statuses = _inspect(body, shard_paths)
    trusted = {Path(path): digest for path, digest in (verified or {}).items()}
    dest_path = Path(dest)
    _prepare_dest(dest_path)
    for chosen in _attempt_rounds(body, usable, statuses):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest_path.name}.", suffix=".part", dir=dest_path.parent)
        tmp = Path(tmp_name)
        try:
            known = {
                i: bytes.fromhex(trusted[path])
                for i, path in chosen.items()
                if trusted.get(path) == body.shards[i].sha256
            }
            failure, digests = _try_rebuild(body, chosen, os.fdopen(fd, "wb"), cipher, workers, known)
            if _exclude_bad(body, chosen, digests, usable, statuses):
                continue
            if failure is not None:
                raise failure
            os.replace(tmp, dest_path)
            return statuses
        finally:
            tmp.unlink(missing_ok=True)
    raise AssertionError("unreachable")  # pragma: no cover


def _try_rebuild(
    body: ManifestBody,
    chosen: dict[int, Path],
    out: BinaryIO,
    cipher: SegmentCipher | None,
    workers: int,
    known: Mapping[int, bytes],
) -> tuple[StorageError | None, dict[int, bytes] | None]:
    """One rebuild attempt; a content failure is returned (not raised) so shards can be re-checked."""
    with out:
        sink = _ChunkSink(body, out, cipher)
        try:
            digests = _decode_stream(body, chosen, sink.feed, workers, known)
            sink.finish()
        except (IntegrityError, DecryptionError, ShardCorruptError) as exc:
            return exc, None
    return None, digests


def verify_package(signed: SignedManifest, shard_paths: Sequence[str | os.PathLike[str]]) -> VerifyReport:
    """Check each shard on its own against the (already verified) manifest."""
    body = signed.manifest
    _, statuses = _inspect(body, shard_paths)
    for status in statuses:
        if status.ok is None and status.index is not None:
            digest = hash_shard(Path(status.path))
            _record(
                [status], status.index, Path(status.path), digest.hex() == body.shards[status.index].sha256
            )
    return VerifyReport(signed.manifest_id.hex(), body.model_root, body.erasure.k, body.erasure.n, statuses)


class _StripeReader:
    """Random access to decoded stripes of chosen shards, keeping only the last stripe in memory."""

    def __init__(self, body: ManifestBody, chosen: dict[int, Path]) -> None:
        self._block = body.erasure.block_size
        self._stripe_bytes = body.erasure.k * self._block
        self._decoder = StripeDecoder(body.erasure.k, body.erasure.n)
        self._files = {i: p.open("rb") for i, p in chosen.items()}
        self._cached: tuple[int, bytes] | None = None

    def close(self) -> None:
        """Close the shard files."""
        for f in self._files.values():
            f.close()

    def _stripe(self, s: int) -> bytes:
        if self._cached is None or self._cached[0] != s:
            blocks = {}
            for i, f in self._files.items():
                f.seek(HEADER_SIZE + s * self._block)
                blocks[i] = f.read(self._block)
            self._cached = (s, b"".join(self._decoder.decode(blocks)))
        return self._cached[1]

    def read(self, begin: int, length: int) -> bytes:
        """Stored-stream bytes [begin, begin + length)."""
        out = bytearray()
        pos = begin
        while pos < begin + length:
            s, off = divmod(pos, self._stripe_bytes)
            piece = self._stripe(s)[off : off + begin + length - pos]
            out += piece
            pos += len(piece)
        return bytes(out)


def _read_chunk(body: ManifestBody, reader: _StripeReader, index: int, cipher: SegmentCipher | None) -> bytes:
    chunk = body.chunking.chunks[index]
    overhead = 0 if cipher is None else SEGMENT_OVERHEAD
    stored = reader.read(chunk.offset + overhead * index, chunk.length + overhead)
    plain = stored if cipher is None else cipher.decrypt(index, stored)
    if hashlib.sha256(plain).hexdigest() != chunk.sha256:
        raise IntegrityError(f"chunk {index} rebuilt with a different sha256 than the manifest lists")
    return plain


def _read_selected(
    body: ManifestBody, chosen: dict[int, Path], tensors: list[Tensor], cipher: SegmentCipher | None
) -> dict[str, bytes]:
    reader = _StripeReader(body, chosen)
    try:
        needed = sorted({i for t in tensors for i in range(*t.chunks)})
        plain = {i: _read_chunk(body, reader, i, cipher) for i in needed}
    finally:
        reader.close()
    out: dict[str, bytes] = {}
    for t in tensors:
        first, stop = t.chunks
        if t.end == t.begin:
            out[t.name] = b""
            continue
        joined = b"".join(plain[i] for i in range(first, stop))
        base = body.chunking.chunks[first].offset
        out[t.name] = joined[t.begin - base : t.end - base]
    return out


def plan_tensor_fetch(signed: SignedManifest, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per tensor, the [start, stop) byte range of every shard body that must be fetched.

    The same range is needed from each of the k shards a client downloads from, so a relay
    can serve it with one HTTP Range request per shard.
    """
    body = signed.manifest
    by_name = _select(body, names)
    overhead = 0 if body.encryption is None else SEGMENT_OVERHEAD
    plan = {}
    for name in names:
        first, stop = by_name[name].chunks
        if first == stop:
            plan[name] = (0, 0)
            continue
        chunks = body.chunking.chunks
        begin = chunks[first].offset + overhead * first
        end = chunks[stop - 1].offset + chunks[stop - 1].length + overhead * stop
        stripes = stripe_range(begin, end, body.erasure.k, body.erasure.block_size)
        plan[name] = (stripes.start * body.erasure.block_size, stripes.stop * body.erasure.block_size)
    return plan


def _select(body: ManifestBody, names: Sequence[str]) -> dict[str, Tensor]:
    by_name = {t.name: t for t in body.tensors}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise PayloadError(
            f"no tensor named {missing[0]!r} in this model; list them with `agihub verify --json`"
        )
    return by_name


def read_tensors(
    signed: SignedManifest,
    shard_paths: Sequence[str | os.PathLike[str]],
    names: Sequence[str],
    *,
    version_key: bytes | None = None,
) -> dict[str, bytes]:
    """Raw bytes of the named tensors, reading only the stripes that hold them."""
    body = signed.manifest
    by_name = _select(body, names)
    cipher = _cipher_for(body, version_key)
    usable, statuses = _inspect(body, shard_paths)
    for chosen in _attempt_rounds(body, usable, statuses):
        try:
            return _read_selected(body, chosen, [by_name[n] for n in names], cipher)
        except (IntegrityError, DecryptionError):
            if not _exclude_bad(body, chosen, None, usable, statuses):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


#: Opens the carried file (what :func:`unpack` wrote: the stored items back to back) of a base
#: package: manifest_id → (its verified manifest, the path of its carried file).
BaseResolver = Callable[[str], "tuple[SignedManifest, Path]"]


def _layout(body: ManifestBody) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    chunks: dict[str, tuple[int, int]] = {}
    deltas: dict[str, tuple[int, int]] = {}
    cursor = 0
    for item in stored_items(body):
        (chunks if item.delta is None else deltas).setdefault(item.sha256, (cursor, item.length))
        cursor += item.length
    return chunks, deltas


def carried_offsets(body: ManifestBody) -> dict[str, tuple[int, int]]:
    """sha256 → (offset, length) of each chunk a package carries in full, in its carried file."""
    return _layout(body)[0]


def carried_deltas(body: ManifestBody) -> dict[str, tuple[int, int]]:
    """Delta sha256 → (offset, length) of each delta a package carries, in its carried file."""
    return _layout(body)[1]


class _Carriers:
    """Reads chunks and deltas from this package's carried file and its bases' carried files.

    ``None`` names this package; a base is named by its manifest_id and resolved once.
    """

    def __init__(self, signed: SignedManifest, carried: Path, resolve: BaseResolver) -> None:
        body = signed.manifest
        self._files: dict[str | None, tuple[Path, dict[str, tuple[int, int]], dict[str, tuple[int, int]]]] = {
            None: (carried, *_layout(body))
        }
        for mid in _named_bases(body):
            base, path = resolve(mid)
            if base.manifest_id.hex() != mid:
                raise IntegrityError(f"base package {mid[:12]} resolved to another manifest")
            self._files[mid] = (path, *_layout(base.manifest))
        self._handles: dict[str | None, BinaryIO] = {}

    def read(self, mid: str | None, kind: str, sha256: str, what: str) -> bytes:
        """The chunk (``kind`` "chunk") or delta (``kind`` "delta") with this sha256, unchecked."""
        path, chunks, deltas = self._files[mid]
        found = (chunks if kind == "chunk" else deltas).get(sha256)
        if found is None:
            raise IntegrityError(f"{what}: {where(mid)} does not carry a {kind} with sha256 {sha256[:12]}")
        if mid not in self._handles:
            self._handles[mid] = path.open("rb")
        handle = self._handles[mid]
        handle.seek(found[0])
        return handle.read(found[1])

    def close(self) -> None:
        """Close every opened carried file."""
        for handle in self._handles.values():
            handle.close()


def where(mid: str | None) -> str:
    """How an error message names a package: this one, or a base by its id prefix."""
    return "this package" if mid is None else f"base package {mid[:12]}"


def _named_bases(body: ManifestBody) -> list[str]:
    """The bases a package actually reads from: reuse ranges, delta references and carriers."""
    if body.reuse is None:
        return []
    used = {base for _, _, base in body.reuse.chunks}
    for delta in body.reuse.deltas or []:
        used.add(delta.ref_base)
        if delta.carrier is not None:
            used.add(delta.carrier)
    return [body.reuse.bases[i] for i in sorted(used)]


def _checked(data: bytes, sha256: str, message: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise IntegrityError(message)
    return data


def _rebuild_delta(body: ManifestBody, index: int, delta: DeltaChunk, carriers: _Carriers) -> bytes:
    """Chunk ``index`` from its delta (checked first: it is small) and its reference chunk.

    The reference is hashed only when the rebuilt chunk fails its sha256 (or does not decode), to
    say which input was wrong: the rebuilt chunk's own check already covers a good rebuild.
    """
    assert body.reuse is not None
    chunk = body.chunking.chunks[index]
    what = f"chunk {index}"
    carrier = None if delta.carrier is None else body.reuse.bases[delta.carrier]
    patch = _checked(
        carriers.read(carrier, "delta", delta.sha256, what),
        delta.sha256,
        f"{what}: its delta (from {where(carrier)}) fails its sha256; the stored copy is corrupt — "
        "fetch the version again",
    )
    ref_mid = body.reuse.bases[delta.ref_base]
    reference = carriers.read(ref_mid, "chunk", delta.ref, what)
    try:
        rebuilt = decode_delta(reference, patch, chunk.length, what)
        if hashlib.sha256(rebuilt).hexdigest() == chunk.sha256:
            return rebuilt
        failure = IntegrityError(
            f"{what} rebuilt from its delta fails its sha256 (the delta does not fit reference "
            f"{delta.ref[:12]}); the package is defective — repack it"
        )
    except IntegrityError as exc:
        failure = exc
    _checked(
        reference,
        delta.ref,
        f"{what}: its reference chunk {delta.ref[:12]} in {where(ref_mid)} fails its sha256; the stored "
        "copy is corrupt — fetch the version again",
    )
    raise failure


def assemble_data(
    signed: SignedManifest,
    carried: str | os.PathLike[str],
    resolve: BaseResolver,
    dest: str | os.PathLike[str],
) -> None:
    """Write the whole file of a data package: its carried chunks from ``carried``, every other
    chunk from the base package that carries it, and every chunk stored as a delta rebuilt from its
    reference chunk (in a base) and its delta bytes (here or in a base). Each chunk, reference and
    delta is checked against its sha256 in the manifest (:class:`IntegrityError` names the chunk and
    its source); ``dest`` appears only when all of them passed."""
    body = signed.manifest
    external = external_chunks(body)
    deltas = delta_chunks(body)
    carriers = _Carriers(signed, Path(carried), resolve)
    dest_path = Path(dest)
    _prepare_dest(dest_path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest_path.name}.", suffix=".part", dir=dest_path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for index, chunk in enumerate(body.chunking.chunks):
                    if index in deltas:
                        out.write(_rebuild_delta(body, index, deltas[index], carriers))
                        continue
                    mid = external.get(index)
                    data = carriers.read(mid, "chunk", chunk.sha256, f"chunk {index}")
                    out.write(
                        _checked(
                            data,
                            chunk.sha256,
                            f"chunk {index} (from {where(mid)}) fails its sha256; the stored copy is "
                            "corrupt — fetch the version again",
                        )
                    )
            finally:
                carriers.close()
        os.replace(tmp_name, dest_path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def rebuild_sink(
    signed: SignedManifest, dest: str | os.PathLike[str], out: BinaryIO, version_key: bytes | None = None
) -> Callable[[bytes | memoryview | None], None]:
    """A consumer of the rebuilt stored stream for callers that read the stripes themselves.

    A fetch rebuilds while its shards are still arriving (:mod:`agihub.transfer.stream`); it feeds
    the decoded data blocks in stream order and finally ``None``. Every chunk is checked against
    the manifest and written (decrypted when private) to ``out``; :class:`IntegrityError` on the
    first chunk that differs, or at ``None`` when chunks are missing. ``dest`` is checked the way
    :func:`unpack` checks it; the caller renames ``out`` into place.
    """
    _prepare_dest(Path(dest))
    sink = _ChunkSink(signed.manifest, out, _cipher_for(signed.manifest, version_key))

    def consume(data: bytes | memoryview | None) -> None:
        if data is None:
            sink.finish()
        else:
            sink.feed(data)

    return consume
