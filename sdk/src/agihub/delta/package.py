"""The delta file format (version 1) and ``apply_delta``.

Layout (all integers little-endian)::

    magic        8 bytes   b"AGDELTA\\0"
    version      u16       1
    header_len   u32       length of the compressed header
    header       one zstd frame (content size <= MAX_HEADER_BYTES, with checksum) holding
                 canonical JSON (sorted keys, no spaces, UTF-8, no NaN)
    payloads     each tensor's payload, back to back in header order, no gaps, nothing after

The header names the parent (sha256, size), the child (sha256, size and its verbatim
safetensors header, so the rebuilt file is byte-identical) and, per tensor in the child's
data order: name, dtype, shape, base ("parent" or "zero" for a tensor new in the child),
encoding id, params, fidelity (lossy only), payload offset and length (relative to the start of
the payloads) and the payload's sha256. Same inputs and options give the same bytes.
Full description: ``agihub/delta/README.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import zstandard

from agihub.delta import encodings
from agihub.delta.errors import (
    DeltaFormatError,
    ModelFileError,
    ReconstructionError,
    TruncatedDeltaError,
    UnknownEncodingError,
    WrongParentError,
)
from agihub.delta.fidelity import Fidelity
from agihub.delta.lossless import unzstd_bytes, zstd_bytes
from agihub.delta.tensors import SafetensorsFile, Tensor, as_tensors, parse_header, serialize

log = logging.getLogger(__name__)

MAGIC = b"AGDELTA\x00"
VERSION = 1
FORMAT = "agihub-delta"
MODES = ("lossless", "lossy")
BASES = ("parent", "zero")
MAX_HEADER_BYTES = 256 * 1024 * 1024
_PREFIX = struct.Struct("<8sHI")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOP_KEYS = {"child", "format", "mode", "parent", "tensors", "version"}
_ENTRY_KEYS = {
    "base", "dtype", "encoding", "fidelity", "length", "name", "offset", "params", "sha256", "shape",
}  # fmt: skip


@dataclass(frozen=True)
class TensorEntry:
    """One tensor's line in the delta header."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    base: str
    encoding: str
    params: dict[str, object]
    fidelity: Fidelity | None
    offset: int
    length: int
    sha256: str

    def to_json(self) -> dict[str, object]:
        """The header object for this entry."""
        return {
            "base": self.base,
            "dtype": self.dtype,
            "encoding": self.encoding,
            "fidelity": None if self.fidelity is None else self.fidelity.to_json(),
            "length": self.length,
            "name": self.name,
            "offset": self.offset,
            "params": self.params,
            "sha256": self.sha256,
            "shape": list(self.shape),
        }


