"""Helpers shared by the storage tests (imported by name: the test directory is on sys.path)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from agihub.storage.package import shard_name


def write_model(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> Path:
    """Write a safetensors file with the reference library."""
    save_file(tensors, str(path), metadata=metadata)
    return path


def small_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    """A few tensors of mixed dtypes and sizes (~40 KB)."""
    rng = np.random.default_rng(seed)
    return {
        "embed": rng.standard_normal((64, 48)).astype(np.float32),
        "norm": rng.standard_normal(48).astype(np.float16),
        "head": rng.integers(-100, 100, (40, 50), dtype=np.int64),
        "mask": rng.integers(0, 2, 33).astype(bool),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def raw_safetensors(header: dict[str, Any], data: bytes, pad_to: int | None = None) -> bytes:
    """Build a safetensors file by hand (to create malformed ones)."""
    text = json.dumps(header).encode()
    if pad_to:
        text += b" " * (-len(text) % pad_to)
    return struct.pack("<Q", len(text)) + text + data


def shards_of(out_dir: Path, n: int) -> list[Path]:
    """The n shard paths of a package directory."""
    return [out_dir / shard_name(i) for i in range(n)]
