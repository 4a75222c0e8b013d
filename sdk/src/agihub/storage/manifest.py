"""The signed manifest of a model version: what the bytes are, how they are cut, coded and checked.

Encoding: canonical JSON (RFC 8785 subset): UTF-8, object keys sorted, no insignificant
whitespace, ASCII-only escapes, integers only (a float anywhere is refused), lower-case hex for
bytes. The file ``manifest.json`` is the canonical encoding of ``{"manifest": body, "signature":
hex}`` plus one newline, and a loader refuses any file that is not byte-for-byte canonical, so
every flipped bit is either a parse error, a non-canonical file or a different signed body.

Identifiers
    ``model_root``   Merkle root (see :mod:`agihub.storage.merkle`) over the sha256 of the
                     *plaintext* chunks. It names the model bytes alone: the same file has the same
                     root whatever k, n, block size or encryption, so the chain, a delta's
                     ``parent_root`` and a deduplicating relay all agree on it.
    ``manifest_id``  sha256 of the canonical body: names one *package* of those bytes (one
                     erasure layout, one encryption salt, one publisher).
    ``signature``    BIP-340 Schnorr by ``publisher`` over ``manifest_id``.

A single shard is checkable on its own: verify the signature, then compare the shard's header with
:func:`expected_shard_header` (that names the problem: another model, another layout) and
the whole file's sha256 with ``shards[i].sha256``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    model_serializer,
)

from agihub.identity import IdentityError, PublicKey, SecretKey
from agihub.storage.chunking import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE
from agihub.storage.crypto import SEGMENT_OVERHEAD
from agihub.storage.erasure import HEADER_SIZE, TAG_SIZE, ShardHeader
from agihub.storage.errors import ManifestError, SignatureError
from agihub.storage.merkle import merkle_root

log = logging.getLogger(__name__)

FORMAT = "agihub-manifest/1"
MAX_MANIFEST_SIZE = 64 * 1024 * 1024
MAX_SHARDS = 256  # zfec works in GF(2^8): at most 256 blocks per stripe

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=256)]
UInt = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Card(_Strict):
    """Human metadata shown by hubs; ``version`` is part of a private model's key label."""

    name: Label
    version: Label = "1"
    license: Label | None = None
    base_model: Label | None = None


class Payload(_Strict):
    """The published file. ``kind`` is ``safetensors`` for full models, ``delta`` for a delta file
    (written by agihub.delta) whose ``parent_root`` names the model it applies to, ``data`` for a
    dataset or any other file cut by content-defined chunking (``fastcdc/1``), ``file`` for an
    opaque file in fixed chunks (code)."""

    kind: Literal["safetensors", "delta", "file", "data"]
    size: Annotated[int, Field(ge=1, le=2**63 - 1)]
    parent_root: Hex32 | None = None
    delta_encoding: Label | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class Tensor(_Strict):
    """A tensor's place in the payload; ``chunks`` is the [first, stop) range of chunk indices."""

    name: Label
    dtype: Label
    shape: list[UInt]
    begin: UInt
    end: UInt
    chunks: Annotated[list[UInt], Field(min_length=2, max_length=2)]


class Chunk(_Strict):
    """A plaintext chunk: payload offset, length and sha256."""

    offset: UInt
    length: Annotated[int, Field(ge=1, le=MAX_CHUNK_SIZE)]
    sha256: Hex32


class Chunking(_Strict):
    """How the payload was cut (see :mod:`agihub.storage.chunking`)."""

    scheme: Literal["tensor-aligned/1", "fixed/1", "fastcdc/1"]
    cap: Annotated[int, Field(ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE)]
    chunks: Annotated[list[Chunk], Field(min_length=1)]


class Encryption(_Strict):
    """Private models only. The key is derived, never stored (see :mod:`agihub.storage.crypto`)."""

    scheme: Literal["aes-256-gcm-segments/1"] = "aes-256-gcm-segments/1"
    kdf: Literal["hkdf-sha256/version-key/v1"] = "hkdf-sha256/version-key/v1"
    key_salt: Hex32


