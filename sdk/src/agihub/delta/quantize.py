"""k-bit quantisation of a delta with one (offset, step) pair per group of consecutive values.

Each group of ``group`` values gets an affine grid ``lo + step * q`` with ``q`` in ``0 .. 2**bits - 1``
covering its range (as in GPTQ/AWQ-style group quantisation, applied to Δ instead of W). The
per-group ``lo`` and ``step`` are stored as float16 after dividing by one float32 per-tensor
scale, and the codes are quantised against the *stored* (rounded) grid so decode matches encode.

Payload: zstd( lo[f16] * groups || step[f16] * groups || codes packed ``bits`` per value, LSB first ).
"""

from __future__ import annotations

import numpy as np

from agihub.delta.errors import DeltaFormatError, DeltaParameterError
from agihub.delta.lossless import unzstd_bytes, zstd_bytes
from agihub.delta.params import check_float, check_int, check_schema

BITS = range(2, 9)
GROUPS = (32, 64, 128, 256)
SCHEMA = {"bits": int, "group": int, "scale": float}


def encode(delta: np.ndarray, bits: int, group: int) -> tuple[bytes, dict[str, object]]:
    """Quantise the flat ``delta`` to ``bits`` bits per value in groups of ``group``."""
    if bits not in BITS or group not in GROUPS:
        raise DeltaParameterError(f"quant needs bits in 2..8 and group in {GROUPS}, got {bits}, {group}")
    flat = delta.reshape(-1).astype(np.float32)
    padded = np.zeros(-(-flat.size // group) * group, dtype=np.float32)
    padded[: flat.size] = flat
    grid = padded.reshape(-1, group)
    levels = (1 << bits) - 1
    lo = grid.min(axis=1)
    step = (grid.max(axis=1) - lo) / levels
    scale = float(max(np.abs(lo).max(initial=0.0), step.max(initial=0.0))) or 1.0
    lo16 = (lo / scale).astype(np.float16)
    step16 = (step / scale).astype(np.float16)
    lo_q, step_q = _grid(lo16, step16, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        codes = np.where(step_q[:, None] > 0, np.rint((grid - lo_q[:, None]) / step_q[:, None]), 0)
    codes = np.clip(codes, 0, levels).astype(np.uint8)
    payload = zstd_bytes(lo16.astype("<f2").tobytes() + step16.astype("<f2").tobytes() + _pack(codes, bits))
    return payload, {"bits": bits, "group": group, "scale": scale}


def decode(payload: bytes, params: dict[str, object], numel: int, what: str) -> np.ndarray:
    """Rebuild the flat float32 delta of ``numel`` values."""
    bits, group, scale = int(params["bits"]), int(params["group"]), float(params["scale"])  # type: ignore[arg-type]
    groups = -(-numel // group)
    packed_len = -(-groups * group * bits // 8)
    raw = unzstd_bytes(payload, 4 * groups + packed_len, what)
    lo16 = np.frombuffer(raw, dtype="<f2", count=groups)
    step16 = np.frombuffer(raw, dtype="<f2", count=groups, offset=2 * groups)
    codes = _unpack(raw[4 * groups :], bits, groups * group).reshape(groups, group)
    lo_q, step_q = _grid(lo16, step16, scale)
    values = lo_q[:, None] + codes.astype(np.float32) * step_q[:, None]
    if not np.isfinite(values).all():
        raise DeltaFormatError(f"{what}: quantisation grid decodes to non-finite values")
    return values.reshape(-1)[:numel]


def validate(params: object, shape: tuple[int, ...], what: str) -> None:
    """Check the parameters a delta file declares for a quant entry."""
    checked = check_schema(params, SCHEMA, what)
    check_int(checked, "bits", BITS.start, BITS.stop - 1, what)
    if checked["group"] not in GROUPS:
        raise DeltaFormatError(f"{what}: quant group {checked['group']} not in {GROUPS}")
    check_float(checked, "scale", what)


def _grid(lo16: np.ndarray, step16: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    return lo16.astype(np.float32) * np.float32(scale), step16.astype(np.float32) * np.float32(scale)


def _pack(codes: np.ndarray, bits: int) -> bytes:
    unpacked = np.unpackbits(codes.reshape(-1, 1), axis=1, bitorder="little")[:, :bits]
    return np.packbits(unpacked.reshape(-1), bitorder="little").tobytes()


def _unpack(packed: bytes, bits: int, count: int) -> np.ndarray:
    flat = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), bitorder="little", count=count * bits)
    weights = (1 << np.arange(bits, dtype=np.uint16)).astype(np.uint16)
    return (flat.reshape(count, bits).astype(np.uint16) @ weights).astype(np.uint8)
