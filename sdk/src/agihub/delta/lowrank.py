"""Low-rank delta: truncated SVD of Δ viewed as a matrix, ``Δ ≈ A @ B`` with rank ``r``.

Fine-tuning updates are close to low rank (the observation behind LoRA, arXiv:2106.09685), so
a few singular directions often carry most of Δ's energy. The SVD runs in float32 (float64 for
F64 tensors); the rank is the smallest whose discarded energy meets a relative Frobenius target,
because ``||Δ - Δ_r||_F^2`` is exactly the sum of the discarded squared singular values.

Stored: ``A = U_r sqrt(S_r)`` and ``B = sqrt(S_r) V_r^T`` as float16 after dividing each by its own
float32 max-abs scale (params ``scale_a``, ``scale_b``), so tiny deltas do not underflow float16.
Payload: zstd( A[f16, rows x r] || B[f16, r x cols] ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agihub.delta.errors import DeltaFormatError, DeltaParameterError
from agihub.delta.lossless import unzstd_bytes, zstd_bytes
from agihub.delta.params import check_float, check_int, check_schema
from agihub.delta.tensors import matrix_shape

SCHEMA = {"rank": int, "scale_a": float, "scale_b": float}


@dataclass(frozen=True)
class Factors:
    """The thin SVD of a delta matrix."""

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray


def factorize(delta: np.ndarray, shape: tuple[int, ...]) -> Factors:
    """Thin SVD of ``delta`` viewed as a ``matrix_shape(shape)`` matrix."""
    rows, cols = matrix_shape(shape)
    work = np.float64 if delta.dtype == np.float64 else np.float32
    u, s, vt = np.linalg.svd(delta.reshape(rows, cols).astype(work), full_matrices=False)
    return Factors(u, s, vt)


def rank_for_error(s: np.ndarray, target: float) -> int:
    """Smallest rank >= 1 whose truncation error ``||Δ - Δ_r|| / ||Δ||`` is at most ``target``."""
    energy = np.square(s.astype(np.float64))
    total = energy.sum()
    if total == 0:
        return 1
    # tail[r] = energy discarded when keeping the top r singular values (tail[0] = everything)
    tail = np.concatenate([[total], total - np.cumsum(energy)])
    meets = np.nonzero(tail <= (target**2) * total)[0]
    return max(1, int(meets[0]) if meets.size else s.size)


def encode(factors: Factors, rank: int) -> tuple[bytes, dict[str, object]]:
    """Keep the top ``rank`` singular directions."""
    if not 1 <= rank <= factors.s.size:
        raise DeltaParameterError(f"rank {rank} outside 1..{factors.s.size}")
    root = np.sqrt(factors.s[:rank])
    a = factors.u[:, :rank] * root[None, :]
    b = root[:, None] * factors.vt[:rank]
    scale_a = float(np.abs(a).max(initial=0.0)) or 1.0
    scale_b = float(np.abs(b).max(initial=0.0)) or 1.0
    blob = (a / scale_a).astype("<f2").tobytes() + (b / scale_b).astype("<f2").tobytes()
    return zstd_bytes(blob), {"rank": rank, "scale_a": scale_a, "scale_b": scale_b}


def decode(payload: bytes, params: dict[str, object], shape: tuple[int, ...], what: str) -> np.ndarray:
    """Rebuild the flat float32 delta ``A @ B``."""
    rows, cols = matrix_shape(shape)
    rank = int(params["rank"])  # type: ignore[call-overload]
    raw = unzstd_bytes(payload, 2 * rank * (rows + cols), what)
    a = np.frombuffer(raw, dtype="<f2", count=rows * rank).astype(np.float32).reshape(rows, rank)
    b = np.frombuffer(raw, dtype="<f2", offset=2 * rows * rank).astype(np.float32).reshape(rank, cols)
    a *= np.float32(params["scale_a"])
    b *= np.float32(params["scale_b"])
    out = (a @ b).reshape(-1)
    if not np.isfinite(out).all():
        raise DeltaFormatError(f"{what}: low-rank factors decode to non-finite values")
    return out


def validate(params: object, shape: tuple[int, ...], what: str) -> None:
    """Check the parameters a delta file declares for a lowrank entry."""
    checked = check_schema(params, SCHEMA, what)
    rows, cols = matrix_shape(shape)
    check_int(checked, "rank", 1, max(1, min(rows, cols)), what)
    check_float(checked, "scale_a", what)
    check_float(checked, "scale_b", what)
