"""Errors of Proof-of-Work-of-Compression scoring (``agihub.powoc``).

Each error means *no score is posted*: the contribution, its claimed parent, its delta or the
validation set failed a check before (or instead of) a number was computed::

    AgihubError
    └── PowocError                    any scoring failure
        ├── ModelLoadError            a file is not a model of the powoc LM family (no config, bad tensors)
        ├── LayoutMismatch            child tensors (names, dtypes, shapes) differ from the parent's
        ├── LineageRejected           the gene map says the claimed parent is not the child's parent
        ├── DeltaRootMismatch         a delta does not rebuild the claimed child from the claimed parent
        ├── ValidationSetMismatch     the sampled validation set or corpus differs from its commitment
        └── ScoreParameterError       impossible options (unknown corpus, window longer than the model's context)
"""

from __future__ import annotations

from agihub.errors import AgihubError


class PowocError(AgihubError):
    """Base class of every scoring error."""


class ModelLoadError(PowocError):
    """A model file is not a safetensors file of the powoc LM family, or its tensors do not fit its config."""


class LayoutMismatch(PowocError):
    """The child's tensors do not have the parent's names, dtypes and shapes."""


class LineageRejected(PowocError):
    """The gene map does not accept the claimed parent as the child's nearest ancestor."""


class DeltaRootMismatch(PowocError):
    """A delta package was made against another parent or does not rebuild the claimed child."""


class ValidationSetMismatch(PowocError):
    """The validation set (or its corpus) does not hash to the commitment it was announced with."""


class ScoreParameterError(PowocError):
    """A caller asked for something impossible: unknown corpus, bad seed, window beyond the context."""
