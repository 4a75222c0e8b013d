"""Sparse deltas: keep a subset of Δ's values and drop the rest.

* ``topk``: keep the ``count`` largest magnitudes. Their positions are stored as gaps between
  sorted indices (uint32, byte-plane split and zstd, like the lossless codec) because gaps of a
  sparse set are small numbers.
* ``dare``: drop each value with probability ``drop`` and rescale the survivors by
  ``1 / (1 - drop)`` (DARE, arXiv:2311.03099). The mask comes from a counter-based hash
  (splitmix64 of ``seed`` and the index), so it is rebuilt from the seed and costs no bytes,
  and it does not depend on numpy's random generator streams, which may change between releases.

Kept values are stored as float16 after dividing by the float32 param ``scale`` (their max |v|).
Payload (topk): u32 length of the index blob || index blob || zstd(values f16).
Payload (dare): zstd(values f16).
"""

from __future__ import annotations

import struct

import numpy as np

from agihub.delta.errors import DeltaFormatError, DeltaParameterError
from agihub.delta.lossless import compress_planes, decompress_planes, unzstd_bytes, zstd_bytes
from agihub.delta.params import check_float, check_int, check_schema

TOPK_SCHEMA = {"count": int, "scale": float}
DARE_SCHEMA = {"count": int, "drop": float, "seed": int, "scale": float}
MAX_INDEX = 2**32 - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def keep_for_error(delta: np.ndarray, target: float) -> int:
    """Smallest ``count`` whose top-k truncation error ``||Δ - Δ_k|| / ||Δ||`` is at most ``target``."""
    energy = np.sort(np.square(delta.reshape(-1).astype(np.float64)))  # ascending
    total = energy.sum()
    if total == 0:
        return 1
    dropped = np.cumsum(energy)  # dropped[j] = energy of the j+1 smallest values
    can_drop = int(np.searchsorted(dropped, (target**2) * total, side="right"))
    return max(1, energy.size - can_drop)


def encode_topk(delta: np.ndarray, count: int) -> tuple[bytes, dict[str, object]]:
    """Keep the ``count`` values of largest magnitude."""
    flat = delta.reshape(-1)
    if not 1 <= count <= flat.size or flat.size > MAX_INDEX:
        raise DeltaParameterError(f"topk count {count} invalid for {flat.size} values")
    index = np.sort(np.argpartition(np.abs(flat), flat.size - count)[flat.size - count :])
    gaps = np.diff(index, prepend=0).astype("<u4")
    values, scale = _scaled(flat[index])
    blob = compress_planes(gaps.tobytes(), 4)
    return struct.pack("<I", len(blob)) + blob + zstd_bytes(values), {"count": count, "scale": scale}


def decode_topk(payload: bytes, params: dict[str, object], numel: int, what: str) -> np.ndarray:
    """Rebuild the flat float32 delta."""
    count = int(params["count"])  # type: ignore[call-overload]
    if len(payload) < 4:
        raise DeltaFormatError(f"{what}: topk payload too short")
    (blob_len,) = struct.unpack_from("<I", payload)
    blob = payload[4 : 4 + blob_len]
    gaps = np.frombuffer(decompress_planes(blob, 4, 4 * count, what), dtype="<u4").astype(np.int64)
    if count > 1 and (gaps[1:] == 0).any():
        raise DeltaFormatError(f"{what}: topk indices repeat")
    index = np.cumsum(gaps)
    if index[-1] >= numel:
        raise DeltaFormatError(f"{what}: topk index {index[-1]} outside {numel} values")
    values = _unscaled(unzstd_bytes(payload[4 + blob_len :], 2 * count, what), params)
    out = np.zeros(numel, dtype=np.float32)
    out[index] = values
    return out


def dare_mask(numel: int, drop: float, seed: int) -> np.ndarray:
    """Boolean keep-mask: index ``i`` survives when splitmix64(seed, i) / 2**64 >= drop."""
    z = np.uint64(seed) + (np.arange(numel, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 >= drop


def encode_dare(delta: np.ndarray, drop: float, seed: int) -> tuple[bytes, dict[str, object]]:
    """Drop values at random with probability ``drop``; rescale survivors by ``1 / (1 - drop)``."""
    if not 0.0 < drop < 1.0 or not 0 <= seed < 2**63:
        raise DeltaParameterError(f"dare needs 0 < drop < 1 and 0 <= seed < 2**63, got {drop}, {seed}")
    flat = delta.reshape(-1)
    mask = dare_mask(flat.size, drop, seed)
    values, scale = _scaled(flat[mask] / (1.0 - drop))
    params = {"count": int(mask.sum()), "drop": float(drop), "seed": int(seed), "scale": scale}
    return zstd_bytes(values), params


def decode_dare(payload: bytes, params: dict[str, object], numel: int, what: str) -> np.ndarray:
    """Rebuild the flat float32 delta from the seed-derived mask and the stored survivors."""
    mask = dare_mask(numel, float(params["drop"]), int(params["seed"]))  # type: ignore[arg-type]
    count = int(mask.sum())
    if count != params["count"]:
        raise DeltaFormatError(f"{what}: dare mask keeps {count} values, header says {params['count']}")
    out = np.zeros(numel, dtype=np.float32)
    out[mask] = _unscaled(unzstd_bytes(payload, 2 * count, what), params)
    return out


def validate_topk(params: object, numel: int, what: str) -> None:
    """Check the parameters a delta file declares for a topk entry."""
    checked = check_schema(params, TOPK_SCHEMA, what)
    check_int(checked, "count", 1, min(numel, MAX_INDEX), what)
    check_float(checked, "scale", what)


def validate_dare(params: object, numel: int, what: str) -> None:
    """Check the parameters a delta file declares for a dare entry."""
    checked = check_schema(params, DARE_SCHEMA, what)
    check_int(checked, "count", 0, numel, what)
    check_int(checked, "seed", 0, 2**63 - 1, what)
    drop = check_float(checked, "drop", what)
    if drop >= 1.0:
        raise DeltaFormatError(f"{what}: dare drop {drop} must be below 1")
    check_float(checked, "scale", what)


def _scaled(values: np.ndarray) -> tuple[bytes, float]:
    scale = float(np.abs(values).max(initial=0.0)) or 1.0
    return (values / scale).astype("<f2").tobytes(), scale


def _unscaled(raw: bytes, params: dict[str, object]) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f2").astype(np.float32) * np.float32(params["scale"])
