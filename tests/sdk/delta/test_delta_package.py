"""The delta file format: determinism, header contents, strict parsing and safe apply."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from agihub.delta import (
    DeltaFormatError,
    ReconstructionError,
    Tensor,
    TruncatedDeltaError,
    UnknownEncodingError,
    WrongParentError,
    apply_delta,
    apply_delta_arrays,
    encode_delta,
    encode_delta_arrays,
    read_header,
)
from agihub.delta.tensors import load, save

Rewrite = Callable[[bytes, Callable[[dict], None]], bytes]


def _models(seed: int = 0) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(32, 48)).astype(np.float32) * 0.05
    parent = {
        "w": Tensor.from_array(w),
        "steps": Tensor.from_array(np.array([100], np.int64)),
        "e": Tensor.from_float(rng.normal(size=(16, 8)).astype(np.float32), "BF16"),
        "dropped": Tensor.from_array(np.ones(3, np.float16)),
    }
    child = {
        "w": Tensor.from_array(w + rng.normal(size=w.shape).astype(np.float32) * 1e-3),
        "steps": Tensor.from_array(np.array([160], np.int64)),
        "e": Tensor.from_float(parent["e"].to_float() * 1.01, "BF16"),
        "added": Tensor.from_array(rng.normal(size=(5,)).astype(np.float32)),
    }
    return parent, child


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    parent, child = _models()
    return save(parent, tmp_path / "parent.safetensors"), save(child, tmp_path / "child.safetensors")


def test_lossless_delta_rebuilds_the_child_file_exactly(files: tuple[Path, Path], tmp_path: Path) -> None:
    parent, child = files
    report = encode_delta(parent, child, tmp_path / "d.delta")
    out = apply_delta(parent, tmp_path / "d.delta", tmp_path / "out.safetensors")
    assert out.read_bytes() == child.read_bytes()
    assert report.child_sha256 == hashlib.sha256(child.read_bytes()).hexdigest()
    assert report.delta_bytes == (tmp_path / "d.delta").stat().st_size
    assert {c.name: c.base for c in report.tensors} == {"added": "zero", "e": "parent", "steps": "parent",
                                                        "w": "parent"}  # fmt: skip


def test_delta_bytes_are_deterministic(files: tuple[Path, Path], tmp_path: Path) -> None:
    parent, child = files
    for mode in ("lossless", "lossy"):
        encode_delta(parent, child, tmp_path / "a.delta", mode=mode)
        encode_delta(parent, child, tmp_path / "b.delta", mode=mode)
        assert (tmp_path / "a.delta").read_bytes() == (tmp_path / "b.delta").read_bytes()


def test_header_names_parent_child_and_every_tensor(files: tuple[Path, Path], tmp_path: Path) -> None:
    parent, child = files
    encode_delta(parent, child, tmp_path / "d.delta", mode="lossy", budget=0.5)
    header = read_header(tmp_path / "d.delta")
    assert header.parent_sha256 == hashlib.sha256(parent.read_bytes()).hexdigest()
    assert header.child_sha256 == hashlib.sha256(child.read_bytes()).hexdigest()
    assert header.mode == "lossy"
    assert [e.name for e in header.tensors] == ["added", "e", "steps", "w"]
    by_name = {e.name: e for e in header.tensors}
    assert by_name["steps"].encoding == "lossless" and by_name["steps"].fidelity is None
    assert by_name["w"].encoding != "lossless" and by_name["w"].fidelity.delta_rel_error <= 0.5
    assert by_name["w"].dtype == "F32" and by_name["w"].shape == (32, 48)
    offsets = [(e.offset, e.length) for e in header.tensors]
    assert [o for o, _ in offsets] == list(np.cumsum([0] + [n for _, n in offsets[:-1]]))


def test_wrong_parent_is_refused_and_output_left_alone(files: tuple[Path, Path], tmp_path: Path) -> None:
    parent, child = files
    encode_delta(parent, child, tmp_path / "d.delta")
    other = save(_models(seed=1)[0], tmp_path / "other.safetensors")
    target = tmp_path / "out.safetensors"
    target.write_bytes(b"previous version")
    with pytest.raises(WrongParentError, match="fetch the named parent"):
        apply_delta(other, tmp_path / "d.delta", target)
    assert target.read_bytes() == b"previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["child.safetensors", "d.delta", "other.safetensors", "out.safetensors", "parent.safetensors"]
    )


def test_child_hash_mismatch_is_refused(
    files: tuple[Path, Path], tmp_path: Path, rewrite_header: Rewrite
) -> None:
    parent, child = files
    encode_delta(parent, child, tmp_path / "d.delta")

    def lie(header: dict) -> None:
        header["child"]["sha256"] = "0" * 64

    (tmp_path / "bad.delta").write_bytes(rewrite_header((tmp_path / "d.delta").read_bytes(), lie))
    with pytest.raises(ReconstructionError, match="rebuilt child hashes to"):
        apply_delta(parent, tmp_path / "bad.delta", tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_in_memory_api_matches_files(files: tuple[Path, Path], tmp_path: Path) -> None:
    parent, child = _models()
    blob, report = encode_delta_arrays(parent, child)
    assert len(blob) == report.delta_bytes
    assert apply_delta_arrays(parent, blob) == child
    with pytest.raises(WrongParentError):
        apply_delta_arrays(_models(seed=1)[0], blob)
    numpy_parent = {"x": np.arange(10, dtype=np.int32)}
    numpy_child = {"x": np.arange(10, dtype=np.int32) * 3}
    blob, _ = encode_delta_arrays(numpy_parent, numpy_child)
    np.testing.assert_array_equal(apply_delta_arrays(numpy_parent, blob)["x"].array(), numpy_child["x"])


def test_lossy_apply_reproduces_declared_fidelity(files: tuple[Path, Path], tmp_path: Path) -> None:
    parent, child = files
    encode_delta(parent, child, tmp_path / "d.delta", mode="lossy", budget=0.3)
    out = load(apply_delta(parent, tmp_path / "d.delta", tmp_path / "out.safetensors"))
    truth, base = load(child), load(parent)
    for entry in read_header(tmp_path / "d.delta").tensors:
        if entry.fidelity is None:
            assert out[entry.name] == truth[entry.name]
            continue
        error = out[entry.name].to_float().astype(np.float64) - truth[entry.name].to_float()
        before = base[entry.name].to_float() if entry.base == "parent" else 0.0
        delta = truth[entry.name].to_float().astype(np.float64) - before
        assert np.linalg.norm(error) / np.linalg.norm(delta) == pytest.approx(entry.fidelity.delta_rel_error)
        assert np.abs(error).max() == pytest.approx(entry.fidelity.max_abs_error)


# --- malformed files -------------------------------------------------------------------------


@pytest.fixture
def delta_bytes(files: tuple[Path, Path], tmp_path: Path) -> bytes:
    parent, child = files
    encode_delta(parent, child, tmp_path / "d.delta", mode="lossy", budget=0.5)
    return (tmp_path / "d.delta").read_bytes()


def _apply_bytes(files: tuple[Path, Path], tmp_path: Path, data: bytes) -> None:
    (tmp_path / "x.delta").write_bytes(data)
    try:
        apply_delta(files[0], tmp_path / "x.delta", tmp_path / "x.safetensors")
    finally:
        assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda d: b"NOTDELTA" + d[8:], DeltaFormatError, "not an agihub delta"),
        (lambda d: d[:8] + struct.pack("<H", 2) + d[10:], UnknownEncodingError, "version 2"),
        (lambda d: d[:10], TruncatedDeltaError, "shorter than the delta prefix"),
        (lambda d: d[:40], TruncatedDeltaError, "header cut"),
        (lambda d: d[:-1], TruncatedDeltaError, "header declares"),
        (lambda d: d + b"\x00", DeltaFormatError, "unexpected bytes"),
        (lambda d: d[:14] + b"\x00" * 8 + d[22:], DeltaFormatError, "header"),
        (lambda d: d[:-5] + bytes([d[-5] ^ 0xFF]) + d[-4:], DeltaFormatError, "fails its sha256"),
    ],
)
def test_malformed_bytes_raise_typed_errors(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes, mutate, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        _apply_bytes(files, tmp_path, mutate(delta_bytes))


def _set(path: tuple, value: object) -> Callable[[dict], None]:
    def edit(header: dict) -> None:
        node = header
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


HEADER_EDITS = [
    (_set(("format",), "other"), UnknownEncodingError, "header format"),
    (_set(("mode",), "fast"), DeltaFormatError, "mode 'fast'"),
    (_set(("parent", "sha256"), "XYZ"), DeltaFormatError, "64 lowercase hex"),
    (_set(("parent", "size"), -1), DeltaFormatError, "size must be"),
    (_set(("child", "header"), "{"), DeltaFormatError, "embedded child safetensors header"),
    (_set(("child", "size"), 10), DeltaFormatError, "embedded child"),
    (_set(("tensors",), []), DeltaFormatError, "tensors list"),
    (_set(("tensors", 0, "encoding"), "wavelet"), UnknownEncodingError, "unknown encoding 'wavelet'"),
    (_set(("tensors", 0, "name"), "renamed"), DeltaFormatError, "disagrees with the child header"),
    (_set(("tensors", 0, "offset"), 1), DeltaFormatError, "not 0"),
    (_set(("tensors", -1, "length"), 10**12), TruncatedDeltaError, "header declares"),
    (_set(("tensors", 0, "base"), "sibling"), DeltaFormatError, "base must be"),
    (_set(("tensors", 0, "shape"), [5.0]), DeltaFormatError, "shape must be"),
    (_set(("tensors", 0, "sha256"), "0" * 63), DeltaFormatError, "payload sha256"),
    (_set(("tensors", 0, "extra"), 1), DeltaFormatError, "exactly keys"),
    (_set(("version",), 9), UnknownEncodingError, "header format"),
    (_set(("extra",), 1), DeltaFormatError, "header must be an object"),
]


@pytest.mark.parametrize(("edit", "error", "message"), HEADER_EDITS)
def test_malformed_headers_raise_typed_errors(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes, rewrite_header: Rewrite,
    edit: Callable[[dict], None], error: type, message: str,
) -> None:  # fmt: skip
    with pytest.raises(error, match=message):
        _apply_bytes(files, tmp_path, rewrite_header(delta_bytes, edit))


def test_lossy_entries_are_refused_in_a_lossless_delta(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes, rewrite_header: Rewrite
) -> None:
    with pytest.raises(DeltaFormatError, match="lossless delta holds lossy encoding"):
        _apply_bytes(files, tmp_path, rewrite_header(delta_bytes, _set(("mode",), "lossless")))


def test_lossy_entry_needs_fidelity_and_lossless_entry_has_none(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes, rewrite_header: Rewrite
) -> None:
    header = read_header_from(delta_bytes, tmp_path)
    lossy = next(i for i, e in enumerate(header.tensors) if e.fidelity is not None)
    plain = next(i for i, e in enumerate(header.tensors) if e.fidelity is None)
    with pytest.raises(DeltaFormatError, match="fidelity"):
        _apply_bytes(files, tmp_path, rewrite_header(delta_bytes, _set(("tensors", lossy, "fidelity"), None)))
    fake = {"rel_error": 0.0, "delta_rel_error": 0.0, "max_abs_error": 0.0}
    with pytest.raises(DeltaFormatError, match="declares no fidelity"):
        _apply_bytes(files, tmp_path, rewrite_header(delta_bytes, _set(("tensors", plain, "fidelity"), fake)))


def test_duplicate_keys_and_nan_are_refused(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes
) -> None:
    import zstandard

    for text, message in ((b'{"a":1,"a":2}', "duplicate key"), (b'{"a":NaN}', "NaN")):
        frame = zstandard.ZstdCompressor(write_checksum=True).compress(text)
        data = delta_bytes[:8] + struct.pack("<HI", 1, len(frame)) + frame
        with pytest.raises(DeltaFormatError, match=message):
            _apply_bytes(files, tmp_path, data)


def test_parent_without_the_named_tensor_is_refused(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes, rewrite_header: Rewrite
) -> None:
    header = read_header_from(delta_bytes, tmp_path)
    added = next(i for i, e in enumerate(header.tensors) if e.name == "added")
    with pytest.raises(DeltaFormatError, match="parent has no such"):
        _apply_bytes(files, tmp_path, rewrite_header(delta_bytes, _set(("tensors", added, "base"), "parent")))


def read_header_from(data: bytes, tmp_path: Path):
    (tmp_path / "h.delta").write_bytes(data)
    return read_header(tmp_path / "h.delta")


def _flip_fuzz(files: tuple[Path, Path], tmp_path: Path, delta: bytes, positions: list[int]) -> None:
    """Any single corrupted byte must end in a DeltaError and no output file."""
    from agihub.delta import DeltaError

    for position in positions:
        data = bytearray(delta)
        data[position % len(data)] ^= 0x5A
        with pytest.raises(DeltaError):
            _apply_bytes(files, tmp_path, bytes(data))


def test_single_byte_corruption_is_always_caught(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes
) -> None:
    rng = np.random.default_rng(0)
    _flip_fuzz(files, tmp_path, delta_bytes, [*range(0, 40), *rng.integers(0, len(delta_bytes), 60).tolist()])


@pytest.mark.slow
def test_every_byte_corruption_is_caught(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes
) -> None:
    _flip_fuzz(files, tmp_path, delta_bytes, list(range(len(delta_bytes))))


def test_header_frame_without_checksum_is_refused(
    files: tuple[Path, Path], tmp_path: Path, delta_bytes: bytes
) -> None:
    import zstandard

    (length,) = struct.unpack_from("<I", delta_bytes, 10)
    text = zstandard.ZstdDecompressor().decompress(delta_bytes[14 : 14 + length])
    frame = zstandard.ZstdCompressor(write_checksum=False).compress(text)
    data = delta_bytes[:10] + struct.pack("<I", len(frame)) + frame + delta_bytes[14 + length :]
    with pytest.raises(DeltaFormatError, match="no checksum"):
        _apply_bytes(files, tmp_path, data)