@dataclass(frozen=True)
class DeltaHeader:
    """The parsed, validated header of a delta file."""

    mode: str
    parent_sha256: str
    parent_size: int
    child_sha256: str
    child_size: int
    child_header: str
    tensors: tuple[TensorEntry, ...]

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes of this header."""
        raw = {
            "child": {"header": self.child_header, "sha256": self.child_sha256, "size": self.child_size},
            "format": FORMAT,
            "mode": self.mode,
            "parent": {"sha256": self.parent_sha256, "size": self.parent_size},
            "tensors": [entry.to_json() for entry in self.tensors],
            "version": VERSION,
        }
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")

    @property
    def payload_size(self) -> int:
        """Total bytes of the payload section."""
        return sum(entry.length for entry in self.tensors)


class DeltaWriter:
    """Collects tensor payloads in a spool file, then writes prefix, header and payloads."""

    def __init__(self) -> None:
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in write_to/close
        self._entries: list[TensorEntry] = []
        self._offset = 0

    def add(self, name: str, tensor: Tensor, base: str, encoding: str, params: dict[str, object],
            fidelity: Fidelity | None, payload: bytes) -> TensorEntry:  # fmt: skip
        """Append one tensor's payload; entries must come in the child's data order."""
        entry = TensorEntry(name, tensor.dtype, tensor.shape, base, encoding, params, fidelity,
                            self._offset, len(payload), hashlib.sha256(payload).hexdigest())  # fmt: skip
        self._spool.write(payload)
        self._offset += len(payload)
        self._entries.append(entry)
        return entry

    def write_to(
        self, dest: BinaryIO, mode: str, parent: SafetensorsFile, child: SafetensorsFile
    ) -> DeltaHeader:
        """Write the whole delta file to ``dest`` and release the spool."""
        header = DeltaHeader(mode, parent.sha256(), parent.size, child.sha256(), child.size,
                             child.header_bytes.decode("utf-8"), tuple(self._entries))  # fmt: skip
        blob = zstd_bytes(header.to_bytes(), level=19, checksum=True)
        dest.write(_PREFIX.pack(MAGIC, VERSION, len(blob)))
        dest.write(blob)
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, dest)
        self.close()
        return header

    def close(self) -> None:
        """Drop the spool file."""
        self._spool.close()


class DeltaReader:
    """A parsed delta file: the validated header plus access to each tensor's payload."""

    def __init__(self, stream: BinaryIO, size: int, source: str) -> None:
        self._stream = stream
        self.source = source
        prefix = stream.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise TruncatedDeltaError(f"{source}: {len(prefix)} bytes is shorter than the delta prefix")
        magic, version, header_len = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise DeltaFormatError(f"{source}: not an agihub delta file (magic {magic!r})")
        if version != VERSION:
            raise UnknownEncodingError(f"{source}: delta format version {version}; this SDK reads {VERSION}")
        blob = stream.read(header_len)
        if len(blob) < header_len:
            raise TruncatedDeltaError(f"{source}: header cut at {len(blob)} of {header_len} bytes")
        self.header = parse_delta_header(_inflate_header(blob, source), source)
        self.payload_start = _PREFIX.size + header_len
        end = self.payload_start + self.header.payload_size
        if size < end:
            raise TruncatedDeltaError(f"{source}: file has {size} bytes, header declares {end}")
        if size > end:
            raise DeltaFormatError(f"{source}: {size - end} unexpected bytes after the last payload")

    def payload(self, entry: TensorEntry) -> bytes:
        """Read one payload and check its sha256."""
        self._stream.seek(self.payload_start + entry.offset)
        data = self._stream.read(entry.length)
        if len(data) != entry.length:
            raise TruncatedDeltaError(f"{self.source}: payload of {entry.name!r} is cut short")
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise DeltaFormatError(f"{self.source}: payload of {entry.name!r} fails its sha256")
        return data


def _inflate_header(frame: bytes, source: str) -> bytes:
    try:
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as exc:
        raise DeltaFormatError(f"{source}: header is not a zstd frame ({exc})") from None
    # Payloads carry their own sha256 in the header; the header itself is guarded by the
    # frame's checksum, so a flipped digit in a lossy scale or fidelity cannot pass unnoticed.
    size = params.content_size
    if not params.has_checksum:
        raise DeltaFormatError(f"{source}: header frame has no checksum")
    if not 0 < size <= MAX_HEADER_BYTES:
        raise DeltaFormatError(f"{source}: header declares {size} bytes; limit {MAX_HEADER_BYTES}")
    return unzstd_bytes(frame, size, f"{source}: header")


def read_header(delta_path: str | os.PathLike[str]) -> DeltaHeader:
    """Parse and validate the header of a delta file (does not read payloads)."""
    with open(delta_path, "rb") as stream:
        return DeltaReader(stream, os.fstat(stream.fileno()).st_size, str(delta_path)).header


