"""The catalogue of per-tensor encodings: their ids, parameter checks and decoders.

=========  ========  ===========================================  ==========================
id         exact?    params                                       module
=========  ========  ===========================================  ==========================
lossless   yes       transform ("xor" | "sub")                    :mod:`agihub.delta.lossless`
lowrank    no        rank, scale_a, scale_b                       :mod:`agihub.delta.lowrank`
quant      no        bits (2..8), group, scale                    :mod:`agihub.delta.quantize`
topk       no        count, scale                                 :mod:`agihub.delta.sparse`
dare       no        count, drop, seed, scale                     :mod:`agihub.delta.sparse`
sign       no        scale                                        :mod:`agihub.delta.sign`
=========  ========  ===========================================  ==========================

A lossy tensor is rebuilt as ``round_to_dtype(parent + Δ̂)`` by :func:`apply_lossy`, the one
function both the encoder (to measure fidelity) and ``apply_delta`` use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import numpy as np

from agihub.delta import lossless, lowrank, quantize, sign, sparse
from agihub.delta.errors import DeltaFormatError, UnknownEncodingError
from agihub.delta.params import check_schema
from agihub.delta.tensors import FLOAT_DTYPES, Tensor, itemsize

LOSSLESS = "lossless"
LOSSLESS_SCHEMA = {"transform": str}


@dataclass(frozen=True)
class LossyCodec:
    """Decoder and parameter check of one lossy encoding."""

    decode: Callable[[bytes, dict[str, object], tuple[int, ...], str], np.ndarray]
    validate: Callable[[object, tuple[int, ...], str], None]


LOSSY: dict[str, LossyCodec] = {
    "lowrank": LossyCodec(lowrank.decode, lowrank.validate),
    "quant": LossyCodec(
        lambda payload, params, shape, what: quantize.decode(payload, params, prod(shape), what),
        quantize.validate,
    ),
    "topk": LossyCodec(
        lambda payload, params, shape, what: sparse.decode_topk(payload, params, prod(shape), what),
        lambda params, shape, what: sparse.validate_topk(params, prod(shape), what),
    ),
    "dare": LossyCodec(
        lambda payload, params, shape, what: sparse.decode_dare(payload, params, prod(shape), what),
        lambda params, shape, what: sparse.validate_dare(params, prod(shape), what),
    ),
    "sign": LossyCodec(sign.decode, sign.validate),
}
ENCODINGS = (LOSSLESS, *LOSSY)


def validate(encoding: str, params: object, dtype: str, shape: tuple[int, ...], base: str, what: str) -> None:
    """Check an entry's encoding id and parameters before anything is decoded."""
    if encoding == LOSSLESS:
        checked = check_schema(params, LOSSLESS_SCHEMA, what)
        if checked["transform"] not in lossless.TRANSFORMS:
            raise DeltaFormatError(f"{what}: unknown lossless transform {checked['transform']!r}")
        if base == "zero" and checked["transform"] != "xor":
            raise DeltaFormatError(f"{what}: a tensor encoded against zeros must use transform 'xor'")
        return
    codec = LOSSY.get(encoding)
    if codec is None:
        raise UnknownEncodingError(f"{what}: unknown encoding {encoding!r}; this SDK knows {ENCODINGS}")
    if dtype not in FLOAT_DTYPES:
        raise DeltaFormatError(f"{what}: lossy encoding {encoding!r} on non-float dtype {dtype}")
    if prod(shape) == 0:
        raise DeltaFormatError(f"{what}: lossy encoding {encoding!r} on an empty tensor")
    codec.validate(params, shape, what)


def base_values(parent: Tensor | None, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The float values Δ is added to: the parent's, or zeros for a tensor new in the child."""
    if parent is None:
        work = np.float64 if dtype == "F64" else np.float32
        return np.zeros(shape, dtype=work)
    return parent.to_float()


def apply_lossy(base: np.ndarray, delta_hat: np.ndarray, dtype: str) -> Tensor:
    """``round_to_dtype(base + Δ̂)``: the reconstruction a lossy entry stands for."""
    return Tensor.from_float(base + delta_hat.reshape(base.shape).astype(base.dtype), dtype)


def decode_entry(
    encoding: str,
    params: dict[str, object],
    payload: bytes,
    parent: Tensor | None,
    dtype: str,
    shape: tuple[int, ...],
    what: str,
) -> Tensor:
    """Rebuild one child tensor from its (already validated) entry and payload."""
    if encoding == LOSSLESS:
        size = itemsize(dtype)
        data = lossless.decode(
            payload,
            parent.data if parent is not None else None,
            size,
            prod(shape) * size,
            str(params["transform"]),
            what,
        )
        return Tensor(dtype, shape, data)
    delta_hat = LOSSY[encoding].decode(payload, params, shape, what)
    return apply_lossy(base_values(parent, dtype, shape), delta_hat, dtype)
