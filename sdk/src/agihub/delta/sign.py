"""1-bit delta: the sign of every value times one scale per row (BitDelta, arXiv:2402.10193).

For a row ``d`` the scale minimising ``||d - s * sign(d)||`` is ``mean(|d|)``, which we use instead
of BitDelta's learned scale so that encoding needs no calibration data. Tensors with fewer than two
axes get a single scale.

Payload: zstd( row scales[f16, divided by the float32 param ``scale``] || sign bits, LSB first,
1 = non-negative ).
"""

from __future__ import annotations

import numpy as np

from agihub.delta.errors import DeltaFormatError
from agihub.delta.lossless import unzstd_bytes, zstd_bytes
from agihub.delta.params import check_float, check_schema
from agihub.delta.tensors import matrix_shape

SCHEMA = {"scale": float}


def encode(delta: np.ndarray, shape: tuple[int, ...]) -> tuple[bytes, dict[str, object]]:
    """Encode ``delta`` (any shape with ``shape``'s element count) as signs and row scales."""
    rows, cols = matrix_shape(shape)
    matrix = delta.reshape(rows, cols).astype(np.float32)
    row_scale = np.abs(matrix).mean(axis=1) if cols else np.zeros(rows, dtype=np.float32)
    scale = float(row_scale.max(initial=0.0)) or 1.0
    scale16 = (row_scale / scale).astype("<f2")
    signs = np.packbits((matrix >= 0).reshape(-1), bitorder="little")
    return zstd_bytes(scale16.tobytes() + signs.tobytes()), {"scale": scale}


def decode(payload: bytes, params: dict[str, object], shape: tuple[int, ...], what: str) -> np.ndarray:
    """Rebuild the flat float32 delta."""
    rows, cols = matrix_shape(shape)
    raw = unzstd_bytes(payload, 2 * rows + -(-rows * cols // 8), what)
    scales = np.frombuffer(raw, dtype="<f2", count=rows).astype(np.float32) * np.float32(params["scale"])
    if not np.isfinite(scales).all():
        raise DeltaFormatError(f"{what}: sign scales decode to non-finite values")
    bits = np.unpackbits(np.frombuffer(raw[2 * rows :], dtype=np.uint8), bitorder="little", count=rows * cols)
    signs = bits.reshape(rows, cols).astype(np.float32) * 2 - 1
    return (signs * scales[:, None]).reshape(-1)


def validate(params: object, shape: tuple[int, ...], what: str) -> None:
    """Check the parameters a delta file declares for a sign entry."""
    check_float(check_schema(params, SCHEMA, what), "scale", what)
