"""The PoWoC score on real models: a domain fine-tune earns, damaged or random contributions do not."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from agihub.delta import encode_delta
from agihub.delta.tensors import Tensor, load
from agihub.powoc import LineageRejected, ScoreRecord, ValidationSpec, sample, score_contribution

torch = pytest.importorskip("torch")


def _spec(seed: bytes, **options) -> ValidationSpec:
    return ValidationSpec(corpus="python-stdlib", seed=seed, n_bytes=options.pop("n_bytes", 8192), **options)


def _damaged(parent: Path, out: Path, scale: float, seed: int = 3) -> Path:
    """The parent with gaussian noise of ``scale`` x each tensor's RMS added (same layout)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, tensor in load(parent).items():
        w = tensor.to_float()
        rms = float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) or 1.0
        tensors[name] = Tensor.from_array((w + rng.normal(size=w.shape) * scale * rms).astype(np.float32))
    return _with_config(parent, tensors, out)


def _with_config(like: Path, tensors: dict[str, Tensor], out: Path) -> Path:
    from safetensors.numpy import save_file

    from agihub.powoc import lmconfig

    cfg = lmconfig.read_config(like)
    save_file(
        {n: t.to_float() for n, t in tensors.items()},
        str(out),
        metadata={lmconfig.METADATA_KEY: cfg.to_json()},
    )
    return out


def test_domain_fine_tune_scores_positive(models, seed: bytes) -> None:
    record = score_contribution(models.parent, models.child, _spec(seed, n_bytes=16384))
    assert record.child_bits_per_byte < record.parent_bits_per_byte - 0.3  # it learned the domain
    assert record.score_bits > 0
    assert record.bits_per_byte > 0 and record.onchain_score == record.score_bits
    # the kept delta is the candidate with the highest score: the minimum total description length
    assert record.score_bits == max(c["score_bits"] for c in record.candidates)
    assert len(record.candidates) == 6 and record.delta["source"] == "built"
    assert record.lineage is not None and record.lineage["nearest"] == str(models.parent)


def test_fine_tune_does_not_earn_on_the_general_corpus(models, seed: bytes) -> None:
    # The code fine-tune forgot some prose: on the parent's own corpus it is worse, not better.
    spec = ValidationSpec(corpus="pydoc-topics", seed=seed, n_bytes=8192)
    record = score_contribution(models.parent, models.child, spec, compression="lossless")
    assert record.child_bits_per_byte > record.parent_bits_per_byte
    assert record.score_bits < 0 and record.onchain_score == 0


def test_damaged_contribution_scores_negative(models, seed: bytes, tmp_path: Path) -> None:
    damaged = _damaged(models.parent, tmp_path / "damaged.safetensors", scale=0.3)
    record = score_contribution(models.parent, damaged, _spec(seed), budgets=(0.2, 0.5))
    assert record.lineage is not None  # close enough to pass the gene-map check: it is scored
    assert record.score_bits < 0
    assert record.onchain_score == 0


def test_random_contribution_is_rejected_and_would_score_negative(
    models, seed: bytes, tmp_path: Path
) -> None:
    from agihub.powoc import lm

    torch.manual_seed(42)
    random_child = lm.save(lm.build(lm.read_config(models.parent)), tmp_path / "random.safetensors")
    with pytest.raises(LineageRejected, match="not derived from"):
        score_contribution(models.parent, random_child, _spec(seed))
    record = score_contribution(models.parent, random_child, _spec(seed), check_lineage=False,
                                compression="lossless")  # fmt: skip
    assert record.child_bits_per_byte > 7.0  # a random byte model: ~8 bits per byte
    assert record.score_bits < 0


def test_code_length_matches_cross_entropy(models, seed: bytes) -> None:
    """L(D|M) equals Σ cross-entropy / ln 2 computed independently with torch in float32."""
    from torch.nn import functional as F

    from agihub.powoc import lm

    spec = _spec(seed, reference_bytes=8192)
    record = score_contribution(models.parent, models.child, spec, compression="lossless")
    vset = sample(spec)
    rows = torch.tensor(list(vset.data)).view(len(vset.starts), spec.window + 1)
    for path, exact in (
        (models.parent, record.to_dict()["parent_bits"]),
        (models.child, record.to_dict()["child_bits"]),
    ):
        model = lm.load(path, torch.float32)
        with torch.no_grad():
            nats = F.cross_entropy(
                model(rows[:, :-1]).reshape(-1, 256), rows[:, 1:].reshape(-1), reduction="sum"
            )
        assert float(exact) == pytest.approx(float(nats) / math.log(2), rel=1e-5)
    # with N = |D| the score is the metric on D verbatim
    saving = Fraction(record.to_dict()["parent_bits"]) - Fraction(record.to_dict()["child_bits"])
    assert record.score_bits == math.floor(saving) - 8 * record.delta["bytes"]


def test_given_delta_scores_like_the_built_one(models, seed: bytes, tmp_path: Path) -> None:
    built = score_contribution(models.parent, models.child, _spec(seed), compression="lossless")
    encode_delta(models.parent, models.child, tmp_path / "c.delta")
    given = score_contribution(models.parent, models.child, _spec(seed), tmp_path / "c.delta")
    assert given.delta["source"] == "given" and given.delta["bytes"] == built.delta["bytes"]
    assert (given.score_bits, given.child_units) == (built.score_bits, built.child_units)
    # the delta alone (a private child) is enough: the parent plus the package rebuild it
    alone = score_contribution(models.parent, None, _spec(seed), tmp_path / "c.delta")
    assert alone.score_bits == built.score_bits and alone.child["sha256"] == built.child["sha256"]


def test_lossy_delta_is_scored_on_what_it_rebuilds(models, seed: bytes, tmp_path: Path) -> None:
    encode_delta(models.parent, models.child, tmp_path / "c.delta", "lossy", 0.5)
    record = score_contribution(models.parent, models.child, _spec(seed), tmp_path / "c.delta")
    assert record.delta["mode"] == "lossy"
    assert record.delta["evaluated_sha256"] != record.child["sha256"]


def test_budgets_may_restrict_the_encodings(models, seed: bytes) -> None:
    from agihub.delta import Budget

    budget = Budget(max_delta_rel_error=0.3, encodings=("quant",))
    record = score_contribution(models.parent, models.child, _spec(seed), budgets=(budget,))
    lossy = [c for c in record.candidates if c["mode"] == "lossy"]
    assert [c["budget"] for c in lossy] == [0.3] and len(record.candidates) == 2
    assert record.delta["mode"] == "lossy"  # 4-bit-ish quantisation beats the lossless delta
    assert set(record.delta["bytes_by_encoding"]) <= {"quant", "lossless"}


def test_record_round_trips_through_json(models, seed: bytes) -> None:
    record = score_contribution(models.parent, models.child, _spec(seed), compression="lossy")
    again = ScoreRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record and again.digest() == record.digest()
    pinned = again.spec()
    assert (pinned.seed, pinned.n_bytes, pinned.corpus) == (seed, 8192, "python-stdlib")
    assert sample(pinned).sha256 == pinned.commitment == record.validation["set_sha256"]
    assert pinned.corpus_sha256 == record.validation["corpus_sha256"]
    data = record.to_dict()
    assert data["validation"]["seed"] == seed.hex() and len(data["validation"]["corpus_sha256"]) == 64
    assert data["parent"]["sha256"] and data["child"]["sha256"] and "torch" in data["code_version"]
    assert set(data["timings"]) >= {"evaluation_s", "compression_s", "lineage_s", "total_s"}
