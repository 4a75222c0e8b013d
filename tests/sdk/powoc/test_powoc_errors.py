"""Bad input gets a typed error and no score: layout, lineage, delta root, validation commitment."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
import zstandard

from agihub.delta import encode_delta
from agihub.errors import AgihubError
from agihub.powoc import (
    DeltaRootMismatch,
    LayoutMismatch,
    LineageRejected,
    ModelLoadError,
    ScoreParameterError,
    ValidationSetMismatch,
    ValidationSpec,
    sample,
    score_contribution,
)

torch = pytest.importorskip("torch")


def _spec(seed: bytes, **options) -> ValidationSpec:
    return ValidationSpec(corpus="python-stdlib", seed=seed, n_bytes=4096, **options)


def test_child_with_another_layout(models, seed: bytes, tmp_path: Path) -> None:
    from agihub.powoc import lm

    wider = lm.save(lm.build(lm.LMConfig(d_model=32, n_layers=2, n_heads=4)), tmp_path / "w.safetensors")
    with pytest.raises(LayoutMismatch, match="dtype/shape differ"):
        score_contribution(models.parent, wider, _spec(seed))
    deeper = lm.save(lm.build(lm.LMConfig(d_model=64, n_layers=3, n_heads=4)), tmp_path / "d.safetensors")
    with pytest.raises(LayoutMismatch, match=r"extra: \['blocks.2"):
        score_contribution(models.parent, deeper, _spec(seed))


def test_model_without_config(models, seed: bytes, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    bare = tmp_path / "bare.safetensors"
    save_file(load_file(str(models.child)), str(bare))  # same weights, no metadata
    with pytest.raises(ModelLoadError, match=r"no 'agihub\.powoc\.lm' config"):
        score_contribution(models.parent, bare, _spec(seed))
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError):
        score_contribution(models.parent, tmp_path / "junk.safetensors", _spec(seed))


def test_claimed_parent_rejected_by_the_gene_map(models, seed: bytes) -> None:
    with pytest.raises(LineageRejected, match="nearest ancestor"):
        score_contribution(models.v1, models.child, _spec(seed), foundations=[models.parent])
    with pytest.raises(LineageRejected, match="not derived from"):
        score_contribution(models.other, models.child, _spec(seed))


def _rewrite_header(delta: bytes, edit) -> bytes:
    magic, version, length = struct.unpack_from("<8sHI", delta)
    header = json.loads(zstandard.ZstdDecompressor().decompress(delta[14 : 14 + length]))
    edit(header)
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(json.dumps(header).encode())
    out = io.BytesIO()
    out.write(struct.pack("<8sHI", magic, version, len(blob)) + blob + delta[14 + length :])
    return out.getvalue()


def test_delta_that_does_not_rebuild_the_claimed_root(models, seed: bytes, tmp_path: Path) -> None:
    from agihub.powoc.score import file_identity

    # a delta of another child (the v1 -> parent step) offered for the claimed child
    encode_delta(models.v1, models.parent, tmp_path / "other.delta")
    with pytest.raises(DeltaRootMismatch, match="made against parent"):
        score_contribution(models.parent, models.child, _spec(seed), tmp_path / "other.delta")
    encode_delta(models.parent, models.v1, tmp_path / "v1.delta")
    with pytest.raises(DeltaRootMismatch, match="not the claimed child"):
        score_contribution(models.parent, models.child, _spec(seed), tmp_path / "v1.delta")
    # a forged header that claims the child's sha256 but carries another child's payloads
    child_sha = file_identity(models.child)["sha256"]
    forged = _rewrite_header(
        (tmp_path / "v1.delta").read_bytes(), lambda h: h["child"].update(sha256=child_sha)
    )
    (tmp_path / "forged.delta").write_bytes(forged)
    with pytest.raises(DeltaRootMismatch, match="does not rebuild the claimed child"):
        score_contribution(models.parent, models.child, _spec(seed), tmp_path / "forged.delta")


def test_validation_set_not_matching_its_commitment(models, seed: bytes) -> None:
    honest = sample(_spec(seed))
    assert sample(_spec(seed, commitment=honest.sha256)).data == honest.data
    with pytest.raises(ValidationSetMismatch, match="commitment"):
        score_contribution(models.parent, models.child, _spec(seed, commitment="0" * 64))
    other_seed = bytes(32)
    with pytest.raises(ValidationSetMismatch, match="commitment"):
        sample(_spec(other_seed, commitment=honest.sha256))
    with pytest.raises(ValidationSetMismatch, match="another Python release"):
        sample(_spec(seed, corpus_sha256="f" * 64))


def test_impossible_parameters(models, seed: bytes) -> None:
    with pytest.raises(ScoreParameterError, match="unknown corpus"):
        ValidationSpec(corpus="wikipedia", seed=seed)
    with pytest.raises(ScoreParameterError, match="32 bytes"):
        ValidationSpec(corpus="python-stdlib", seed=b"short")
    with pytest.raises(ScoreParameterError, match="longer than the model context"):
        score_contribution(models.parent, models.child, _spec(seed, window=128), compression="lossless")
    with pytest.raises(ScoreParameterError, match="compression"):
        score_contribution(models.parent, models.child, _spec(seed), compression="gzip")
    assert issubclass(ScoreParameterError, AgihubError) and issubclass(DeltaRootMismatch, AgihubError)


def test_cli_reports_a_typed_error_on_one_line(models, tmp_path: Path, cli) -> None:
    from agihub.powoc import lm

    wider = lm.save(lm.build(lm.LMConfig(d_model=32, n_layers=2, n_heads=4)), tmp_path / "w.safetensors")
    code, _, err = cli("score", str(models.parent), str(wider))
    assert code == 1 and err.startswith("error: ") and "does not have the layout of its parent" in err
    code, _, err = cli("score", str(models.parent), str(models.child), "--val-seed", "abcd")
    assert code == 1 and "--val-seed must be 32 bytes" in err


def test_cli_score_prints_the_breakdown(models, seed: bytes, cli) -> None:
    argv = ["score", str(models.parent), str(models.child), "--val-seed", seed.hex(), "--n-bytes", "4096",
            "--compression", "lossless"]  # fmt: skip
    code, text, _ = cli(*argv)
    assert code == 0 and "L(D|P)" in text and "L(delta)" in text and "score" in text
    code, out, _ = cli(*argv, "--json")
    data = json.loads(out)
    record = score_contribution(models.parent, models.child, _spec(seed), compression="lossless")
    assert data["score_bits"] == record.score_bits and data["validation"]["seed"] == seed.hex()
