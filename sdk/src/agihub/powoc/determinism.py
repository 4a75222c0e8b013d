"""Deterministic CPU evaluation: fixed thread count, deterministic algorithms, float64 arithmetic.

Bit-identical scores across processes rest on three things:

1. the evaluation runs in float64 (weights stored in float32/bf16 are widened exactly), so the
   rounding differences between BLAS kernels, thread splits or CPUs are ~1e-16 relative;
2. every per-byte code length is then rounded to a fixed-point grid of 2**-FIXED_POINT_BITS bits
   (see :mod:`agihub.powoc.metric`), so such differences vanish unless a value sits within
   ~1e-16 of a grid boundary, and the sum is an exact integer — independent of summation order;
3. torch runs with a fixed thread count and ``torch.use_deterministic_algorithms(True)`` while
   scoring, and both settings are restored afterwards (the caller may be a worker with its own).

Torch is imported lazily: ``import agihub.powoc`` works without the ``powoc`` extra.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from agihub.powoc.errors import ScoreParameterError

DEFAULT_THREADS = 1


def require_torch() -> Any:
    """Import torch or explain how to get it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - the test environment has torch
        raise ScoreParameterError(
            "scoring needs torch: install the SDK's extra with `pip install 'agihub[powoc]'`"
        ) from None
    return torch


@contextlib.contextmanager
def deterministic(threads: int = DEFAULT_THREADS) -> Iterator[Any]:
    """Run the body with ``threads`` intra-op threads and deterministic algorithms; yields torch."""
    if type(threads) is not int or threads < 1:
        raise ScoreParameterError(f"threads must be an integer >= 1, got {threads!r}")
    torch = require_torch()
    saved_threads = torch.get_num_threads()
    saved_det = torch.are_deterministic_algorithms_enabled()
    saved_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.inference_mode():
            yield torch
    finally:
        torch.use_deterministic_algorithms(saved_det, warn_only=saved_warn)
        torch.set_num_threads(saved_threads)
