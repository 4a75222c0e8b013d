"""Code length L(D|M) = Σ −log₂ p_M(xₜ) and the score [L(D|P) − L(D|child)] − L(Δ).

Code lengths are exact integers in units of ``2**-FIXED_POINT_BITS`` bits: every per-byte value
is computed in float64 and rounded to that grid before an integer sum (see
:mod:`agihub.powoc.determinism` for why this makes scores bit-identical across processes). The
score itself is an exact integer number of bits::

    saving   = L(D|P) − L(D|child)                          (bits on the |D| scored bytes)
    score    = floor(saving × N / |D|) − 8 × bytes(Δ)        N = reference_bytes (default |C|)

D is a uniform sample of the corpus C, so ``saving × |C| / |D|`` estimates L(C|P) − L(C|child):
by default the score is the issue's metric on the whole corpus, estimated from D. With N = |D| it
is the metric on D verbatim (README.md: "bounding the delta term").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from agihub.powoc.corpus import ValidationSet
from agihub.powoc.errors import ScoreParameterError

FIXED_POINT_BITS = 16
UNIT = 1 << FIXED_POINT_BITS
BATCH_WINDOWS = 32


@dataclass(frozen=True)
class CodeLength:
    """L(D|M): ``units`` / 2**16 bits over ``scored_bytes`` bytes."""

    units: int
    scored_bytes: int

    @property
    def bits(self) -> Fraction:
        """Exact code length in bits."""
        return Fraction(self.units, UNIT)

    @property
    def bits_per_byte(self) -> float:
        """Mean code length per scored byte."""
        return self.units / UNIT / self.scored_bytes

    def exact(self) -> str:
        """The code length in bits as an exact decimal string."""
        return exact_decimal(self.units)


def exact_decimal(units: int) -> str:
    """``units / 2**16`` written exactly in decimal (2**-16 has 16 decimal digits)."""
    sign = "-" if units < 0 else ""
    scaled = abs(units) * 5**FIXED_POINT_BITS  # = |units| / 2**16 × 10**16
    whole, frac = divmod(scaled, 10**FIXED_POINT_BITS)
    return f"{sign}{whole}.{frac:0{FIXED_POINT_BITS}d}".rstrip("0").rstrip(".")


def code_length(model: Any, vset: ValidationSet) -> CodeLength:
    """Σ −log₂ p(x) over D's scored bytes; call inside :func:`agihub.powoc.determinism.deterministic`.

    ``model`` maps a (batch, length) long tensor to next-byte logits and has ``cfg.context``.
    """
    import torch
    from torch.nn import functional as F

    window = vset.spec.window
    if window > model.cfg.context:
        raise ScoreParameterError(
            f"validation window {window} is longer than the model context {model.cfg.context}"
        )
    rows = torch.frombuffer(bytearray(vset.data), dtype=torch.uint8).long().view(len(vset.starts), window + 1)
    dtype = next(model.parameters()).dtype
    total = 0
    for first in range(0, rows.shape[0], BATCH_WINDOWS):
        batch = rows[first : first + BATCH_WINDOWS]
        logits = model(batch[:, :-1]).to(dtype)
        nats = -F.log_softmax(logits, dim=-1).gather(-1, batch[:, 1:, None]).squeeze(-1)
        bits = nats.to(torch.float64) / math.log(2)
        total += int(torch.round(bits * UNIT).to(torch.int64).sum())
    return CodeLength(total, vset.scored_bytes)


def data_term(parent: CodeLength, child: CodeLength, reference_bytes: int) -> Fraction:
    """(L(D|P) − L(D|child)) × N / |D| in bits, exactly."""
    if parent.scored_bytes != child.scored_bytes:
        raise ScoreParameterError("parent and child code lengths are over different data")
    return Fraction((parent.units - child.units) * reference_bytes, parent.scored_bytes * UNIT)


def score_bits(parent: CodeLength, child: CodeLength, delta_bytes: int, reference_bytes: int) -> int:
    """floor(data term) − 8 × bytes(Δ): the PoWoC score in whole bits."""
    return math.floor(data_term(parent, child, reference_bytes)) - 8 * delta_bytes
