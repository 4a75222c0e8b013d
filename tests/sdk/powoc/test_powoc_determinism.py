"""The same model scored twice in separate processes (different thread counts) gives identical records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

PROBE = """
import json, sys
from pathlib import Path
from agihub.powoc import ValidationSpec, score_contribution
parent, child, seed, threads = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), int(sys.argv[4])
spec = ValidationSpec(corpus="python-stdlib", seed=seed, n_bytes=8192)
record = score_contribution(Path(parent), Path(child), spec, compression="lossy", threads=threads)
print(json.dumps({"record": record.to_dict(), "digest": record.digest()}))
"""


def _score_in_subprocess(models, seed: bytes, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(models.parent), str(models.child), seed.hex(), str(threads)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_processes_give_bit_identical_scores(models, seed: bytes) -> None:
    first = _score_in_subprocess(models, seed, threads=1)
    second = _score_in_subprocess(models, seed, threads=2)
    a, b = first["record"], second["record"]
    assert a.pop("timings") != {} and b.pop("timings") != {}
    assert a == b
    assert first["digest"] == second["digest"]
    assert (a["parent_units"], a["child_units"], a["score_bits"]) == (
        b["parent_units"], b["child_units"], b["score_bits"]
    )  # fmt: skip


def test_threads_do_not_change_the_code_length(models, seed: bytes) -> None:
    from agihub.powoc import lm, sample
    from agihub.powoc.determinism import deterministic
    from agihub.powoc.metric import code_length

    vset = sample(ValidationSpec_(seed))
    lengths = set()
    for threads in (1, 2):
        with deterministic(threads) as torch:
            assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled()
            lengths.add(code_length(lm.load(Path(models.child)), vset).units)
    assert len(lengths) == 1


def ValidationSpec_(seed: bytes):
    from agihub.powoc import ValidationSpec

    return ValidationSpec(corpus="pydoc-topics", seed=seed, n_bytes=4096)


def test_deterministic_context_restores_the_callers_settings() -> None:
    import torch

    from agihub.powoc.determinism import deterministic

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    with deterministic(1):
        pass
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before
