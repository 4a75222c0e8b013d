"""The per-tensor chooser: budgets, fallbacks and minimum-size choice."""

from __future__ import annotations

import numpy as np
import pytest

import agihub.delta
from agihub.delta import Budget, DeltaParameterError, Tensor, apply_delta_arrays, encode_delta_arrays
from agihub.delta.chooser import choose

RNG = np.random.default_rng(3)


def _pair(delta: np.ndarray, scale: float = 0.05) -> tuple[Tensor, Tensor]:
    parent = RNG.normal(size=delta.shape).astype(np.float32) * scale
    return Tensor.from_array(parent), Tensor.from_array((parent + delta).astype(np.float32))


def _low_rank_delta(rows: int = 96, cols: int = 80, rank: int = 2) -> np.ndarray:
    return (RNG.normal(size=(rows, rank)) @ RNG.normal(size=(rank, cols))).astype(np.float32) * 1e-3


def test_lossless_mode_is_always_lossless() -> None:
    parent, child = _pair(_low_rank_delta())
    assert choose("w", child, parent, "lossless", Budget(max_delta_rel_error=1.0)).encoding == "lossless"


def test_low_rank_delta_is_encoded_low_rank() -> None:
    parent, child = _pair(_low_rank_delta())
    picked = choose("w", child, parent, "lossy", Budget(max_delta_rel_error=0.05))
    assert picked.encoding == "lowrank" and picked.params["rank"] == 2
    assert picked.fidelity.delta_rel_error <= 0.05


def test_choice_is_the_smallest_admissible_candidate() -> None:
    parent, child = _pair(RNG.normal(size=(64, 128)).astype(np.float32) * 1e-3)
    budget = Budget(max_delta_rel_error=0.2)
    picked = choose("w", child, parent, "lossy", budget)
    assert picked.fidelity is not None and budget.admits(picked.fidelity)
    for encoding in budget.encodings:
        alone = choose("w", child, parent, "lossy", Budget(max_delta_rel_error=0.2, encodings=(encoding,)))
        assert len(picked.payload) <= len(alone.payload)
        if alone.fidelity is not None:
            assert alone.fidelity.delta_rel_error <= 0.2


def test_tighter_budgets_cost_more_bytes() -> None:
    parent, child = _pair(RNG.normal(size=(64, 128)).astype(np.float32) * 1e-3)
    sizes = [
        len(choose("w", child, parent, "lossy", Budget(max_delta_rel_error=b)).payload)
        for b in (0.5, 0.2, 0.05)
    ]
    assert sizes[0] < sizes[1] < sizes[2]


def test_extra_bounds_are_respected() -> None:
    parent, child = _pair(RNG.normal(size=(64, 128)).astype(np.float32) * 1e-3)
    loose = choose("w", child, parent, "lossy", Budget(max_delta_rel_error=0.5))
    bound = loose.fidelity.max_abs_error / 4
    tight = choose("w", child, parent, "lossy", Budget(max_delta_rel_error=0.5, max_abs_error=bound))
    assert tight.fidelity is None or tight.fidelity.max_abs_error <= bound
    rel = choose("w", child, parent, "lossy", Budget(max_delta_rel_error=0.5, max_rel_error=1e-9))
    assert rel.encoding == "lossless"


def test_unreachable_budget_falls_back_to_lossless() -> None:
    # bf16 rounding alone moves these values by far more than 1e-6 of the delta
    parent = Tensor.from_float(RNG.normal(size=(32, 32)).astype(np.float32), "BF16")
    child = Tensor.from_float(parent.to_float() * 1.05, "BF16")
    assert choose("w", child, parent, "lossy", Budget(max_delta_rel_error=1e-6)).encoding == "lossless"