def parse_delta_header(blob: bytes, source: str) -> DeltaHeader:
    """Strictly parse header JSON bytes into a :class:`DeltaHeader`."""
    raw = _load_json(blob, source)
    if raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise UnknownEncodingError(f"{source}: header format {raw.get('format')!r} v{raw.get('version')!r}")
    mode = raw["mode"]
    if mode not in MODES:
        raise DeltaFormatError(f"{source}: mode {mode!r} not in {MODES}")
    parent_sha, parent_size = _identity(raw["parent"], {"sha256", "size"}, f"{source}: parent")
    child_sha, child_size = _identity(raw["child"], {"header", "sha256", "size"}, f"{source}: child")
    child_header = raw["child"]["header"]
    if not isinstance(child_header, str):
        raise DeltaFormatError(f"{source}: child header must be a string")
    header_bytes = child_header.encode("utf-8")
    data_size = child_size - 8 - len(header_bytes)
    try:
        infos = parse_header(header_bytes, data_size)
    except ModelFileError as exc:  # a bad embedded child header is a problem of the delta file
        raise DeltaFormatError(f"{source}: embedded child safetensors header: {exc}") from None
    if not isinstance(raw["tensors"], list) or len(raw["tensors"]) != len(infos):
        raise DeltaFormatError(f"{source}: tensors list does not match the child's {len(infos)} tensors")
    entries: list[TensorEntry] = []
    offset = 0
    for info, item in zip(infos, raw["tensors"], strict=True):
        entry = _entry(item, mode, f"{source}: tensor {info.name!r}")
        if (entry.name, entry.dtype, entry.shape) != (info.name, info.dtype, info.shape):
            raise DeltaFormatError(f"{source}: entry {entry.name!r} disagrees with the child header")
        if entry.offset != offset:
            raise DeltaFormatError(f"{source}: payload of {entry.name!r} at {entry.offset}, not {offset}")
        offset += entry.length
        entries.append(entry)
    return DeltaHeader(mode, parent_sha, parent_size, child_sha, child_size, child_header, tuple(entries))