class Erasure(_Strict):
    """Stripe layout: the stored stream is cut into stripes of k blocks; shard i holds block i of
    every stripe, back to back. The last stripe is zero-padded."""

    scheme: Literal["zfec-rs/1"] = "zfec-rs/1"
    k: Annotated[int, Field(ge=1, le=MAX_SHARDS)]
    n: Annotated[int, Field(ge=1, le=MAX_SHARDS)]
    block_size: Annotated[int, Field(ge=1, le=2**31)]
    stripes: Annotated[int, Field(ge=1)]
    stream_size: Annotated[int, Field(ge=1, le=2**63 - 1)]


class Shard(_Strict):
    """One shard file: ``sha256`` covers the whole file, header included (its blob id on relays)."""

    index: Annotated[int, Field(ge=0, lt=MAX_SHARDS)]
    sha256: Hex32
    size: UInt


class DeltaChunk(_Strict):
    """A chunk stored as a delta: a zstd frame that rebuilds it with a *reference* chunk as its
    raw-content dictionary (see :mod:`agihub.storage.delta_chunks`).

    ``chunk`` is the index of the chunk it rebuilds (whose sha256 stays in ``chunking.chunks``, so
    the rebuilt bytes are checked like any chunk); ``ref`` is the sha256 of the reference chunk,
    carried in full by package ``bases[ref_base]``; ``sha256``/``length`` name the delta bytes,
    which this package's stored stream carries (``carrier`` null, in chunk order among the carried
    chunks) or which package ``bases[carrier]`` carries already (an unchanged chunk of a version
    that was stored as a delta there).
    """

    chunk: UInt
    ref: Hex32
    ref_base: UInt
    sha256: Hex32
    length: Annotated[int, Field(ge=1, le=MAX_CHUNK_SIZE)]
    carrier: UInt | None


