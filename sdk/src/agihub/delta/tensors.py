"""Tensors of a safetensors file as raw little-endian bytes plus dtype and shape.

The delta codec works on bit patterns, so it reads safetensors files itself instead of going
through a framework: every dtype keeps its exact bytes, including ``BF16`` (which numpy lacks and
which is exposed as ``uint16`` bit patterns) and the 8-bit float formats (exposed as ``uint8``).
Format: https://github.com/huggingface/safetensors#format — an 8-byte little-endian header
length, a JSON header, then the tensors' bytes back to back. The header is parsed by the storage
layer's strict parser (:mod:`agihub.storage.safetensors`), so a file is canonical for the delta
codec exactly when it is canonical for packaging.
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from math import prod
from pathlib import Path
from types import TracebackType

import numpy as np

from agihub.delta.errors import ModelFileError
from agihub.storage import safetensors as format_
from agihub.storage.errors import SafetensorsError

MAX_HEADER_BYTES = format_.MAX_HEADER_SIZE
METADATA_KEY = format_.METADATA_KEY

# numpy dtype used to view each safetensors dtype's raw bytes (float formats numpy lacks: bit patterns)
_VIEWS: dict[str, np.dtype] = {
    "BOOL": np.dtype("<u1"),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "F8_E4M3": np.dtype("<u1"),
    "F8_E5M2": np.dtype("<u1"),
    "F8_E8M0": np.dtype("<u1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F64": np.dtype("<f8"),
}
assert set(_VIEWS) == set(format_.DTYPE_SIZES), "every dtype the parser accepts needs a view"
# dtype name -> (item size in bytes, numpy dtype used to view the raw bytes)
DTYPES: dict[str, tuple[int, np.dtype]] = {
    name: (format_.DTYPE_SIZES[name], view) for name, view in _VIEWS.items()
}
# dtypes whose values lossy encodings may approximate (they need float arithmetic)
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
_NUMPY_TO_DTYPE = {
    np.dtype("bool"): "BOOL",
    np.dtype("uint8"): "U8",
    np.dtype("int8"): "I8",
    np.dtype("int16"): "I16",
    np.dtype("uint16"): "U16",
    np.dtype("float16"): "F16",
    np.dtype("int32"): "I32",
    np.dtype("uint32"): "U32",
    np.dtype("float32"): "F32",
    np.dtype("int64"): "I64",
    np.dtype("uint64"): "U64",
    np.dtype("float64"): "F64",
}


def itemsize(dtype: str) -> int:
    """Bytes per element of a safetensors dtype; :class:`ModelFileError` if unsupported."""
    try:
        return DTYPES[dtype][0]
    except KeyError:
        raise ModelFileError(f"unsupported safetensors dtype {dtype!r}") from None


@dataclass(frozen=True)
class Tensor:
    """One tensor: safetensors dtype name, shape and its raw little-endian bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    def __post_init__(self) -> None:
        expected = prod(self.shape) * itemsize(self.dtype)
        if len(self.data) != expected:
            raise ModelFileError(
                f"{self.dtype}{list(self.shape)} needs {expected} bytes, got {len(self.data)}"
            )

    @property
    def numel(self) -> int:
        """Number of elements."""
        return prod(self.shape)

    def array(self) -> np.ndarray:
        """A read-only numpy view of the bytes (``uint16`` bit patterns for BF16, ``uint8`` for F8)."""
        return np.frombuffer(self.data, dtype=DTYPES[self.dtype][1]).reshape(self.shape)

    def to_float(self) -> np.ndarray:
        """Values as float32 (float64 for F64); only for float dtypes."""
        if self.dtype not in FLOAT_DTYPES:
            raise ModelFileError(f"dtype {self.dtype} has no float view")
        raw = self.array()
        if self.dtype == "BF16":
            # bf16 is the top half of an IEEE float32: shift the bit pattern back into place.
            return (raw.astype(np.uint32) << 16).view(np.float32)
        if self.dtype == "F64":
            return raw.copy()
        return raw.astype(np.float32)

    @classmethod
    def from_array(cls, array: np.ndarray) -> Tensor:
        """Wrap a numpy array of a dtype safetensors and numpy share (not BF16: use ``from_float``)."""
        try:
            dtype = _NUMPY_TO_DTYPE[array.dtype.newbyteorder("=")]
        except KeyError:
            raise ModelFileError(f"numpy dtype {array.dtype} has no safetensors equivalent") from None
        data = np.ascontiguousarray(array, dtype=DTYPES[dtype][1]).tobytes()
        return cls(dtype, tuple(int(d) for d in array.shape), data)

    @classmethod
    def from_float(cls, values: np.ndarray, dtype: str) -> Tensor:
        """Round float values to ``dtype`` (round to nearest even, as torch does) and wrap them."""
        if dtype not in FLOAT_DTYPES:
            raise ModelFileError(f"dtype {dtype} is not a float dtype")
        shape = tuple(int(d) for d in values.shape)
        if dtype == "BF16":
            return cls(dtype, shape, float32_to_bf16_bits(values).tobytes())
        return cls(dtype, shape, np.ascontiguousarray(values, dtype=DTYPES[dtype][1]).tobytes())


