"""Pack pipeline: file → chunks → hashes → (encrypt) → stripes → n shard files + signed manifest.

The pipeline streams with a bounded window (two stripe buffers plus one chunk), so memory does
not grow with the model. The package is assembled in a hidden staging directory inside the
output directory; shards are renamed into place, then the manifest last, so a directory with a
manifest always holds a complete package and a failure leaves nothing behind.

Two passes: pass 1 hashes the chunks (so ``model_root``, which every shard header carries, is
known before the first shard byte is written); pass 2 encrypts (private models), erasure-codes and
writes. With ``workers=2`` pass 1 hashes two chunks at a time, and in pass 2 the parity blocks
(zfec, their hashes and writes) are produced on a second thread while this one hashes and writes
the data blocks; hashlib, zfec and file I/O release the GIL. The unpack side is in
:mod:`agihub.storage.unpack`.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from agihub.identity import SecretKey
from agihub.storage.cdc import DEFAULT_CDC_CAP, SCHEME, file_spans
from agihub.storage.chunking import (
    DEFAULT_CHUNK_SIZE,
    ChunkSpan,
    fixed_chunks,
    tensor_chunks,
)
from agihub.storage.crypto import (
    SALT_SIZE,
    SEGMENT_OVERHEAD,
    SegmentCipher,
    derive_version_key,
    version_cipher,
)
from agihub.storage.erasure import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_K,
    DEFAULT_N,
    HEADER_SIZE,
    ShardHeader,
    StripeEncoder,
    check_params,
    choose_block_size,
    stripe_count,
)
from agihub.storage.errors import PayloadError
from agihub.storage.manifest import (
    FORMAT,
    Card,
    Chunk,
    Chunking,
    Encryption,
    Erasure,
    ManifestBody,
    Payload,
    Reuse,
    Shard,
    SignedManifest,
    Tensor,
    package_tag,
    sign_manifest,
    version_label,
)
from agihub.storage.merkle import merkle_root
from agihub.storage.safetensors import SafetensorsHeader, parse_file
from agihub.storage.thin import StoredPiece, ThinPlan, ThinPlanner
from agihub.storage.unpack import BaseResolver

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
#: Staging files of a thin data package: new delta bytes, and the carried file when it is kept.
DELTA_FILE = ".deltas"
CARRIED_FILE = ".carried"


def shard_name(index: int) -> str:
    """File name of shard ``index`` inside a package directory."""
    return f"shard-{index:03d}.bin"


@dataclass(frozen=True)
class PackOptions:
    """Tuning knobs; the defaults are documented in the storage README."""

    k: int = DEFAULT_K
    n: int = DEFAULT_N
    chunk_size: int = DEFAULT_CHUNK_SIZE
    block_size: int = DEFAULT_BLOCK_SIZE
    workers: int = 1


@dataclass
class _Plan:
    kind: str
    spans: list[ChunkSpan]
    tensors: list[Tensor] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    scheme: str = "fixed/1"
    stored: list[StoredPiece] | None = None  # thin data packages: the items the stream holds
    reuse: Reuse | None = None
    #: data packages: (chunk digests, staging dir) → thin layout, decided once the chunks are hashed
    select: Callable[[list[bytes], Path], ThinPlan | None] | None = None
    #: thin data packages: also write the plaintext stored stream (the carried file) here
    keep_carried: Path | None = None


class _StripeSink:
    """Collects the stored stream into stripes and writes each stripe's n blocks to the shards."""

    def __init__(
        self, files: list[BinaryIO], headers: list[bytes], encoder: StripeEncoder, workers: int
    ) -> None:
        self._files = files
        self._encoder = encoder
        self._hashers = [hashlib.sha256(h) for h in headers]
        for f, header in zip(files, headers, strict=True):
            f.write(header)
        size = encoder.k * encoder.block_size
        self._buffers = [bytearray(size), bytearray(size)] if workers > 1 else [bytearray(size)]
        self._pending: list[Future[None] | None] = [None] * len(self._buffers)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="agihub-pack") if workers > 1 else None
        self._current = 0
        self._fill = 0

    def writable(self) -> memoryview:
        """The free tail of the current stripe buffer."""
        return memoryview(self._buffers[self._current])[self._fill :]

    def advance(self, count: int) -> None:
        """Mark ``count`` bytes of :meth:`writable` as filled; full stripes are flushed."""
        self._fill += count
        if self._fill == len(self._buffers[self._current]):
            self._flush()

    def feed(self, data: bytes) -> None:
        """Copy ``data`` into the stream."""
        view = memoryview(data)
        while view:
            target = self.writable()
            take = min(len(target), len(view))
            target[:take] = view[:take]
            view = view[take:]
            self.advance(take)

    def _write_blocks(self, first: int, blocks: Sequence[bytes | memoryview]) -> None:
        for i, block in enumerate(blocks, start=first):
            self._hashers[i].update(block)
            self._files[i].write(block)

    def _write_parity(self, buffer: bytearray) -> None:
        self._write_blocks(self._encoder.k, self._encoder.parity_blocks(buffer))

    def _flush(self) -> None:
        buffer = self._buffers[self._current]
        if self._pool is None:
            self._write_blocks(0, self._encoder.encode(buffer))
        else:
            # Parity (zfec, its hashes and writes) runs on the worker while this thread hashes and
            # writes the data blocks: each shard's hasher and file is only ever touched by one thread.
            self._pending[self._current] = self._pool.submit(self._write_parity, buffer)
            self._write_blocks(0, self._encoder.data_blocks(buffer))
            self._current = (self._current + 1) % len(self._buffers)
            previous = self._pending[self._current]
            if previous is not None:
                previous.result()  # the buffer we are about to refill must be written first
        self._fill = 0

    def finish(self) -> list[bytes]:
        """Zero-pad and flush the last stripe; returns each shard file's sha256."""
        try:
            if self._fill:
                self.writable()[:] = bytes(len(self.writable()))
                self._flush()
            for pending in self._pending:
                if pending is not None:
                    pending.result()
        finally:
            self.close()
        return [h.digest() for h in self._hashers]

    def close(self) -> None:
        """Stop the worker thread (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _plan_safetensors(header: SafetensorsHeader, chunk_size: int) -> _Plan:
    spans = tensor_chunks(header, chunk_size)
    starts = [s.offset for s in spans]
    tensors = []
    for t in header.tensors:
        first, stop = _chunk_range(starts, spans, t.begin, t.end)
        tensors.append(
            Tensor(
                name=t.name,
                dtype=t.dtype,
                shape=list(t.shape),
                begin=t.begin,
                end=t.end,
                chunks=[first, stop],
            )
        )
    return _Plan("safetensors", spans, tensors, dict(header.metadata), "tensor-aligned/1")


def _chunk_range(starts: list[int], spans: list[ChunkSpan], begin: int, end: int) -> tuple[int, int]:
    if end <= begin:
        first = bisect.bisect_right(starts, begin) - 1
        return max(first, 0), max(first, 0)
    first = bisect.bisect_right(starts, begin) - 1
    last = bisect.bisect_right(starts, end - 1) - 1
    return first, last + 1


def _read_exact(stream: BinaryIO, view: memoryview) -> None:
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            raise PayloadError("the input file shrank while it was being packed; pack a stable copy")
        got += n


def _hash_chunks(src_path: Path, spans: list[ChunkSpan], workers: int) -> list[bytes]:
    """First pass: sha256 of every chunk, so model_root is known before any shard header is written.

    Positional reads into one reused buffer per thread (a fresh 4 MiB allocation per chunk costs
    ~15% in page faults). With several workers, chunks are hashed in parallel (hashlib releases
    the GIL); at most ``workers`` chunks are in memory at once.
    """
    fd = os.open(src_path, os.O_RDONLY)
    local = threading.local()
    cap = max(s.length for s in spans)

    def digest(span: ChunkSpan) -> bytes:
        if not hasattr(local, "view"):
            local.view = memoryview(bytearray(cap))
        target = local.view[: span.length]
        got = 0
        while got < span.length:  # a regular file may still return short reads
            count = os.preadv(fd, [target[got:]], span.offset + got)
            if count == 0:
                raise PayloadError("the input file shrank while it was being packed; pack a stable copy")
            got += count
        return hashlib.sha256(target).digest()

    try:
        if workers <= 1:
            return [digest(span) for span in spans]
        with ThreadPoolExecutor(workers, thread_name_prefix="agihub-hash") as pool:
            out: list[bytes] = []
            for start in range(0, len(spans), workers):
                out.extend(pool.map(digest, spans[start : start + workers]))
            return out
    finally:
        os.close(fd)


def _stream_public(src: BinaryIO, size: int, sink: _StripeSink) -> None:
    """Read the payload straight into stripe buffers (no intermediate copy)."""
    remaining = size
    while remaining:
        target = sink.writable()[:remaining]
        _read_exact(src, target)
        remaining -= len(target)
        sink.advance(len(target))


def _stream_private(src: BinaryIO, spans: list[ChunkSpan], sink: _StripeSink, cipher: SegmentCipher) -> None:
    for index, span in enumerate(spans):
        chunk = src.read(span.length)
        if len(chunk) != span.length:
            raise PayloadError("the input file shrank while it was being packed; pack a stable copy")
        sink.feed(cipher.encrypt(index, chunk))


def _stream_selected(
    src: BinaryIO,
    deltas: BinaryIO | None,
    pieces: list[StoredPiece],
    sink: _StripeSink,
    cipher: SegmentCipher | None,
    keep: BinaryIO | None,
) -> None:
    """Feed only the stored items (carried chunks, new deltas); segment indices count items only."""
    for index, piece in enumerate(pieces):
        source = deltas if piece.delta else src
        assert source is not None
        source.seek(piece.offset)
        item = source.read(piece.length)
        if len(item) != piece.length:
            raise PayloadError("the input file shrank while it was being packed; pack a stable copy")
        if keep is not None:
            keep.write(item)
        sink.feed(item if cipher is None else cipher.encrypt(index, item))


def _prepare_out_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if (out_dir / MANIFEST_NAME).exists():
            raise PayloadError(f"{out_dir} already holds a package; choose an empty output directory")
        return Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    except OSError as exc:
        raise PayloadError(f"cannot write the package into {out_dir}: {exc.strerror}") from exc


@dataclass(frozen=True)
class _Encoding:
    shard_digests: list[bytes]
    chunk_digests: list[bytes]
    root: bytes
    block_size: int
    stripes: int
    stream_size: int


def _encode_payload(
    src_path: Path, plan: _Plan, staging: Path, opts: PackOptions, key: tuple[bytes, bytes] | None, tag: bytes
) -> _Encoding:
    before = src_path.stat()
    digests = _hash_chunks(src_path, plan.spans, opts.workers)
    root = merkle_root(digests)
    if plan.select is not None:
        thin = plan.select(digests, staging)
        if thin is not None:
            plan.stored, plan.reuse = thin.stored, thin.reuse
    stored = plan.spans if plan.stored is None else plan.stored
    # The segment count is bound into every segment's associated data, so the cipher is made once
    # the stored items are known.
    cipher = None if key is None else version_cipher(key[0], key[1], len(stored))
    overhead = 0 if cipher is None else SEGMENT_OVERHEAD * len(stored)
    stream_size = sum(s.length for s in stored) + overhead
    block = choose_block_size(stream_size, opts.k, opts.block_size)
    stripes = stripe_count(stream_size, opts.k, block)
    headers = [ShardHeader(opts.k, opts.n, i, block, stripes, root, tag).pack() for i in range(opts.n)]
    files = [(staging / shard_name(i)).open("wb") for i in range(opts.n)]
    try:
        sink = _StripeSink(files, headers, StripeEncoder(opts.k, opts.n, block), opts.workers)
        try:
            with contextlib.ExitStack() as stack:
                src = stack.enter_context(src_path.open("rb"))
                if plan.stored is not None:
                    delta_path = staging / DELTA_FILE
                    deltas = stack.enter_context(delta_path.open("rb")) if delta_path.exists() else None
                    keep = (
                        None
                        if plan.keep_carried is None
                        else stack.enter_context((staging / CARRIED_FILE).open("wb"))
                    )
                    _stream_selected(src, deltas, plan.stored, sink, cipher, keep)
                elif cipher is None:
                    _stream_public(src, plan.spans[-1].end, sink)
                else:
                    _stream_private(src, plan.spans, sink, cipher)
            shard_digests = sink.finish()
        finally:
            sink.close()
    finally:
        for f in files:
            f.close()
    _check_unchanged(src_path, before)
    return _Encoding(shard_digests, digests, root, block, stripes, stream_size)


def _check_unchanged(path: Path, before: os.stat_result) -> None:
    """The two passes must have read the same bytes: refuse a file modified meanwhile."""
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise PayloadError(f"{path} changed while it was being packed; pack a stable copy")


def _build_body(
    plan: _Plan,
    enc: _Encoding,
    opts: PackOptions,
    identity: SecretKey,
    card: Card,
    payload: Payload,
    encryption: Encryption | None,
) -> ManifestBody:
    chunks = [
        Chunk(offset=s.offset, length=s.length, sha256=d.hex())
        for s, d in zip(plan.spans, enc.chunk_digests, strict=True)
    ]
    shard_size = HEADER_SIZE + enc.stripes * enc.block_size
    return ManifestBody(
        format=FORMAT,
        publisher=identity.public_key.hex,
        card=card,
        payload=payload,
        tensors=plan.tensors,
        chunking=Chunking(scheme=plan.scheme, cap=opts.chunk_size, chunks=chunks),  # type: ignore[arg-type]
        model_root=enc.root.hex(),
        encryption=encryption,
        erasure=Erasure(
            k=opts.k, n=opts.n, block_size=enc.block_size, stripes=enc.stripes, stream_size=enc.stream_size
        ),
        shards=[Shard(index=i, sha256=d.hex(), size=shard_size) for i, d in enumerate(enc.shard_digests)],
        reuse=plan.reuse,
    )


def _publish(staging: Path, out_dir: Path, signed: SignedManifest, n: int, keep: Path | None) -> None:
    """Move shards (and a kept carried file) into place, then the manifest last: its presence
    marks a complete package."""
    for i in range(n):
        os.replace(staging / shard_name(i), out_dir / shard_name(i))
    if keep is not None and (staging / CARRIED_FILE).exists():
        shutil.move(staging / CARRIED_FILE, keep)
    tmp = staging / MANIFEST_NAME
    tmp.write_bytes(signed.to_bytes())
    os.replace(tmp, out_dir / MANIFEST_NAME)


def _pack(
    src_path: Path,
    out_dir: Path,
    plan: _Plan,
    identity: SecretKey,
    card: Card,
    payload: Payload,
    opts: PackOptions,
    owner_secret: bytes | None,
) -> SignedManifest:
    check_params(opts.k, opts.n, opts.block_size)
    encryption = key = None
    if owner_secret is not None:
        key_salt = secrets.token_bytes(SALT_SIZE)
        encryption = Encryption(key_salt=key_salt.hex())
        key = (derive_version_key(owner_secret, key_salt, version_label(card)), key_salt)
    staging = _prepare_out_dir(out_dir)
    try:
        enc = _encode_payload(src_path, plan, staging, opts, key, package_tag(encryption))
        body = _build_body(plan, enc, opts, identity, card, payload, encryption)
        signed = sign_manifest(body, identity)
        _publish(staging, out_dir, signed, opts.n, plan.keep_carried)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("packed %s: model_root=%s manifest_id=%s", src_path, enc.root.hex(), signed.manifest_id.hex())
    return signed


def _stat_payload(src: Path) -> int:
    try:
        size = src.stat().st_size
    except OSError as exc:
        raise PayloadError(f"cannot read {src}: {exc}") from exc
    if size == 0:
        raise PayloadError(f"{src} is empty; there is nothing to publish")
    return size


def pack_model(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    identity: SecretKey,
    card: Card,
    *,
    options: PackOptions = PackOptions(),
    owner_secret: bytes | None = None,
) -> SignedManifest:
    """Package a safetensors model: ``out_dir/manifest.json`` plus n shard files.

    With ``owner_secret`` the model is private: shards hold AES-256-GCM ciphertext only.
    """
    src_path = Path(src)
    size = _stat_payload(src_path)
    header = parse_file(src_path)
    plan = _plan_safetensors(header, options.chunk_size)
    payload = Payload(kind="safetensors", size=size, metadata=plan.metadata)
    return _pack(src_path, Path(out_dir), plan, identity, card, payload, options, owner_secret)


def pack_delta(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    identity: SecretKey,
    card: Card,
    *,
    parent_root: bytes,
    delta_encoding: str,
    options: PackOptions = PackOptions(),
    owner_secret: bytes | None = None,
) -> SignedManifest:
    """Package a delta file (produced by agihub.delta) as a version derived from ``parent_root``."""
    if len(parent_root) != 32:
        raise PayloadError(f"parent_root is {len(parent_root)} bytes; a model root is 32")
    src_path = Path(src)
    size = _stat_payload(src_path)
    plan = _Plan("delta", fixed_chunks(size, options.chunk_size))
    payload = Payload(kind="delta", size=size, parent_root=parent_root.hex(), delta_encoding=delta_encoding)
    return _pack(src_path, Path(out_dir), plan, identity, card, payload, options, owner_secret)


def pack_data(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    identity: SecretKey,
    card: Card,
    *,
    cap: int = DEFAULT_CDC_CAP,
    bases: Sequence[SignedManifest] = (),
    resolve: BaseResolver | None = None,
    keep_carried: str | os.PathLike[str] | None = None,
    options: PackOptions = PackOptions(),
    owner_secret: bytes | None = None,
    metadata: dict[str, str] | None = None,
) -> SignedManifest:
    """Package any file (JSONL, Parquet, text, archives) cut by content-defined chunking.

    With ``bases`` (earlier data packages, the previous version of the dataset first, then the
    packages it reuses), the package is *thin*: its shards carry only what no base carries, and its
    manifest's ``reuse`` names the base carrying each other chunk. With ``resolve`` (manifest_id →
    a base's manifest and carried file, as for :func:`agihub.storage.unpack.assemble_data`), a new
    chunk that resembles a chunk of the previous version is carried as a small delta against it
    (:mod:`agihub.storage.thin`). ``model_root`` still covers every chunk of the file. Rebuild with
    :func:`agihub.storage.unpack.unpack` (the carried file) then
    :func:`agihub.storage.unpack.assemble_data` (the whole file).

    ``keep_carried``: when the package is thin, also write its carried file (what ``unpack`` would
    rebuild, plaintext) to this path, so a local store need not unpack its own package; when it is
    not, nothing is written there (the carried file is the input itself).
    """
    src_path = Path(src)
    size = _stat_payload(src_path)
    spans = file_spans(src_path, cap)
    select = None
    if bases:
        planner = ThinPlanner(bases, resolve, options.workers)

        def select(digests: list[bytes], staging: Path) -> ThinPlan | None:
            return planner.plan(src_path, spans, digests, staging / DELTA_FILE)

    plan = _Plan("data", spans, scheme=SCHEME, select=select)
    plan.keep_carried = None if keep_carried is None else Path(keep_carried)
    payload = Payload(kind="data", size=size, metadata=metadata or {})
    return _pack(
        src_path, Path(out_dir), plan, identity, card, payload, replace(options, chunk_size=cap), owner_secret
    )


def pack_file(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    identity: SecretKey,
    card: Card,
    *,
    options: PackOptions = PackOptions(k=1, n=1),
    owner_secret: bytes | None = None,
    metadata: dict[str, str] | None = None,
) -> SignedManifest:
    """Package a small opaque file (code) in fixed chunks; with the default ``k = n = 1`` the
    package is one content-addressed shard plus the signed manifest."""
    src_path = Path(src)
    size = _stat_payload(src_path)
    plan = _Plan("file", fixed_chunks(size, options.chunk_size))
    payload = Payload(kind="file", size=size, metadata=metadata or {})
    return _pack(src_path, Path(out_dir), plan, identity, card, payload, options, owner_secret)
