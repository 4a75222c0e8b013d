"""Per-tensor choice of encoding, and ``encode_delta``.

Lossless mode encodes every tensor losslessly (the smaller of the two transforms). Lossy mode
tries, per float tensor, the smallest setting of each allowed lossy encoding that meets the
:class:`Budget`, and keeps whichever candidate — lossless included — has the fewest payload
bytes: a minimum-description-length choice under a fidelity constraint. Fidelity is measured on
the reconstruction decoded back from the candidate's own payload, so what the header declares is
what ``apply_delta`` produces.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from agihub.delta import encodings, lossless, lowrank, quantize, sign, sparse
from agihub.delta.errors import DeltaParameterError
from agihub.delta.fidelity import Fidelity, measure
from agihub.delta.package import MODES, DeltaWriter
from agihub.delta.tensors import (
    FLOAT_DTYPES,
    SafetensorsFile,
    Tensor,
    as_tensors,
    itemsize,
    matrix_shape,
    serialize,
)

log = logging.getLogger(__name__)

DARE_DROPS = (0.9, 0.75, 0.5, 0.25, 0.1)
# The analytic rank / top-k count ignores float16 storage and dtype rounding, so aim a bit lower.
_ANALYTIC_SLACK = 0.95
_GROWTH = 1.25


@dataclass(frozen=True)
class Budget:
    """Per-tensor error allowed in lossy mode (see :mod:`agihub.delta.fidelity` for definitions).

    ``max_delta_rel_error`` bounds ``||Ŵ - W|| / ||Δ||``; the optional bounds apply on top.
    ``encodings`` restricts the lossy encodings tried; ``groups`` the quantisation group sizes.
    """

    max_delta_rel_error: float = 0.25
    max_rel_error: float | None = None
    max_abs_error: float | None = None
    encodings: tuple[str, ...] = tuple(encodings.LOSSY)
    groups: tuple[int, ...] = (64, 128, 256)

    def __post_init__(self) -> None:
        if not 0.0 < self.max_delta_rel_error <= 1.0:
            raise DeltaParameterError(f"max_delta_rel_error {self.max_delta_rel_error} not in (0, 1]")
        for bound in (self.max_rel_error, self.max_abs_error):
            if bound is not None and not bound > 0:
                raise DeltaParameterError(f"error bounds must be positive, got {bound}")
        unknown = set(self.encodings) - set(encodings.LOSSY)
        if unknown:
            raise DeltaParameterError(f"unknown lossy encodings {sorted(unknown)}; {list(encodings.LOSSY)}")
        if not set(self.groups) <= set(quantize.GROUPS) or not self.groups:
            raise DeltaParameterError(f"quant groups must be among {quantize.GROUPS}, got {self.groups}")

    def admits(self, fidelity: Fidelity) -> bool:
        """True if a reconstruction with this fidelity is within every bound."""
        if not fidelity.is_finite() or fidelity.delta_rel_error > self.max_delta_rel_error:
            return False
        if self.max_rel_error is not None and fidelity.rel_error > self.max_rel_error:
            return False
        return self.max_abs_error is None or fidelity.max_abs_error <= self.max_abs_error


@dataclass(frozen=True)
class Candidate:
    """One way to encode a tensor: encoding id, params, payload and (lossy) measured fidelity."""

    encoding: str
    params: dict[str, object]
    payload: bytes
    fidelity: Fidelity | None = None


@dataclass(frozen=True)
class TensorChoice:
    """What the chooser did with one tensor."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    base: str
    encoding: str
    params: dict[str, object]
    raw_bytes: int
    payload_bytes: int
    fidelity: Fidelity | None


@dataclass(frozen=True)
class DeltaReport:
    """Summary of an encoded delta: sizes, hashes and the per-tensor choices."""

    mode: str
    parent_sha256: str
    child_sha256: str
    child_bytes: int
    delta_bytes: int
    tensors: tuple[TensorChoice, ...]
    path: Path | None = None

    @property
    def ratio(self) -> float:
        """How many times smaller the delta is than the child file."""
        return self.child_bytes / max(self.delta_bytes, 1)

    def bytes_by_encoding(self) -> dict[str, int]:
        """Payload bytes per encoding id."""
        totals: dict[str, int] = {}
        for choice in self.tensors:
            totals[choice.encoding] = totals.get(choice.encoding, 0) + choice.payload_bytes
        return dict(sorted(totals.items()))


