"""The delta codec on a real (tiny) language model and a real fine-tune of it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

from agihub.delta import Budget, apply_delta, encode_delta, read_header
from agihub.delta.encodings import LOSSY
from agihub.delta.tensors import load


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_lossless_delta_is_exact_and_beats_zstd_of_the_child(
    tiny_models, tmp_path: Path, precision: str
) -> None:
    parent, child = (
        (tiny_models.parent, tiny_models.child)
        if precision == "f32"
        else (tiny_models.parent_bf16, tiny_models.child_bf16)
    )
    report = encode_delta(parent, child, tmp_path / "d.delta")
    out = apply_delta(parent, tmp_path / "d.delta", tmp_path / "child.safetensors")
    assert _sha(out) == _sha(child)
    plain_zstd = len(zstandard.ZstdCompressor(level=19).compress(child.read_bytes()))
    assert report.delta_bytes < plain_zstd
    assert all(choice.encoding == "lossless" for choice in report.tensors)


@pytest.mark.parametrize("encoding", sorted(LOSSY))
def test_each_lossy_encoding_round_trips_within_its_declared_fidelity(
    tiny_models, tmp_path: Path, encoding: str
) -> None:
    # DARE and sign cannot reach tight errors by construction; give them a budget they can meet.
    limit = 0.9 if encoding in ("dare", "sign") else 0.3
    budget = Budget(max_delta_rel_error=limit, encodings=(encoding,))
    report = encode_delta(tiny_models.parent, tiny_models.child, tmp_path / "d.delta", "lossy", budget)
    used = [c for c in report.tensors if c.encoding == encoding]
    assert used, f"{encoding} was never chosen"
    out = load(apply_delta(tiny_models.parent, tmp_path / "d.delta", tmp_path / "out.safetensors"))
    truth, base = load(tiny_models.child), load(tiny_models.parent)
    for entry in read_header(tmp_path / "d.delta").tensors:
        if entry.fidelity is None:
            assert out[entry.name] == truth[entry.name]
            continue
        error = out[entry.name].to_float().astype(np.float64) - truth[entry.name].to_float()
        delta = truth[entry.name].to_float().astype(np.float64) - base[entry.name].to_float()
        measured = np.linalg.norm(error) / np.linalg.norm(delta)
        assert measured <= entry.fidelity.delta_rel_error * (1 + 1e-9) + 1e-12
        assert entry.fidelity.delta_rel_error <= limit
        assert np.abs(error).max() <= entry.fidelity.max_abs_error * (1 + 1e-9) + 1e-12
        rel = np.linalg.norm(error) / np.linalg.norm(truth[entry.name].to_float())
        assert rel == pytest.approx(entry.fidelity.rel_error, rel=1e-6, abs=1e-12)


def test_lossy_delta_is_much_smaller_and_keeps_the_fine_tune(tiny_models, tmp_path: Path) -> None:
    import tinylm

    lossless = encode_delta(tiny_models.parent, tiny_models.child, tmp_path / "exact.delta")
    lossy = encode_delta(tiny_models.parent, tiny_models.child, tmp_path / "d.delta", "lossy", 0.2)
    assert lossy.delta_bytes * 4 < lossless.delta_bytes
    out = apply_delta(tiny_models.parent, tmp_path / "d.delta", tmp_path / "out.safetensors")
    val = tiny_models.prose_val
    parent_loss = tinylm.evaluate(tinylm.load(tiny_models.parent, tiny_models.cfg), val)
    child_loss = tinylm.evaluate(tinylm.load(tiny_models.child, tiny_models.cfg), val)
    lossy_loss = tinylm.evaluate(tinylm.load(out, tiny_models.cfg), val)
    assert child_loss < parent_loss - 0.05  # the fine-tune really changed the model
    # The lossy child keeps at least 90% of the fine-tune's improvement on the new domain.
    assert lossy_loss - child_loss < 0.1 * (parent_loss - child_loss)