def float32_to_bf16_bits(values: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 bit patterns (round half to even; NaN stays a quiet NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounding = np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    rounded = ((bits + rounding) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(values)
    if nan.any():
        rounded[nan] = ((bits[nan] >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16)
    return rounded.astype("<u2")


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives inside a safetensors data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def parse_header(header_bytes: bytes, data_size: int) -> list[TensorInfo]:
    """Strictly parse a safetensors JSON header; tensors are returned in data-offset order.

    The storage layer's parser checks it (byte ranges fit dtype x shape and tile the ``data_size``
    bytes of the data section exactly); its errors become :class:`ModelFileError` here.
    """
    prefix = struct.pack("<Q", len(header_bytes))
    try:
        header = format_.parse_header(io.BytesIO(prefix + header_bytes), 8 + len(header_bytes) + data_size)
    except SafetensorsError as exc:
        raise ModelFileError(f"safetensors header: {exc}") from None
    start = header.data_start
    return [TensorInfo(t.name, t.dtype, t.shape, t.begin - start, t.end - start) for t in header.tensors]


class SafetensorsFile:
    """Read access to a safetensors file (memory-mapped) or an in-memory safetensors buffer."""

    def __init__(self, buffer: bytes | mmap.mmap, source: str, closer: object = None) -> None:
        self._buffer = buffer
        self._closer = closer
        self._sha256: str | None = None
        self.source = source
        if len(buffer) < 8:
            raise ModelFileError(f"{source}: {len(buffer)} bytes is too short for a safetensors file")
        (header_len,) = struct.unpack("<Q", buffer[:8])
        if header_len > MAX_HEADER_BYTES or 8 + header_len > len(buffer):
            raise ModelFileError(f"{source}: header length {header_len} exceeds the file or the limit")
        self.header_bytes = bytes(buffer[8 : 8 + header_len])
        self.data_start = 8 + header_len
        infos = parse_header(self.header_bytes, len(buffer) - self.data_start)
        self.infos: dict[str, TensorInfo] = {info.name: info for info in infos}

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> SafetensorsFile:
        """Memory-map ``path`` read-only; use as a context manager to unmap it."""
        handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file: mmap refuses length 0
            handle.close()
            raise ModelFileError(f"{path}: empty file is not a safetensors file") from None
        try:
            return cls(buffer, str(path), closer=(buffer, handle))
        except ModelFileError:
            buffer.close()
            handle.close()
            raise

    def tensor(self, name: str) -> Tensor:
        """Copy one tensor's bytes out of the file."""
        info = self.infos[name]
        data = bytes(self._buffer[self.data_start + info.begin : self.data_start + info.end])
        return Tensor(info.dtype, info.shape, data)

    def __iter__(self) -> Iterator[str]:
        return iter(self.infos)

    def sha256(self) -> str:
        """Hex sha256 of the whole file (computed once)."""
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self._buffer).hexdigest()
        return self._sha256

    @property
    def size(self) -> int:
        """Total size of the file in bytes."""
        return len(self._buffer)

    def close(self) -> None:
        """Release the memory map, if any."""
        if self._closer is not None:
            for part in self._closer:  # type: ignore[attr-defined]
                part.close()
            self._closer = None

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def serialize(tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """Canonical safetensors bytes: tensors sorted by name, compact JSON padded to 8 bytes."""
    names = sorted(tensors)
    header: dict[str, object] = {}
    if metadata:
        header[METADATA_KEY] = dict(sorted(metadata.items()))
    offset = 0
    for name in names:
        tensor = tensors[name]
        end = offset + len(tensor.data)
        header[name] = {"dtype": tensor.dtype, "shape": list(tensor.shape), "data_offsets": [offset, end]}
        offset = end
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # Padding the header with spaces keeps the data section 8-byte aligned, as safetensors does.
    text += b" " * (-len(text) % 8)
    parts = [struct.pack("<Q", len(text)), text, *(tensors[name].data for name in names)]
    return b"".join(parts)


def save(tensors: Mapping[str, Tensor], path: str | os.PathLike[str]) -> Path:
    """Write ``serialize(tensors)`` to ``path`` via a temp file and an atomic rename."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(serialize(tensors))
    os.replace(tmp, target)
    return target


def load(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read every tensor of a safetensors file into memory."""
    with SafetensorsFile.open(path) as st:
        return {name: st.tensor(name) for name in st}


def as_tensors(mapping: Mapping[str, np.ndarray | Tensor]) -> dict[str, Tensor]:
    """Accept numpy arrays or :class:`Tensor` values (the only way to pass BF16) and return Tensors."""
    out: dict[str, Tensor] = {}
    for name, value in mapping.items():
        if not isinstance(name, str) or name == METADATA_KEY:
            raise ModelFileError(f"tensor name {name!r} is not allowed")
        out[name] = value if isinstance(value, Tensor) else Tensor.from_array(np.asarray(value))
    return out


def matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The 2-D view lossy encodings use: first axis as rows, the rest flattened (1 row if < 2-D)."""
    numel = prod(shape)
    if len(shape) < 2 or shape[0] == 0:
        return 1, numel
    return shape[0], numel // shape[0]