def encode_delta(
    parent_path: str | os.PathLike[str],
    child_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    mode: str = "lossless",
    budget: float | Budget | None = None,
) -> DeltaReport:
    """Encode ``child - parent`` into a delta file at ``out_path`` (temp file, then atomic rename).

    ``budget`` (lossy mode only) is a :class:`Budget` or a float shorthand for
    ``Budget(max_delta_rel_error=budget)``.
    """
    chosen = _budget(mode, budget)
    target = Path(out_path)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    with SafetensorsFile.open(parent_path) as parent, SafetensorsFile.open(child_path) as child:
        try:
            with open(tmp, "wb") as dest:
                report = _encode(parent, child, dest, mode, chosen)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    log.info("delta %s: %d bytes for a %d-byte child (%.2fx)", target, report.delta_bytes,
             report.child_bytes, report.ratio)  # fmt: skip
    return replace(report, path=target)


def encode_delta_arrays(
    parent: Mapping[str, np.ndarray | Tensor],
    child: Mapping[str, np.ndarray | Tensor],
    mode: str = "lossless",
    budget: float | Budget | None = None,
) -> tuple[bytes, DeltaReport]:
    """In-memory ``encode_delta``; parent and child stand for their canonical safetensors bytes.

    Values are numpy arrays or :class:`~agihub.delta.tensors.Tensor` (needed for BF16).
    Returns the delta file bytes and its report; ``len(bytes)`` is the description length.
    """
    chosen = _budget(mode, budget)
    parent_file = SafetensorsFile(serialize(as_tensors(parent)), "parent tensors")
    child_file = SafetensorsFile(serialize(as_tensors(child)), "child tensors")
    dest = io.BytesIO()
    report = _encode(parent_file, child_file, dest, mode, chosen)
    return dest.getvalue(), report


def _budget(mode: str, budget: float | Budget | None) -> Budget:
    if mode not in MODES:
        raise DeltaParameterError(f"mode must be one of {MODES}, got {mode!r}")
    if isinstance(budget, Budget):
        return budget
    if budget is None:
        return Budget()
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise DeltaParameterError(f"budget must be a Budget or a float, got {budget!r}")
    return Budget(max_delta_rel_error=float(budget))


def _encode(
    parent: SafetensorsFile, child: SafetensorsFile, dest: BinaryIO, mode: str, budget: Budget
) -> DeltaReport:
    writer = DeltaWriter()
    choices: list[TensorChoice] = []
    try:
        for name in child:  # data-offset order, as the format requires
            tensor = child.tensor(name)
            base_tensor = _matching_parent(parent, name, tensor)
            candidate = choose(name, tensor, base_tensor, mode, budget)
            base = "zero" if base_tensor is None else "parent"
            writer.add(name, tensor, base, candidate.encoding, candidate.params, candidate.fidelity,
                       candidate.payload)  # fmt: skip
            choices.append(TensorChoice(name, tensor.dtype, tensor.shape, base, candidate.encoding,
                                        candidate.params, len(tensor.data), len(candidate.payload),
                                        candidate.fidelity))  # fmt: skip
            log.debug("tensor %s: %s, %d -> %d bytes", name, candidate.encoding, len(tensor.data),
                      len(candidate.payload))  # fmt: skip
        start = dest.tell()
        header = writer.write_to(dest, mode, parent, child)
        size = dest.tell() - start
    finally:
        writer.close()
    return DeltaReport(mode, header.parent_sha256, header.child_sha256, child.size, size, tuple(choices))


def _matching_parent(parent: SafetensorsFile, name: str, tensor: Tensor) -> Tensor | None:
    info = parent.infos.get(name)
    if info is None or (info.dtype, info.shape) != (tensor.dtype, tensor.shape):
        return None  # new or reshaped tensor: encoded against zeros
    return parent.tensor(name)


