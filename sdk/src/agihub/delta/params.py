"""Strict checks of the ``params`` object a delta file declares for each tensor entry.

A delta file comes from an untrusted relay, so every parameter is checked for its exact key set,
its exact JSON type (``2.0`` is not an int, ``true`` is not a number) and its range before any
decoder allocates memory from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from agihub.delta.errors import DeltaFormatError


def check_schema(params: object, schema: Mapping[str, type], what: str) -> dict[str, object]:
    """Require exactly the keys of ``schema``, each of exactly its type; return the params dict."""
    if not isinstance(params, dict):
        raise DeltaFormatError(f"{what}: params must be a JSON object")
    if set(params) != set(schema):
        raise DeltaFormatError(f"{what}: params keys {sorted(params)} != expected {sorted(schema)}")
    for key, kind in schema.items():
        if type(params[key]) is not kind:
            raise DeltaFormatError(f"{what}: param {key!r} must be {kind.__name__}, got {params[key]!r}")
    return params


def check_int(params: Mapping[str, object], key: str, low: int, high: int, what: str) -> int:
    """An int parameter within ``low..high`` inclusive."""
    value = params[key]
    if type(value) is not int or not low <= value <= high:
        raise DeltaFormatError(f"{what}: param {key!r}={value!r} outside {low}..{high}")
    return value


def check_float(params: Mapping[str, object], key: str, what: str, *, positive: bool = True) -> float:
    """A finite float parameter (strictly positive unless ``positive`` is False)."""
    value = params[key]
    if type(value) is not float or not math.isfinite(value) or (positive and value <= 0):
        raise DeltaFormatError(f"{what}: param {key!r}={value!r} must be a finite positive float")
    return value
