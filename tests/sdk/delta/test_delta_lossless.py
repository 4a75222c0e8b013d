"""Lossless XOR/SUB byte-plane codec: exactness for every dtype, and strict decoding."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agihub.delta import lossless
from agihub.delta.errors import DeltaFormatError, DeltaParameterError
from agihub.delta.tensors import DTYPES, Tensor

SHAPES = st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple)


@st.composite
def tensor_pairs(draw: st.DrawFn) -> tuple[Tensor, Tensor]:
    """A parent tensor and a child of the same dtype/shape: random, perturbed or bit-flipped."""
    dtype = draw(st.sampled_from(sorted(DTYPES)))
    shape = draw(SHAPES)
    size = DTYPES[dtype][0] * int(np.prod(shape, dtype=np.int64))
    parent = draw(st.binary(min_size=size, max_size=size))
    how = draw(st.sampled_from(["random", "flip", "same"]))
    if how == "random":
        child = draw(st.binary(min_size=size, max_size=size))
    elif how == "flip" and size:
        buf = bytearray(parent)
        for index in draw(st.lists(st.integers(0, size - 1), max_size=8)):
            buf[index] ^= draw(st.integers(1, 255))
        child = bytes(buf)
    else:
        child = parent
    return Tensor(dtype, shape, parent), Tensor(dtype, shape, child)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=tensor_pairs(), transform=st.sampled_from(lossless.TRANSFORMS))
def test_every_dtype_round_trips_bit_exactly(pair: tuple[Tensor, Tensor], transform: str) -> None:
    parent, child = pair
    width = DTYPES[child.dtype][0]
    payload = lossless.encode(child.data, parent.data, width, transform)
    assert lossless.decode(payload, parent.data, width, len(child.data), transform, "t") == child.data
    fresh = lossless.encode(child.data, None, width, "xor")
    assert lossless.decode(fresh, None, width, len(child.data), "xor", "t") == child.data


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e4, 1e4, width=32, allow_subnormal=True), min_size=1, max_size=300),
    scale=st.floats(1e-6, 1e-1),
    dtype=st.sampled_from(["F32", "BF16", "F16", "F64"]),
)
def test_float_fine_tunes_round_trip(values: list[float], scale: float, dtype: str) -> None:
    base = np.array(values, dtype=np.float64)
    parent = Tensor.from_float(base, dtype)
    child = Tensor.from_float(base * (1 + scale) + scale, dtype)
    width = DTYPES[dtype][0]
    payload, transform = lossless.encode_best(child.data, parent.data, width)
    assert lossless.decode(payload, parent.data, width, len(child.data), transform, "t") == child.data


def test_sub_beats_xor_on_small_float_steps() -> None:
    rng = np.random.default_rng(0)
    parent = rng.normal(size=20_000).astype(np.float32)
    child = parent * (1 + rng.normal(size=parent.size).astype(np.float32) * 1e-4)
    sizes = {t: len(lossless.encode(child.tobytes(), parent.tobytes(), 4, t)) for t in lossless.TRANSFORMS}
    assert sizes["sub"] < sizes["xor"] < parent.nbytes
    assert lossless.encode_best(child.tobytes(), parent.tobytes(), 4)[1] == "sub"


def test_identical_tensors_compress_to_almost_nothing() -> None:
    data = np.random.default_rng(0).normal(size=50_000).astype(np.float32).tobytes()
    assert len(lossless.encode(data, data, 4, "xor")) < 200


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(DeltaParameterError, match="unknown lossless transform"):
        lossless.encode(b"\x00" * 4, b"\x00" * 4, 4, "add")
    with pytest.raises(DeltaParameterError, match="parent has 8 bytes"):
        lossless.encode(b"\x00" * 4, b"\x00" * 8, 4, "xor")
    with pytest.raises(DeltaParameterError, match="4-byte words"):
        lossless.compress_planes(b"\x00" * 6, 4)


def _payload() -> tuple[bytes, bytes, bytes]:
    parent = np.arange(64, dtype=np.float32).tobytes()
    child = (np.arange(64, dtype=np.float32) + 0.5).tobytes()
    return lossless.encode(child, parent, 4, "xor"), parent, child


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[:3], "plane 0 is missing"),
        (lambda p: p[:-1], "cut short"),
        (lambda p: p + b"\x00", "stray bytes"),
        (lambda p: struct.pack("<I", 5) + b"\x28\xb5\x2f\xfd\x00" + p[9:], "corrupt zstd|declares"),
    ],
)
def test_malformed_payloads_raise_format_errors(mutate, message: str) -> None:
    payload, parent, child = _payload()
    with pytest.raises(DeltaFormatError, match=message):
        lossless.decode(mutate(payload), parent, 4, len(child), "xor", "t")


def test_wrong_declared_size_is_detected() -> None:
    payload, parent, child = _payload()
    with pytest.raises(DeltaFormatError, match="declares 64 bytes, need 32"):
        lossless.decode(payload, parent[:128], 4, 128, "xor", "t")
    with pytest.raises(DeltaFormatError, match="parent tensor has"):
        lossless.decode(payload, parent[:8], 4, len(child), "xor", "t")


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=tensor_pairs(), transform=st.sampled_from(lossless.TRANSFORMS))
def test_every_dtype_round_trips_bit_exactly_long_run(pair: tuple[Tensor, Tensor], transform: str) -> None:
    test_every_dtype_round_trips_bit_exactly.hypothesis.inner_test(pair, transform)