def choose(name: str, child: Tensor, parent: Tensor | None, mode: str, budget: Budget) -> Candidate:
    """The smallest admissible encoding of ``child`` against ``parent`` (``None``: zeros)."""
    payload, transform = lossless.encode_best(child.data, None if parent is None else parent.data,
                                              itemsize(child.dtype))  # fmt: skip
    best = Candidate(encodings.LOSSLESS, {"transform": transform}, payload)
    if mode == "lossless" or child.dtype not in FLOAT_DTYPES or child.numel == 0:
        return best
    base = encodings.base_values(parent, child.dtype, child.shape)
    delta = child.to_float() - base
    if not np.isfinite(delta).all() or not delta.any():
        return best  # lossy coding of NaN/inf is meaningless; a zero delta is already tiny
    job = _Job(name, child, base, delta, budget, len(payload))
    for candidate in job.candidates():
        if len(candidate.payload) < len(best.payload):
            best = candidate
            job.limit = len(candidate.payload)
    return best


@dataclass
class _Job:
    """One tensor's lossy search; ``limit`` is the payload size a candidate must beat."""

    name: str
    child: Tensor
    base: np.ndarray
    delta: np.ndarray
    budget: Budget
    limit: int
    target: float = field(init=False)

    def __post_init__(self) -> None:
        self.target = self.budget.max_delta_rel_error

    def candidates(self) -> Iterator[Candidate]:
        searches = {"sign": self._sign, "quant": self._quant, "lowrank": self._lowrank,
                    "topk": self._topk, "dare": self._dare}  # fmt: skip
        for encoding in self.budget.encodings:
            yield from searches[encoding]()

    def _try(self, encoding: str, encoded: tuple[bytes, dict[str, object]]) -> Candidate | None:
        payload, params = encoded
        if len(payload) >= self.limit:
            return None
        delta_hat = encodings.LOSSY[encoding].decode(payload, params, self.child.shape, self.name)
        recon = encodings.apply_lossy(self.base, delta_hat, self.child.dtype)
        fidelity = measure(self.child, recon, self.base)
        return Candidate(encoding, params, payload, fidelity) if self.budget.admits(fidelity) else None

    def _sign(self) -> Iterator[Candidate]:
        found = self._try("sign", sign.encode(self.delta, self.child.shape))
        if found:
            yield found

    def _quant(self) -> Iterator[Candidate]:
        for group in self.budget.groups:
            found = self._quant_bits(group)
            if found:
                yield found

    def _quant_bits(self, group: int) -> Candidate | None:
        """Bisect for the fewest bits that meet the budget: error falls and size grows with bits."""
        bits = list(quantize.BITS)
        low, high, best = 0, len(bits) - 1, None
        while low <= high:
            mid = (low + high) // 2
            if self.child.numel * bits[mid] // 8 >= self.limit:
                high = mid - 1  # more bits would be larger still
                continue
            found = self._try("quant", quantize.encode(self.delta, bits[mid], group))
            if found:
                best, high = found, mid - 1
            else:
                low = mid + 1
        return best

    def _lowrank(self) -> Iterator[Candidate]:
        rows, cols = matrix_shape(self.child.shape)
        if min(rows, cols) < 2 or 2 * (rows + cols) >= self.limit:
            return
        factors = lowrank.factorize(self.delta, self.child.shape)
        first = lowrank.rank_for_error(factors.s, self.target * _ANALYTIC_SLACK)
        for rank in _growing(first, factors.s.size):
            if 2 * rank * (rows + cols) >= self.limit:
                return
            found = self._try("lowrank", lowrank.encode(factors, rank))
            if found:
                yield found
                return

    def _topk(self) -> Iterator[Candidate]:
        first = sparse.keep_for_error(self.delta, self.target * _ANALYTIC_SLACK)
        for count in _growing(first, self.child.numel):
            if 2 * count >= self.limit:
                return
            found = self._try("topk", sparse.encode_topk(self.delta, count))
            if found:
                yield found
                return

    def _dare(self) -> Iterator[Candidate]:
        seed = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "little") >> 1
        for drop in DARE_DROPS:  # smallest payload first
            if 2 * self.child.numel * (1 - drop) >= self.limit:
                return
            found = self._try("dare", sparse.encode_dare(self.delta, drop, seed))
            if found:
                yield found
                return


def _growing(start: int, stop: int) -> Iterator[int]:
    """start, then ~25% larger steps, ending exactly at ``stop``."""
    value = min(start, stop)
    while True:
        yield value
        if value >= stop:
            return
        value = min(stop, max(value + 1, int(value * _GROWTH)))
