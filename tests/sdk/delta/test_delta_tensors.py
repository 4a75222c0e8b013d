"""Reading and writing safetensors as raw tensors (agihub.delta.tensors)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file as st_load_numpy
from safetensors.numpy import save_file as st_save_numpy

from agihub.delta.errors import ModelFileError
from agihub.delta.tensors import (
    DTYPES,
    SafetensorsFile,
    Tensor,
    float32_to_bf16_bits,
    load,
    matrix_shape,
    save,
    serialize,
)


def _raw_file(header: object, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def test_reads_files_written_by_safetensors(tmp_path: Path) -> None:
    arrays = {
        "w": np.arange(12, dtype=np.float32).reshape(3, 4),
        "i": np.array([-1, 2, 3], dtype=np.int64),
        "h": np.array([0.5, -2.0], dtype=np.float16),
        "b": np.array([True, False]),
    }
    path = tmp_path / "m.safetensors"
    st_save_numpy(arrays, str(path), metadata={"format": "np"})
    tensors = load(path)
    assert set(tensors) == set(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(tensors[name].array(), array)


def test_serialize_is_readable_by_safetensors_and_canonical(tmp_path: Path) -> None:
    tensors = {"b": Tensor.from_array(np.ones((2, 3), np.float32)), "a": Tensor.from_array(np.arange(5))}
    path = save(tensors, tmp_path / "x.safetensors")
    loaded = st_load_numpy(str(path))
    np.testing.assert_array_equal(loaded["a"], np.arange(5))
    np.testing.assert_array_equal(loaded["b"], np.ones((2, 3), np.float32))
    assert serialize(tensors) == serialize(dict(reversed(list(tensors.items()))))
    assert struct.unpack("<Q", path.read_bytes()[:8])[0] % 8 == 0


def test_bf16_rounding_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [rng.normal(size=2000).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 2000),
         np.array([0.0, -0.0, np.inf, -np.inf, 1.00390625, 1.01171875, 3.4e38], np.float32)]
    )  # fmt: skip
    expected = torch.from_numpy(values).to(torch.bfloat16).view(torch.uint16).numpy()
    np.testing.assert_array_equal(float32_to_bf16_bits(values), expected)
    nan_bits = float32_to_bf16_bits(np.array([np.nan], np.float32))
    assert np.isnan(Tensor("BF16", (1,), nan_bits.tobytes()).to_float()[0])


def test_bf16_float_view_is_exact() -> None:
    bits = np.arange(0, 65536, 7, dtype=np.uint16)
    finite = bits[(bits & 0x7F80) != 0x7F80]  # skip inf/NaN exponents
    tensor = Tensor("BF16", (finite.size,), finite.astype("<u2").tobytes())
    assert Tensor.from_float(tensor.to_float(), "BF16") == tensor


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_every_dtype_round_trips_through_a_file(tmp_path: Path, dtype: str) -> None:
    size = DTYPES[dtype][0]
    data = bytes(range(256))[: 6 * size] * 1
    tensors = {"t": Tensor(dtype, (2, 3), data)}
    assert load(save(tensors, tmp_path / "t.safetensors")) == tensors


def test_tensor_size_must_match_shape() -> None:
    with pytest.raises(ModelFileError, match="needs 8 bytes"):
        Tensor("F32", (2,), b"\x00" * 7)
    with pytest.raises(ModelFileError, match="unsupported safetensors dtype"):
        Tensor("F4", (2,), b"\x00")
    with pytest.raises(ModelFileError, match="no float view"):
        Tensor("I32", (1,), b"\x00" * 4).to_float()
    with pytest.raises(ModelFileError, match="no safetensors equivalent"):
        Tensor.from_array(np.zeros(2, dtype=np.complex64))


BAD_FILES = {
    "too short": b"\x01\x02",
    "header past end": struct.pack("<Q", 999) + b"{}",
    "not json": struct.pack("<Q", 3) + b"{x}",
    "not an object": _raw_file([1, 2]),
    "duplicate key": struct.pack("<Q", 17) + b'{"a":"1","a":"2"}',
    "unknown dtype": _raw_file({"t": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}}, b"\x00"),
    "extra key": _raw_file({"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": 1}}, b"\x00"),
    "wrong size": _raw_file({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\x00" * 4),
    "negative shape": _raw_file({"t": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}),
    "gap": _raw_file({"t": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\x00\x00"),
    "overlap": _raw_file(
        {
            "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
            "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]},
        },
        b"\x00" * 3,
    ),
    "trailing data": _raw_file({"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\x00\x00"),
    "truncated data": _raw_file({"t": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, b"\x00"),
    "bad metadata": _raw_file({"__metadata__": {"k": 1}}),
    # the two parsers agree because there is one: what packaging refuses, the delta codec refuses
    "non-JSON constant": struct.pack("<Q", 14) + b'{"__m__": NaN}',
    "space before the object": struct.pack("<Q", 3) + b" {}",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_malformed_safetensors_are_rejected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(BAD_FILES[name])
    with pytest.raises(ModelFileError):
        SafetensorsFile.open(path)
    assert path.read_bytes() == BAD_FILES[name]


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        SafetensorsFile.open(path)


def test_matrix_shape() -> None:
    assert matrix_shape((4, 3, 2)) == (4, 6)
    assert matrix_shape((7,)) == (1, 7)
    assert matrix_shape(()) == (1, 1)
    assert matrix_shape((0, 5)) == (1, 0)
