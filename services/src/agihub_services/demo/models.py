"""The demo's models: a small foundation model and a domain fine-tune of it, as real safetensors files.

Weights are generated with a fixed seed (no download); the "fine-tune" changes a few tensors a little,
as real fine-tunes do, so that storing it as a delta against the foundation pays off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

LAYERS = 4
WIDTH = 256


def foundation_tensors(seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {"embed.weight": rng.normal(0, 0.02, (512, WIDTH)).astype(np.float32)}
    for layer in range(LAYERS):
        tensors[f"layers.{layer}.attn.weight"] = rng.normal(0, 0.02, (WIDTH, WIDTH)).astype(np.float32)
        tensors[f"layers.{layer}.mlp.weight"] = rng.normal(0, 0.02, (WIDTH, 2 * WIDTH)).astype(np.float32)
        tensors[f"layers.{layer}.norm.weight"] = np.ones(WIDTH, dtype=np.float32)
    return tensors


def domain_tensors(foundation: dict[str, np.ndarray], seed: int = 11) -> dict[str, np.ndarray]:
    """Fine-tune-like change: a low-rank update to the MLPs, small noise on the norms."""
    rng = np.random.default_rng(seed)
    child = {name: array.copy() for name, array in foundation.items()}
    for layer in range(LAYERS):
        mlp = f"layers.{layer}.mlp.weight"
        u = rng.normal(0, 1e-3, (WIDTH, 4)).astype(np.float32)
        v = rng.normal(0, 1e-3, (4, 2 * WIDTH)).astype(np.float32)
        child[mlp] = child[mlp] + u @ v
        norm = f"layers.{layer}.norm.weight"
        child[norm] = child[norm] + rng.normal(0, 1e-3, WIDTH).astype(np.float32)
    return child


def write(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    save_file(tensors, str(path))
    return path


def same_tensors(path: Path, expected: dict[str, np.ndarray]) -> bool:
    loaded = load_file(str(path))
    return loaded.keys() == expected.keys() and all(np.array_equal(loaded[k], expected[k]) for k in expected)