def _load_json(blob: bytes, source: str) -> dict[str, object]:
    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise DeltaFormatError(f"{source}: duplicate key in header JSON")
        return dict(pairs)

    def no_constants(name: str) -> object:
        raise DeltaFormatError(f"{source}: header JSON contains {name}")

    try:
        raw = json.loads(blob.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DeltaFormatError(f"{source}: header is not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or set(raw) != _TOP_KEYS:
        raise DeltaFormatError(f"{source}: header must be an object with keys {sorted(_TOP_KEYS)}")
    return raw


def _identity(raw: object, keys: set[str], what: str) -> tuple[str, int]:
    if not isinstance(raw, dict) or set(raw) != keys:
        raise DeltaFormatError(f"{what} must be an object with keys {sorted(keys)}")
    sha, size = raw["sha256"], raw["size"]
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise DeltaFormatError(f"{what} sha256 must be 64 lowercase hex digits")
    if type(size) is not int or size < 0:
        raise DeltaFormatError(f"{what} size must be an integer >= 0")
    return sha, size


def _entry(item: object, mode: str, what: str) -> TensorEntry:
    if not isinstance(item, dict) or set(item) != _ENTRY_KEYS:
        raise DeltaFormatError(f"{what}: entry must have exactly keys {sorted(_ENTRY_KEYS)}")
    shape, base, encoding = item["shape"], item["base"], item["encoding"]
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise DeltaFormatError(f"{what}: shape must be a list of integers >= 0")
    if base not in BASES or not isinstance(encoding, str):
        raise DeltaFormatError(f"{what}: base must be one of {BASES} and encoding a string")
    for key in ("offset", "length"):
        if type(item[key]) is not int or item[key] < 0:
            raise DeltaFormatError(f"{what}: {key} must be an integer >= 0")
    if not isinstance(item["sha256"], str) or not _SHA256.fullmatch(item["sha256"]):
        raise DeltaFormatError(f"{what}: payload sha256 must be 64 lowercase hex digits")
    encodings.validate(encoding, item["params"], str(item["dtype"]), tuple(shape), base, what)
    if mode == "lossless" and encoding != encodings.LOSSLESS:
        raise DeltaFormatError(f"{what}: lossless delta holds lossy encoding {encoding!r}")
    fidelity = _fidelity(item["fidelity"], encoding, what)
    return TensorEntry(item["name"], item["dtype"], tuple(shape), base, encoding, item["params"],
                       fidelity, item["offset"], item["length"], item["sha256"])  # fmt: skip


def _fidelity(raw: object, encoding: str, what: str) -> Fidelity | None:
    if encoding == encodings.LOSSLESS:
        if raw is not None:
            raise DeltaFormatError(f"{what}: a lossless entry declares no fidelity")
        return None
    return Fidelity.from_json(raw, what)


def apply_delta(
    parent_path: str | os.PathLike[str], delta_path: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> Path:
    """Rebuild the child next to ``out_path``: tensor by tensor into a temp file, then rename.

    Raises :class:`WrongParentError` if the parent is not the one the delta names, and for a
    lossless delta :class:`ReconstructionError` if the result does not hash to the child's sha256.
    On any error ``out_path`` is left as it was.
    """
    target = Path(out_path)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    with open(delta_path, "rb") as stream, SafetensorsFile.open(parent_path) as parent:
        reader = DeltaReader(stream, os.fstat(stream.fileno()).st_size, str(delta_path))
        try:
            with open(tmp, "wb") as out:
                _rebuild(reader, parent, out)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    log.info("applied delta %s onto %s -> %s", delta_path, parent_path, target)
    return target


def apply_delta_arrays(parent: Mapping[str, np.ndarray | Tensor], delta: bytes) -> dict[str, Tensor]:
    """In-memory ``apply_delta``: the parent is the canonical serialisation of ``parent``."""
    parent_file = SafetensorsFile(serialize(as_tensors(parent)), "parent tensors")
    reader = DeltaReader(io.BytesIO(delta), len(delta), "delta bytes")
    out = io.BytesIO()
    _rebuild(reader, parent_file, out)
    child = SafetensorsFile(out.getvalue(), "rebuilt child")
    return {name: child.tensor(name) for name in child}


def _rebuild(reader: DeltaReader, parent: SafetensorsFile, out: BinaryIO) -> None:
    header = reader.header
    if parent.size != header.parent_size or parent.sha256() != header.parent_sha256:
        raise WrongParentError(
            f"{reader.source} was made against parent {header.parent_sha256[:16]}…, "
            f"but {parent.source} hashes to {parent.sha256()[:16]}…; fetch the named parent version"
        )
    digest = hashlib.sha256()
    child_header = header.child_header.encode("utf-8")
    for chunk in (struct.pack("<Q", len(child_header)), child_header):
        out.write(chunk)
        digest.update(chunk)
    for entry in header.tensors:
        tensor = _rebuild_tensor(reader, parent, entry)
        out.write(tensor.data)
        digest.update(tensor.data)
    if header.mode == "lossless" and digest.hexdigest() != header.child_sha256:
        raise ReconstructionError(
            f"{reader.source}: rebuilt child hashes to {digest.hexdigest()[:16]}…, "
            f"declared {header.child_sha256[:16]}…"
        )


def _rebuild_tensor(reader: DeltaReader, parent: SafetensorsFile, entry: TensorEntry) -> Tensor:
    what = f"{reader.source}: tensor {entry.name!r}"
    base: Tensor | None = None
    if entry.base == "parent":
        info = parent.infos.get(entry.name)
        if info is None or (info.dtype, info.shape) != (entry.dtype, entry.shape):
            raise DeltaFormatError(f"{what}: parent has no such {entry.dtype}{list(entry.shape)} tensor")
        base = parent.tensor(entry.name)
    payload = reader.payload(entry)
    return encodings.decode_entry(entry.encoding, entry.params, payload, base, entry.dtype, entry.shape, what)