@pytest.mark.parametrize(
    "child_values",
    [np.array([1, 2, 3], np.int32), np.array([np.nan, 1.0, 2.0], np.float32), np.zeros(3, np.float32)],
)
def test_non_float_nan_and_unchanged_tensors_stay_lossless(child_values: np.ndarray) -> None:
    parent = Tensor.from_array(np.zeros(3, child_values.dtype))
    child = Tensor.from_array(child_values)
    assert choose("t", child, parent, "lossy", Budget(max_delta_rel_error=1.0)).encoding == "lossless"


def test_new_tensor_is_encoded_against_zeros_in_lossy_mode() -> None:
    child = {"new": RNG.normal(size=(64, 64)).astype(np.float32)}
    blob, report = encode_delta_arrays({}, child, mode="lossy", budget=0.3)
    (choice,) = report.tensors
    assert choice.base == "zero" and choice.fidelity.rel_error <= 0.3
    rebuilt = apply_delta_arrays({}, blob)["new"].to_float()
    assert np.linalg.norm(rebuilt - child["new"]) / np.linalg.norm(child["new"]) <= 0.3 + 1e-6


def test_report_sums_up() -> None:
    parent = {"a": RNG.normal(size=(64, 64)).astype(np.float32), "n": np.arange(4)}
    child = {"a": parent["a"] + 1e-3, "n": np.arange(4) + 1}
    blob, report = encode_delta_arrays(parent, child, mode="lossy", budget=0.3)
    assert report.delta_bytes == len(blob)
    assert report.ratio == report.child_bytes / len(blob)
    assert sum(report.bytes_by_encoding().values()) == sum(c.payload_bytes for c in report.tensors)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_delta_rel_error": 0.0}, "not in"),
        ({"max_delta_rel_error": 1.5}, "not in"),
        ({"max_abs_error": -1.0}, "positive"),
        ({"encodings": ("jpeg",)}, "unknown lossy"),
        ({"groups": (100,)}, "quant groups"),
        ({"groups": ()}, "quant groups"),
    ],
)
def test_bad_budgets_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(DeltaParameterError, match=message):
        Budget(**kwargs)


def test_bad_mode_and_budget_types_are_rejected() -> None:
    with pytest.raises(DeltaParameterError, match="mode must be"):
        encode_delta_arrays({}, {}, mode="fast")
    with pytest.raises(DeltaParameterError, match="budget must be"):
        encode_delta_arrays({}, {}, mode="lossy", budget="tight")  # type: ignore[arg-type]


def test_public_surface_is_pinned() -> None:
    assert sorted(agihub.delta.__all__) == [
        "Budget", "DeltaError", "DeltaFormatError", "DeltaHeader", "DeltaParameterError", "DeltaReport",
        "Fidelity", "ModelFileError", "ReconstructionError", "Tensor", "TensorChoice", "TensorEntry",
        "TruncatedDeltaError", "UnknownEncodingError", "WrongParentError", "apply_delta",
        "apply_delta_arrays", "encode_delta", "encode_delta_arrays", "read_header",
    ]  # fmt: skip
    assert issubclass(agihub.delta.DeltaError, agihub.StorageError)


def test_quant_search_finds_the_fewest_bits_meeting_the_budget() -> None:
    from agihub.delta import quantize
    from agihub.delta.encodings import apply_lossy, base_values
    from agihub.delta.fidelity import measure

    parent, child = _pair(RNG.normal(size=(64, 128)).astype(np.float32) * 1e-3)
    budget = Budget(max_delta_rel_error=0.1, encodings=("quant",), groups=(64,))
    picked = choose("w", child, parent, "lossy", budget)
    assert picked.encoding == "quant"
    bits = picked.params["bits"]
    assert bits > 2
    base = base_values(parent, "F32", child.shape)
    fewer = quantize.encode(child.to_float() - base, bits - 1, 64)
    recon = apply_lossy(base, quantize.decode(*fewer, child.numel, "w"), "F32")
    assert measure(child, recon, base).delta_rel_error > 0.1


def test_delta_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, agihub.delta; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
