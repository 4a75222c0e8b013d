"""Tensor-aligned chunking: chunks tile the file, respect the cap and never cut a tensor that fits."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_testlib import raw_safetensors

from agihub.storage.chunking import (
    MIN_CHUNK_SIZE,
    chunks_for_range,
    fixed_chunks,
    tensor_chunks,
)
from agihub.storage.errors import ParameterError, PayloadError
from agihub.storage.safetensors import parse_bytes


def _model(sizes: list[int]) -> bytes:
    header, offset = {}, 0
    for i, size in enumerate(sizes):
        header[f"t{i}"] = {"dtype": "U8", "shape": [size], "data_offsets": [offset, offset + size]}
        offset += size
    return raw_safetensors(header, bytes(offset))


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(0, 700), min_size=0, max_size=12), cap=st.integers(MIN_CHUNK_SIZE, 400))
def test_chunks_tile_respect_cap_and_align(sizes: list[int], cap: int) -> None:
    data = _model(sizes)
    header = parse_bytes(data)
    chunks = tensor_chunks(header, cap)
    assert chunks[0].offset == 0
    assert all(a.end == b.offset for a, b in itertools.pairwise(chunks))
    assert chunks[-1].end == len(data)
    assert all(0 < c.length <= cap for c in chunks)
    starts = {c.offset for c in chunks}
    for t in header.tensors:
        if t.nbytes == 0:
            continue
        covering = chunks_for_range(chunks, t.begin, t.end)
        if t.nbytes <= cap:
            assert len(covering) == 1, "a tensor that fits in the cap must sit in one chunk"
        else:
            assert t.begin in starts, "a large tensor starts a chunk"
        assert chunks[covering.start].offset <= t.begin and chunks[covering.stop - 1].end >= t.end


def test_header_is_its_own_chunk() -> None:
    data = _model([10, 20])
    header = parse_bytes(data)
    chunks = tensor_chunks(header, 1024)
    assert chunks[0].end == header.data_start
    assert len(chunks) == 2


def test_fixed_chunks_and_errors() -> None:
    assert [c.length for c in fixed_chunks(250, 100)] == [100, 100, 50]
    with pytest.raises(PayloadError, match="empty"):
        fixed_chunks(0, 100)
    with pytest.raises(ParameterError, match="chunk size"):
        fixed_chunks(10, 8)
    assert chunks_for_range(fixed_chunks(250, 100), 5, 5) == range(0)
    assert chunks_for_range(fixed_chunks(250, 100), 99, 201) == range(0, 3)


def test_real_model_chunks(tmp_path: Path) -> None:
    from storage_testlib import write_model

    tensors = {"a": np.zeros(1000, np.float32), "b": np.zeros(10, np.float32), "c": np.zeros(10, np.float32)}
    header = parse_bytes(write_model(tmp_path / "m.safetensors", tensors).read_bytes())
    chunks = tensor_chunks(header, 1024)
    # a (4000 bytes) is cut into 1024-byte pieces; b and c (40 bytes each) share one chunk
    assert [c.length for c in chunks[1:]] == [1024, 1024, 1024, 928, 80]
