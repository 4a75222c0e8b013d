"""Proof-of-Work-of-Compression: an objective, reproducible contribution score (issue 8).

    score = [L(D|P) − L(D|child)] − 8 × bytes(Δ)

where L(D|M) = Σ −log₂ p_M(x) over a validation set D sampled with a seed fixed after the
contribution is registered, and Δ is the child's delta package against its parent P (built with
:mod:`agihub.delta`). Public API::

    spec = ValidationSpec.from_registration(block_hash, contribution_id, corpus="python-stdlib")
    record = score_contribution(parent_path, child_path, spec, delta_path=None)
    record.score_bits, record.bits_per_byte, record.to_dict(), ScoreRecord.from_dict(...)

    genemap.fingerprint(path) / genemap.compare(a, b) / genemap.nearest(model, foundations)
    genemap.check_parent(child, parent, foundations) / genemap.render(model, against, png)

Importing this package does not import torch; evaluating a model needs the ``powoc`` extra.
See ``README.md`` here for the metric, how D is chosen, and how the delta term is bounded.
"""

from agihub.powoc import genemap
from agihub.powoc.corpus import CORPORA, ValidationSet, ValidationSpec, sample
from agihub.powoc.errors import (
    DeltaRootMismatch,
    LayoutMismatch,
    LineageRejected,
    ModelLoadError,
    PowocError,
    ScoreParameterError,
    ValidationSetMismatch,
)
from agihub.powoc.lmconfig import LMConfig, read_config
from agihub.powoc.metric import CodeLength
from agihub.powoc.score import ScoreRecord, check_layout, score_contribution

__all__ = [
    "CORPORA",
    "CodeLength",
    "DeltaRootMismatch",
    "LMConfig",
    "LayoutMismatch",
    "LineageRejected",
    "ModelLoadError",
    "PowocError",
    "ScoreParameterError",
    "ScoreRecord",
    "ValidationSet",
    "ValidationSetMismatch",
    "ValidationSpec",
    "check_layout",
    "genemap",
    "read_config",
    "sample",
    "score_contribution",
]
