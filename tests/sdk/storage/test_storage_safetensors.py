"""The strict safetensors header parser: accepts what the reference library writes, names every defect."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from storage_testlib import raw_safetensors, small_tensors, write_model

from agihub.storage import errors as E
from agihub.storage.safetensors import DTYPE_SIZES, MAX_HEADER_SIZE, parse_bytes, parse_file


def test_reference_file_parses_like_the_reference_reader(tmp_path: Path) -> None:
    tensors = small_tensors()
    path = write_model(tmp_path / "m.safetensors", tensors, {"format": "np", "note": "x"})
    header = parse_file(path)
    assert header.metadata == {"format": "np", "note": "x"}
    assert header.tensors[-1].end == path.stat().st_size
    data = path.read_bytes()
    with safe_open(str(path), framework="numpy") as ref:
        assert sorted(ref.keys()) == sorted(t.name for t in header.tensors)
        for t in header.tensors:
            expected = ref.get_tensor(t.name)
            assert t.shape == expected.shape
            assert data[t.begin : t.end] == expected.tobytes()


def test_every_dtype_size_matches_numpy(tmp_path: Path) -> None:
    arrays = {
        "F16": np.float16,
        "F32": np.float32,
        "F64": np.float64,
        "I8": np.int8,
        "I16": np.int16,
        "I32": np.int32,
        "I64": np.int64,
        "U8": np.uint8,
        "U16": np.uint16,
        "BOOL": np.bool_,
    }
    tensors = {name: np.ones((3, 2), dtype=dt) for name, dt in arrays.items()}
    header = parse_file(write_model(tmp_path / "d.safetensors", tensors))
    for t in header.tensors:
        assert t.dtype == t.name
        assert t.nbytes == 6 * DTYPE_SIZES[t.dtype]


def _entry(dtype: str = "F32", shape: list[int] | None = None, offsets: list[int] | None = None) -> dict:
    return {"dtype": dtype, "shape": shape or [2], "data_offsets": offsets or [0, 8]}


def _prefixed(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


CASES = [
    (b"\x01\x00", E.HeaderLengthError, "8-byte length"),
    (struct.pack("<Q", 0), E.HeaderLengthError, "zero"),
    (struct.pack("<Q", 50) + b"{}", E.HeaderLengthError, "past the end"),
    (struct.pack("<Q", MAX_HEADER_SIZE + 1) + b"{}", E.HeaderLengthError, "limit"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", E.HeaderJsonError, "UTF-8"),
    (struct.pack("<Q", 3) + b"{a}", E.HeaderJsonError, "not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", E.HeaderJsonError, "start with"),
    (_prefixed(b'{"a":1, "a":2}'), E.HeaderJsonError, "repeats"),
    (raw_safetensors({"t": _entry("F33")}, bytes(8)), E.DtypeError, "unknown dtype 'F33'"),
    (raw_safetensors({"t": {**_entry(), "extra": 1}}, bytes(8)), E.TensorEntryError, "exactly"),
    (raw_safetensors({"t": _entry(shape=[True])}, bytes(8)), E.TensorEntryError, "shape"),
    (raw_safetensors({"t": _entry(shape=[-2])}, bytes(8)), E.TensorEntryError, "shape"),
    (raw_safetensors({"t": _entry(offsets=[0])}, bytes(8)), E.TensorEntryError, "data_offsets"),
    (raw_safetensors({"t": _entry(shape=[3])}, bytes(8)), E.ShapeError, "needs 12 bytes"),
    (raw_safetensors({"t": _entry(offsets=[8, 0])}, bytes(8)), E.OffsetError, "backwards"),
    (raw_safetensors({"a": _entry(), "b": _entry(offsets=[4, 12])}, bytes(12)), E.OffsetError, "overlaps"),
    (raw_safetensors({"a": _entry(), "b": _entry(offsets=[12, 20])}, bytes(20)), E.OffsetError, "gap"),
    (raw_safetensors({"t": _entry()}, bytes(4)), E.OffsetError, "past the end"),
    (raw_safetensors({"t": _entry()}, bytes(9)), E.TrailingBytesError, "1 bytes follow"),
    (raw_safetensors({"__metadata__": {"a": 1}}, b""), E.TensorEntryError, "__metadata__"),
    (_prefixed(b'{"a":NaN}'), E.HeaderJsonError, "NaN"),
]


@pytest.mark.parametrize(("data", "error", "problem"), CASES, ids=lambda v: getattr(v, "__name__", None))
def test_malformed_headers_raise_named_errors(data: bytes, error: type[Exception], problem: str) -> None:
    with pytest.raises(error, match=problem):
        parse_bytes(data)


def test_errors_are_storage_errors() -> None:
    from agihub.errors import StorageError

    assert issubclass(E.SafetensorsError, StorageError)


def test_space_padded_header_and_zero_size_tensors_accepted() -> None:
    header = {
        "z": _entry(shape=[0], offsets=[0, 0]),
        "t": _entry(),
        "z2": _entry(shape=[0, 5], offsets=[8, 8]),
    }
    parsed = parse_bytes(raw_safetensors(header, bytes(8), pad_to=8))
    assert [t.name for t in parsed.tensors] == ["z", "t", "z2"]


def test_truncated_reference_file_is_rejected(tmp_path: Path) -> None:
    data = write_model(tmp_path / "m.safetensors", small_tensors()).read_bytes()
    for cut in (4, 100, len(data) - 1):
        with pytest.raises(E.SafetensorsError):
            parse_bytes(data[:cut])
