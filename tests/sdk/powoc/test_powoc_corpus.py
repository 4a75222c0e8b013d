"""The seeded validation-set sampler and the torch-free import of agihub.powoc."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from agihub.powoc import ScoreParameterError, ValidationSpec, sample
from agihub.powoc.corpus import corpus_bytes


def test_same_seed_same_set_other_seed_other_set() -> None:
    seed = hashlib.sha256(b"block").digest()
    spec = ValidationSpec(corpus="python-stdlib", seed=seed, n_bytes=1000, window=64)
    first, second = sample(spec), sample(spec)
    assert first.data == second.data and first.sha256 == second.sha256
    assert spec.windows == 16 and first.scored_bytes == 1024 and len(first.data) == 16 * 65
    other = sample(ValidationSpec(corpus="python-stdlib", seed=bytes(32), n_bytes=1000))
    assert other.sha256 != first.sha256
    text = corpus_bytes("python-stdlib")
    for i, start in enumerate(first.starts):
        assert first.data[i * 65 : (i + 1) * 65] == text[start : start + 65]


def test_windows_spread_over_the_whole_corpus() -> None:
    spec = ValidationSpec(corpus="pydoc-topics", seed=hashlib.sha256(b"x").digest(), n_bytes=64 * 400)
    starts = sample(spec).starts
    size = len(corpus_bytes("pydoc-topics"))
    quarters = [sum(q * size // 4 <= s < (q + 1) * size // 4 for s in starts) for q in range(4)]
    assert all(60 < count < 140 for count in quarters), quarters  # 100 expected in each quarter


def test_seed_from_registration() -> None:
    block = hashlib.sha256(b"block 1234").digest()
    a = ValidationSpec.from_registration(block, 7, n_bytes=2048)
    b = ValidationSpec.from_registration(block, 8, n_bytes=2048)
    assert a.seed != b.seed and a.n_bytes == 2048 and a.corpus == "python-stdlib"
    assert ValidationSpec.from_dict(a.to_dict()) == a
    with pytest.raises(ScoreParameterError):
        ValidationSpec.from_registration(b"short", 7)
    with pytest.raises(ScoreParameterError):
        ValidationSpec.from_registration(block, -1)
    with pytest.raises(ScoreParameterError):
        ValidationSpec.from_dict({"corpus": "python-stdlib"})


def test_import_does_not_need_torch() -> None:
    probe = "import sys, agihub.powoc, agihub.cli.powoc; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
