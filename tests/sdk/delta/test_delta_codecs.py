"""Lossy codecs in isolation: low-rank, k-bit quantisation, top-k, DARE and 1-bit sign."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agihub.delta import encodings, lowrank, quantize, sign, sparse
from agihub.delta.errors import DeltaFormatError, DeltaParameterError, UnknownEncodingError
from agihub.delta.fidelity import Fidelity, measure
from agihub.delta.tensors import Tensor

RNG = np.random.default_rng(42)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_lowrank_recovers_a_low_rank_delta() -> None:
    true = (RNG.normal(size=(48, 5)) @ RNG.normal(size=(5, 40))).astype(np.float32) * 1e-3
    factors = lowrank.factorize(true, true.shape)
    assert lowrank.rank_for_error(factors.s, 1e-3) == 5
    payload, params = lowrank.encode(factors, 5)
    out = lowrank.decode(payload, params, true.shape, "t").reshape(true.shape)
    assert _rel(out, true) < 2e-3  # only float16 storage error remains
    assert len(payload) < true.nbytes / 2


@settings(max_examples=30, deadline=None)
@given(target=st.floats(0.05, 0.9), seed=st.integers(0, 2**16))
def test_rank_for_error_is_the_smallest_rank_meeting_the_target(target: float, seed: int) -> None:
    delta = np.random.default_rng(seed).normal(size=(20, 16)).astype(np.float32)
    factors = lowrank.factorize(delta, delta.shape)
    rank = lowrank.rank_for_error(factors.s, target)

    def error(r: int) -> float:
        approx = (factors.u[:, :r] * factors.s[:r]) @ factors.vt[:r]
        return _rel(approx, delta)

    assert error(rank) <= target + 1e-5
    assert rank == 1 or error(rank - 1) > target - 1e-5


def test_lowrank_rejects_bad_rank() -> None:
    factors = lowrank.factorize(RNG.normal(size=(4, 3)).astype(np.float32), (4, 3))
    with pytest.raises(DeltaParameterError, match="rank 4 outside"):
        lowrank.encode(factors, 4)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("group", [64, 128])
def test_quant_error_is_within_half_a_step(bits: int, group: int) -> None:
    delta = RNG.normal(size=1000).astype(np.float32) * 1e-3
    payload, params = quantize.encode(delta, bits, group)
    out = quantize.decode(payload, params, delta.size, "t")
    padded = np.zeros(-(-delta.size // group) * group, np.float32)
    padded[: delta.size] = delta
    grid = padded.reshape(-1, group)
    step = np.repeat((grid.max(1) - grid.min(1)) / ((1 << bits) - 1), group)[: delta.size]
    # half a step, plus float16 rounding of the stored grid (offset + code * step)
    assert np.all(np.abs(out - delta) <= step * (0.5 + 2**-9 * (1 << bits)) + 1e-3 * 2**-10)
    assert len(payload) <= delta.size * bits / 8 + 4 * (delta.size / group + 1) + 64


def test_quant_error_falls_with_bits() -> None:
    delta = RNG.normal(size=4096).astype(np.float32)
    errors = [
        _rel(quantize.decode(*quantize.encode(delta, b, 64), delta.size, "t"), delta) for b in range(2, 9)
    ]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 0.01


def test_quant_handles_constant_groups() -> None:
    delta = np.full(300, 0.25, np.float32)
    payload, params = quantize.encode(delta, 2, 64)
    np.testing.assert_allclose(quantize.decode(payload, params, 300, "t"), delta, rtol=1e-3)


def test_quant_rejects_bad_settings() -> None:
    with pytest.raises(DeltaParameterError, match=r"bits in 2\.\.8"):
        quantize.encode(np.zeros(4, np.float32), 9, 64)
    with pytest.raises(DeltaParameterError, match="group"):
        quantize.encode(np.zeros(4, np.float32), 4, 100)


def test_topk_keeps_exactly_the_largest_values() -> None:
    delta = RNG.normal(size=5000).astype(np.float32)
    count = sparse.keep_for_error(delta, 0.3)
    payload, params = sparse.encode_topk(delta, count)
    out = sparse.decode_topk(payload, params, delta.size, "t")
    kept = np.flatnonzero(out)
    assert kept.size == count
    assert np.abs(delta[kept]).min() >= np.abs(np.delete(delta, kept)).max()
    np.testing.assert_allclose(out[kept], delta[kept], rtol=1e-3)
    exact = delta.copy()
    exact[np.setdiff1d(np.arange(delta.size), kept)] = 0
    assert (
        _rel(exact, delta) <= 0.3 < _rel(np.where(np.abs(delta) > np.abs(delta[kept]).min(), delta, 0), delta)
    )


def test_topk_rejects_bad_count_and_corrupt_indices() -> None:
    with pytest.raises(DeltaParameterError, match="count 0"):
        sparse.encode_topk(np.ones(4, np.float32), 0)
    payload, params = sparse.encode_topk(np.arange(1, 9, dtype=np.float32), 3)
    with pytest.raises(DeltaFormatError, match="outside 6 values"):
        sparse.decode_topk(payload, params, 6, "t")
    with pytest.raises(DeltaFormatError, match="too short"):
        sparse.decode_topk(b"\x01", params, 8, "t")


def test_dare_mask_is_deterministic_and_unbiased() -> None:
    mask = sparse.dare_mask(200_000, 0.75, seed=7)
    assert np.array_equal(mask, sparse.dare_mask(200_000, 0.75, seed=7))
    assert not np.array_equal(mask, sparse.dare_mask(200_000, 0.75, seed=8))
    assert abs(mask.mean() - 0.25) < 0.005
    delta = RNG.normal(size=200_000).astype(np.float32)
    payload, params = sparse.encode_dare(delta, 0.75, 7)
    out = sparse.decode_dare(payload, params, delta.size, "t")
    np.testing.assert_allclose(out[mask], delta[mask] * 4, rtol=1e-3)
    assert not out[~mask].any()
    assert abs(out.sum() - delta.sum()) < 0.05 * np.abs(delta).sum()  # rescaling keeps the mean
    with pytest.raises(DeltaParameterError):
        sparse.encode_dare(delta, 1.0, 7)


def test_dare_count_mismatch_is_detected() -> None:
    payload, params = sparse.encode_dare(np.ones(100, np.float32), 0.5, 1)
    with pytest.raises(DeltaFormatError, match="mask keeps"):
        sparse.decode_dare(payload, {**params, "count": params["count"] + 1}, 100, "t")


def test_sign_uses_mean_magnitude_per_row() -> None:
    delta = RNG.normal(size=(8, 100)).astype(np.float32) * np.arange(1, 9, dtype=np.float32)[:, None]
    payload, params = sign.encode(delta, delta.shape)
    out = sign.decode(payload, params, delta.shape, "t").reshape(delta.shape)
    np.testing.assert_array_equal(np.sign(out), np.where(delta >= 0, 1, -1))
    np.testing.assert_allclose(np.abs(out).mean(1), np.abs(delta).mean(1), rtol=1e-3)
    assert len(payload) < delta.size / 8 + 2 * 8 + 64


PARAM_CASES = [
    ("quant", {"bits": 4, "group": 64}, "params keys"),
    ("quant", {"bits": 4.0, "group": 64, "scale": 1.0}, "must be int"),
    ("quant", {"bits": 1, "group": 64, "scale": 1.0}, "outside 2..8"),
    ("quant", {"bits": 4, "group": 65, "scale": 1.0}, "group 65"),
    ("quant", {"bits": 4, "group": 64, "scale": -1.0}, "positive"),
    ("lowrank", {"rank": 9, "scale_a": 1.0, "scale_b": 1.0}, "outside 1..4"),
    ("topk", {"count": 33, "scale": 1.0}, "outside 1..32"),
    ("dare", {"count": 1, "drop": 1.5, "seed": 1, "scale": 1.0}, "below 1"),
    ("dare", {"count": 1, "drop": 0.5, "seed": -1, "scale": 1.0}, "seed"),
    ("sign", {"scale": True}, "must be float"),
    ("sign", [1], "JSON object"),
    ("lossless", {"transform": "rot13"}, "unknown lossless transform"),
]


@pytest.mark.parametrize(("encoding", "params", "message"), PARAM_CASES)
def test_declared_params_are_checked(encoding: str, params: object, message: str) -> None:
    with pytest.raises(DeltaFormatError, match=message):
        encodings.validate(encoding, params, "F32", (4, 8), "parent", "t")


def test_encoding_catalogue_rejects_unknown_and_misplaced_encodings() -> None:
    with pytest.raises(UnknownEncodingError, match="unknown encoding 'wavelet'"):
        encodings.validate("wavelet", {}, "F32", (4,), "parent", "t")
    with pytest.raises(DeltaFormatError, match="non-float dtype"):
        encodings.validate("sign", {"scale": 1.0}, "I32", (4,), "parent", "t")
    with pytest.raises(DeltaFormatError, match="empty tensor"):
        encodings.validate("sign", {"scale": 1.0}, "F32", (0,), "parent", "t")
    with pytest.raises(DeltaFormatError, match="against zeros"):
        encodings.validate("lossless", {"transform": "sub"}, "F32", (4,), "zero", "t")


def test_fidelity_measures_the_stored_dtype() -> None:
    child = Tensor.from_float(np.array([1.0, 2.0, 3.0], np.float32), "BF16")
    parent = np.array([1.0, 1.0, 1.0], np.float32)
    recon = Tensor.from_float(np.array([1.0, 2.0, 3.005], np.float32), "BF16")  # rounds to 3.0
    assert measure(child, recon, parent) == Fidelity(0.0, 0.0, 0.0)
    off = Tensor.from_float(np.array([1.0, 2.0, 3.5], np.float32), "BF16")
    fid = measure(child, off, parent)
    assert fid.max_abs_error == 0.5
    assert fid.delta_rel_error == pytest.approx(0.5 / np.sqrt(5))
    assert fid.rel_error == pytest.approx(0.5 / np.sqrt(14))


@pytest.mark.parametrize(
    "raw",
    [None, {"rel_error": 0.1}, {"rel_error": -1.0, "delta_rel_error": 0.1, "max_abs_error": 0.1},
     {"rel_error": True, "delta_rel_error": 0.1, "max_abs_error": 0.1}],
)  # fmt: skip
def test_fidelity_parser_is_strict(raw: object) -> None:
    with pytest.raises(DeltaFormatError, match="fidelity"):
        Fidelity.from_json(raw, "t")
