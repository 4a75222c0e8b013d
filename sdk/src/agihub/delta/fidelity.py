"""Fidelity of a lossy tensor reconstruction, measured at encode time and declared in the header.

Three numbers, all computed in float64 on the values the reconstruction really holds (after
rounding back to the tensor's dtype, exactly as ``apply_delta`` writes them):

* ``rel_error``: ``||Ŵ - W||_F / ||W||_F`` — how far the tensor moved from the true child;
* ``delta_rel_error``: ``||Ŵ - W||_F / ||Δ||_F`` — the fraction of the fine-tune that was lost
  (the budget of the chooser applies to this one);
* ``max_abs_error``: ``max |Ŵ - W|``.

A zero denominator is replaced by 1, so the ratio becomes the absolute error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from agihub.delta.errors import DeltaFormatError
from agihub.delta.tensors import Tensor

FIELDS = ("delta_rel_error", "max_abs_error", "rel_error")


@dataclass(frozen=True)
class Fidelity:
    """Declared error of one lossy tensor (see module docstring)."""

    rel_error: float
    delta_rel_error: float
    max_abs_error: float

    def to_json(self) -> dict[str, float]:
        """The header object for this fidelity."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: object, what: str) -> Fidelity:
        """Parse a header object strictly: three finite non-negative floats."""
        if not isinstance(raw, dict) or set(raw) != set(FIELDS):
            raise DeltaFormatError(f"{what}: fidelity must have exactly {FIELDS}")
        for key in FIELDS:
            value = raw[key]
            if type(value) not in (float, int) or not math.isfinite(value) or value < 0:
                raise DeltaFormatError(f"{what}: fidelity {key}={value!r} must be a finite float >= 0")
        return cls(float(raw["rel_error"]), float(raw["delta_rel_error"]), float(raw["max_abs_error"]))

    def is_finite(self) -> bool:
        """False when the reconstruction overflowed or produced NaN."""
        return all(math.isfinite(v) for v in (self.rel_error, self.delta_rel_error, self.max_abs_error))


def measure(child: Tensor, recon: Tensor, parent_values: np.ndarray) -> Fidelity:
    """Compare ``recon`` with the true ``child``; ``parent_values`` is the base Δ was taken from."""
    true = child.to_float().astype(np.float64)
    error = recon.to_float().astype(np.float64) - true
    err_norm = float(np.linalg.norm(error))
    w_norm = float(np.linalg.norm(true)) or 1.0
    d_norm = float(np.linalg.norm(true - parent_values.astype(np.float64))) or 1.0
    max_abs = float(np.abs(error).max(initial=0.0))
    return Fidelity(err_norm / w_norm, err_norm / d_norm, max_abs)