class Reuse(_Strict):
    """A *thin* data package: chunks it does not carry, and the earlier packages that do.

    ``chunks`` lists ``[first, stop, base]`` ranges of chunk indices (sorted, disjoint) whose bytes
    are carried by package ``bases[base]`` (a chunk with the same sha256 among *its* carried
    chunks); every other chunk is carried here, in order, and only those make up the stored stream.
    Like a git thin pack: a new dataset version ships its new chunks and names the rest.

    ``deltas`` (sorted by chunk, disjoint from ``chunks``) lists chunks stored as deltas against a
    similar chunk of a base (:class:`DeltaChunk`): the stored stream holds, in chunk order, each
    chunk carried in full and each delta whose ``carrier`` is null (see :func:`stored_items`).
    ``deltas`` is left out of the encoding when absent, so thin manifests written before it existed
    keep their bytes and ids.
    """

    bases: Annotated[list[Hex32], Field(min_length=1, max_length=4096)]
    chunks: list[Annotated[list[UInt], Field(min_length=3, max_length=3)]]
    deltas: Annotated[list[DeltaChunk], Field(min_length=1)] | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_deltas(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("deltas") is None:
            data.pop("deltas", None)
        return data


class ManifestBody(_Strict):
    """Everything the publisher signs. ``reuse`` (thin data packages only) is left out of the
    encoding when absent, so manifests written before it existed keep their bytes and ids."""

    format: Literal["agihub-manifest/1"]
    publisher: Hex32
    card: Card
    payload: Payload
    tensors: list[Tensor]
    chunking: Chunking
    model_root: Hex32
    encryption: Encryption | None
    erasure: Erasure
    shards: list[Shard]
    reuse: Reuse | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_reuse(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("reuse") is None:
            data.pop("reuse", None)
        return data


class SignedManifest(_Strict):
    """A manifest body and the publisher's BIP-340 signature over its ``manifest_id``."""

    manifest: ManifestBody
    signature: Hex64

    @property
    def manifest_id(self) -> bytes:
        """sha256 of the canonical body bytes."""
        return hashlib.sha256(canonical_json(self.manifest.model_dump(mode="json"))).digest()

    @property
    def model_root(self) -> bytes:
        """The 32-byte id used on chain."""
        return bytes.fromhex(self.manifest.model_root)

    def to_bytes(self) -> bytes:
        """The canonical file bytes."""
        return canonical_json(self.model_dump(mode="json")) + b"\n"


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes; refuses floats so no value has two spellings."""
    _refuse_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode(
        "ascii"
    )


def _refuse_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise ManifestError("manifests hold integers only; a float has several spellings")
    if isinstance(obj, dict):
        for value in obj.values():
            _refuse_floats(value)
    elif isinstance(obj, list):
        for value in obj:
            _refuse_floats(value)


def sign_manifest(body: ManifestBody, key: SecretKey) -> SignedManifest:
    """Sign ``body``; its ``publisher`` must be ``key``'s public key."""
    if body.publisher != key.public_key.hex:
        raise SignatureError("manifest publisher differs from the signing key's public key")
    check_consistency(body)
    digest = hashlib.sha256(canonical_json(body.model_dump(mode="json"))).digest()
    return SignedManifest(manifest=body, signature=key.sign(digest).hex())


def verify_signature(signed: SignedManifest) -> None:
    """Raise :class:`SignatureError` unless the publisher's signature verifies."""
    try:
        publisher = PublicKey.from_hex(signed.manifest.publisher)
    except IdentityError as exc:
        raise SignatureError(f"publisher key is invalid: {exc}") from exc
    if not publisher.verify(bytes.fromhex(signed.signature), signed.manifest_id):
        raise SignatureError(
            "manifest signature does not verify: the manifest was altered or signed by another key"
        )


def strict_json(text: str, error: type[Exception], what: str) -> Any:
    """Parse signed-object JSON, refusing repeated keys and non-integer numbers (each is a second
    spelling of the same object, so it could hide an edit from a canonical-form check) with
    ``error("<what> repeats the key …")`` / ``error("<what> contains the non-integer number …")``."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise error(f"{what} repeats the key {key!r}")
            out[key] = value
        return out

    def no_float(token: str) -> Any:
        raise error(f"{what} contains the non-integer number {token}")

    return json.loads(text, object_pairs_hook=no_duplicates, parse_float=no_float, parse_constant=no_float)


def parse_manifest(data: bytes, *, expected_publisher: str | None = None) -> SignedManifest:
    """Parse, check canonical form, signature and internal consistency of manifest file bytes."""
    if len(data) > MAX_MANIFEST_SIZE:
        raise ManifestError(f"manifest is {len(data)} bytes; the limit is {MAX_MANIFEST_SIZE}")
    try:
        signed = SignedManifest.model_validate(strict_json(data.decode("ascii"), ManifestError, "manifest"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        raise ManifestError(f"manifest is malformed: {_first_line(exc)}") from exc
    if signed.to_bytes() != data:
        raise ManifestError("manifest is not in canonical form (it was edited or re-serialized)")
    verify_signature(signed)
    if expected_publisher is not None and signed.manifest.publisher != expected_publisher:
        raise SignatureError(f"manifest is signed by {signed.manifest.publisher}, not {expected_publisher}")
    check_consistency(signed.manifest)
    return signed


def load_manifest(path: str | os.PathLike[str], *, expected_publisher: str | None = None) -> SignedManifest:
    """Read and fully check ``manifest.json``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_SIZE:
            raise ManifestError(f"manifest {path} is {size} bytes; the limit is {MAX_MANIFEST_SIZE}")
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
    return parse_manifest(data, expected_publisher=expected_publisher)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def external_chunks(body: ManifestBody) -> dict[int, str]:
    """Chunk index → manifest_id of the base package carrying it (empty unless thin)."""
    if body.reuse is None:
        return {}
    out = {}
    for first, stop, base in body.reuse.chunks:
        for index in range(first, stop):
            out[index] = body.reuse.bases[base]
    return out


def delta_chunks(body: ManifestBody) -> dict[int, DeltaChunk]:
    """Chunk index → its delta entry, for the chunks stored as deltas (empty when there are none)."""
    if body.reuse is None or body.reuse.deltas is None:
        return {}
    return {d.chunk: d for d in body.reuse.deltas}


@dataclass(frozen=True)
class StoredItem:
    """One piece of a package's stored stream: a chunk carried in full, or the delta bytes of a
    chunk stored as a delta (``delta`` set). With encryption each item is one segment."""

    chunk: int
    length: int
    sha256: str
    delta: DeltaChunk | None = None


def stored_items(body: ManifestBody) -> list[StoredItem]:
    """The items of the stored stream, in order: what :func:`agihub.storage.unpack.unpack` rebuilds
    (the *carried file*). Chunks reused from bases, and deltas another package carries, are absent."""
    if body.reuse is None:
        return [StoredItem(i, c.length, c.sha256) for i, c in enumerate(body.chunking.chunks)]
    external = external_chunks(body)
    deltas = delta_chunks(body)
    out = []
    for i, chunk in enumerate(body.chunking.chunks):
        if i in external:
            continue
        delta = deltas.get(i)
        if delta is None:
            out.append(StoredItem(i, chunk.length, chunk.sha256))
        elif delta.carrier is None:
            out.append(StoredItem(i, delta.length, delta.sha256, delta))
    return out


def carried_indices(body: ManifestBody) -> list[int]:
    """Indices of the chunks this package's stored stream holds *in full*, in stream order."""
    count = len(body.chunking.chunks)
    if body.reuse is None:
        return list(range(count))
    return [item.chunk for item in stored_items(body) if item.delta is None]


def carried_chunks(body: ManifestBody) -> list[Chunk]:
    """The chunks held in full by the stored stream (all of them unless the package is thin)."""
    if body.reuse is None:
        return list(body.chunking.chunks)
    return [body.chunking.chunks[i] for i in carried_indices(body)]


def stored_length(body: ManifestBody, chunk_index: int) -> int:
    """Bytes chunk ``chunk_index`` occupies in the stored stream (ciphertext adds nonce + tag)."""
    overhead = SEGMENT_OVERHEAD if body.encryption is not None else 0
    return body.chunking.chunks[chunk_index].length + overhead


def stream_size_for(chunks: Sequence[Chunk | StoredItem], encrypted: bool) -> int:
    """Length of the stored stream for these chunks (or stored items)."""
    return sum(c.length for c in chunks) + (SEGMENT_OVERHEAD * len(chunks) if encrypted else 0)


def _check_chunks(body: ManifestBody) -> None:
    cursor = 0
    for i, chunk in enumerate(body.chunking.chunks):
        if chunk.offset != cursor:
            raise ManifestError(f"chunk {i} starts at {chunk.offset}; expected {cursor} (chunks must tile)")
        if chunk.length > body.chunking.cap:
            raise ManifestError(f"chunk {i} is longer than the chunk cap {body.chunking.cap}")
        cursor += chunk.length
    if cursor != body.payload.size:
        raise ManifestError(f"chunks cover {cursor} bytes but the payload is {body.payload.size}")
    digests = [bytes.fromhex(c.sha256) for c in body.chunking.chunks]
    if merkle_root(digests).hex() != body.model_root:
        raise ManifestError("model_root is not the Merkle root of the chunk hashes")


def _exact_cover(chunks: list[Chunk], first: int, stop: int, begin: int, end: int) -> bool:
    """True when chunks [first, stop) are exactly those overlapping bytes [begin, end)."""
    if end == begin:
        return first == stop
    if first >= stop:
        return False
    head, tail = chunks[first], chunks[stop - 1]
    return head.offset <= begin < head.offset + head.length and tail.offset < end <= tail.offset + tail.length


def _check_tensors(body: ManifestBody) -> None:
    chunks = body.chunking.chunks
    for t in body.tensors:
        first, stop = t.chunks
        if not (t.begin <= t.end <= body.payload.size and first <= stop <= len(chunks)):
            raise ManifestError(f"tensor {t.name!r} has an out-of-range byte or chunk range")
        if not _exact_cover(chunks, first, stop, t.begin, t.end):
            raise ManifestError(f"tensor {t.name!r} is not covered exactly by its chunks {first}..{stop}")
    if len({t.name for t in body.tensors}) != len(body.tensors):
        raise ManifestError("tensor names repeat")


def _check_erasure(body: ManifestBody) -> None:
    er = body.erasure
    if not er.k <= er.n:
        raise ManifestError(f"erasure k={er.k} exceeds n={er.n}")
    if er.stream_size != stream_size_for(stored_items(body), body.encryption is not None):
        raise ManifestError("erasure stream_size does not match the chunks")
    if er.stripes != -(-er.stream_size // (er.k * er.block_size)):
        raise ManifestError("erasure stripe count does not match stream size, k and block size")
    if [s.index for s in body.shards] != list(range(er.n)):
        raise ManifestError(f"shards must be listed once each, in order 0..{er.n - 1}")
    for shard in body.shards:
        if shard.size != HEADER_SIZE + er.stripes * er.block_size:
            raise ManifestError(f"shard {shard.index} size does not match the stripe layout")


def _check_reuse(body: ManifestBody) -> None:
    reuse = body.reuse
    if (body.chunking.scheme == "fastcdc/1") != (body.payload.kind == "data"):
        raise ManifestError("a data payload is cut by fastcdc/1, and only a data payload is")
    if reuse is None:
        return
    if body.payload.kind != "data":
        raise ManifestError("only a data payload may reuse chunks of earlier packages")
    if len(set(reuse.bases)) != len(reuse.bases):
        raise ManifestError("reuse lists a base package twice")
    if not reuse.chunks and reuse.deltas is None:
        raise ManifestError("reuse names no reused chunk and no delta; leave reuse out instead")
    cursor = 0
    for first, stop, base in reuse.chunks:
        if not cursor <= first < stop <= len(body.chunking.chunks):
            raise ManifestError(
                f"reuse range {first}..{stop} is empty, unsorted, overlapping or out of range"
            )
        if base >= len(reuse.bases):
            raise ManifestError(
                f"reuse range {first}..{stop} names base {base}; there are {len(reuse.bases)}"
            )
        cursor = stop
    _check_deltas(body)
    if not stored_items(body):
        raise ManifestError("a thin package must carry at least one chunk")


def _check_deltas(body: ManifestBody) -> None:
    """Each delta entry names an existing chunk not reused whole, existing bases, and is smaller
    than the chunk it rebuilds (a larger delta would be a pointless detour)."""
    reuse = body.reuse
    if reuse is None or reuse.deltas is None:
        return
    chunks = body.chunking.chunks
    external = external_chunks(body)
    previous = -1
    for k, delta in enumerate(reuse.deltas):
        field = f"reuse.deltas[{k}]"
        if not previous < delta.chunk < len(chunks):
            raise ManifestError(f"{field}.chunk {delta.chunk} is unsorted, repeated or out of range")
        if delta.chunk in external:
            raise ManifestError(f"{field}.chunk {delta.chunk} is also in a reuse range")
        for name, base in (("ref_base", delta.ref_base), ("carrier", delta.carrier)):
            if base is not None and base >= len(reuse.bases):
                raise ManifestError(f"{field}.{name} names base {base}; there are {len(reuse.bases)}")
        if delta.length >= chunks[delta.chunk].length:
            raise ManifestError(
                f"{field}.length {delta.length} is not smaller than chunk {delta.chunk} "
                f"({chunks[delta.chunk].length} bytes); carry such a chunk in full"
            )
        if delta.ref == chunks[delta.chunk].sha256:
            raise ManifestError(f"{field}.ref is the chunk itself; reuse it instead of a delta")
        previous = delta.chunk


def check_consistency(body: ManifestBody) -> None:
    """Cross-field checks a schema cannot express (tiling, root, stripe arithmetic)."""
    if (body.payload.kind == "delta") != (body.payload.parent_root is not None):
        raise ManifestError("a delta payload needs parent_root, and only a delta payload may have one")
    _check_reuse(body)
    if body.payload.kind == "safetensors" and not body.tensors:
        log.debug("safetensors payload without tensors (an empty model)")
    _check_chunks(body)
    _check_tensors(body)
    _check_erasure(body)


def expected_shard_header(body: ManifestBody, index: int) -> bytes:
    """The exact header bytes shard ``index`` of this package must start with."""
    er = body.erasure
    root = bytes.fromhex(body.model_root)
    return ShardHeader(
        er.k, er.n, index, er.block_size, er.stripes, root, package_tag(body.encryption)
    ).pack()


def package_tag(encryption: Encryption | None) -> bytes:
    """Header tag telling packages of one model apart: the key salt's prefix, zero when public."""
    return bytes(TAG_SIZE) if encryption is None else bytes.fromhex(encryption.key_salt)[:TAG_SIZE]


def version_label(card: Card) -> str:
    """``name@version``: the HKDF label of a private version's key."""
    return f"{card.name}@{card.version}"
