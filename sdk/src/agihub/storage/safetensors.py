"""Strict parser of the safetensors header.

Format (https://huggingface.co/docs/safetensors/index, "Format"): an 8-byte little-endian
unsigned header length N, N bytes of UTF-8 JSON (possibly right-padded with spaces), then the
data section. Each JSON entry maps a tensor name to ``dtype``, ``shape`` and ``data_offsets``
(relative to the data section); the optional ``__metadata__`` maps strings to strings.

The reference loader tolerates a few things a content-addressed store must not: this parser
requires the tensors to tile the data section exactly (no gap, no overlap, no trailing byte), so
one byte string has exactly one meaning and every byte is covered by some tensor's hash.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agihub.storage.errors import (
    DtypeError,
    HeaderJsonError,
    HeaderLengthError,
    OffsetError,
    ShapeError,
    TensorEntryError,
    TrailingBytesError,
)

# Same cap as the reference implementation: a header above 100 MB is refused before reading it.
MAX_HEADER_SIZE = 100_000_000
METADATA_KEY = "__metadata__"

# Bytes per element; sub-byte types are not listed, so they are rejected as unknown.
DTYPE_SIZES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "F64": 8,
    "I64": 8,
    "U64": 8,
}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor: ``begin``/``end`` are absolute byte offsets in the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        """Length of the tensor's bytes."""
        return self.end - self.begin


@dataclass(frozen=True)
class SafetensorsHeader:
    """A parsed, validated header. ``data_start`` = 8 + header length."""

    tensors: tuple[TensorInfo, ...]
    metadata: dict[str, str]
    data_start: int
    file_size: int


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise HeaderJsonError(f"safetensors header repeats the key {key!r}")
        out[key] = value
    return out


def _reject_constant(token: str) -> None:
    raise HeaderJsonError(f"safetensors header contains the non-JSON number {token}")


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TensorEntryError("__metadata__ must map strings to strings")
    return dict(value)


def _parse_entry(name: str, entry: Any, data_start: int) -> TensorInfo:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise TensorEntryError(f"tensor {name!r} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str):
        raise TensorEntryError(f"tensor {name!r} dtype is not a string")
    if dtype not in DTYPE_SIZES:
        raise DtypeError(f"tensor {name!r} has unknown dtype {dtype!r}; known: {sorted(DTYPE_SIZES)}")
    if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
        raise TensorEntryError(f"tensor {name!r} shape must be a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_uint(o) for o in offsets)):
        raise TensorEntryError(f"tensor {name!r} data_offsets must be two non-negative integers")
    begin, end = offsets
    if begin > end:
        raise OffsetError(f"tensor {name!r} data_offsets [{begin}, {end}] run backwards")
    expected = math.prod(shape) * DTYPE_SIZES[dtype]
    if end - begin != expected:
        raise ShapeError(
            f"tensor {name!r} shape {shape} of {dtype} needs {expected} bytes but data_offsets span "
            f"{end - begin}"
        )
    return TensorInfo(name, dtype, tuple(shape), data_start + begin, data_start + end)


def _check_tiling(tensors: list[TensorInfo], data_start: int, file_size: int) -> None:
    """Tensors sorted by offset must cover [data_start, file_size) exactly once."""
    cursor = data_start
    for t in tensors:
        if t.begin < cursor:
            raise OffsetError(f"tensor {t.name!r} overlaps the previous tensor at byte {t.begin}")
        if t.begin > cursor:
            raise OffsetError(f"gap of {t.begin - cursor} bytes before tensor {t.name!r}")
        if t.end > file_size:
            raise OffsetError(f"tensor {t.name!r} ends at byte {t.end}, past the end of file {file_size}")
        cursor = t.end
    if cursor != file_size:
        raise TrailingBytesError(
            f"{file_size - cursor} bytes follow the last tensor; the file is not canonical"
        )


def _read_header_bytes(stream: BinaryIO, file_size: int) -> bytes:
    prefix = stream.read(8)
    if len(prefix) < 8:
        raise HeaderLengthError(f"file is {file_size} bytes; a safetensors file starts with an 8-byte length")
    (length,) = struct.unpack("<Q", prefix)
    if length == 0:
        raise HeaderLengthError("header length is zero; a safetensors header is at least '{}'")
    if length > MAX_HEADER_SIZE:
        raise HeaderLengthError(f"header length {length} exceeds the {MAX_HEADER_SIZE}-byte limit")
    if 8 + length > file_size:
        raise HeaderLengthError(f"header length {length} runs past the end of the {file_size}-byte file")
    raw = stream.read(length)
    if len(raw) != length:
        raise HeaderLengthError("file shrank while its header was read")
    return raw


def _decode_json(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderJsonError(f"header is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    if not text.startswith("{"):
        raise HeaderJsonError("header must start with '{'")
    try:
        obj = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise HeaderJsonError(f"header is not valid JSON: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(obj, dict):
        raise HeaderJsonError("header JSON is not an object")
    return obj


def parse_header(stream: BinaryIO, file_size: int) -> SafetensorsHeader:
    """Read and validate the header at the stream's start; the data section is not read."""
    raw = _read_header_bytes(stream, file_size)
    obj = _decode_json(raw)
    data_start = 8 + len(raw)
    metadata = _parse_metadata(obj.pop(METADATA_KEY)) if METADATA_KEY in obj else {}
    tensors = [_parse_entry(name, entry, data_start) for name, entry in obj.items()]
    # Zero-length tensors may share an offset; ordering by (begin, end) keeps them before their neighbour.
    tensors.sort(key=lambda t: (t.begin, t.end, t.name))
    _check_tiling(tensors, data_start, file_size)
    return SafetensorsHeader(tuple(tensors), metadata, data_start, file_size)


def parse_file(path: str | os.PathLike[str]) -> SafetensorsHeader:
    """Validate the safetensors file at ``path`` (reads only its header)."""
    path = Path(path)
    with path.open("rb") as stream:
        return parse_header(stream, os.fstat(stream.fileno()).st_size)


def parse_bytes(data: bytes) -> SafetensorsHeader:
    """Validate an in-memory safetensors file."""
    return parse_header(io.BytesIO(data), len(data))
