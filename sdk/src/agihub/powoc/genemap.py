"""The model gene map: a per-tensor fingerprint that is cheap to compute, store and compare.

Idea from AMGM ("AI Model Gene Map", ../shared/seeds/000_6a5078b17c7dfbe1.txt): describe a model
by its weight "particles". Here each float tensor is summarised by its exact norm, mean and
standard deviation plus the values at ``samples`` fixed positions (chosen by splitmix64 of a
hash of the tensor's name and shape, so every model of a layout samples the same positions).
Comparing two fingerprints estimates, per tensor, the relative change ``‖A − B‖ / ‖B‖`` from the
sampled values (an unbiased estimate of the squared norms' ratio) — no second model file needed,
so foundations can publish their fingerprints alone.

* :func:`fingerprint` reads one safetensors file (one tensor at a time) into a :class:`GeneMap`;
* :func:`compare` lists each tensor's change ("mutations") and a model distance, the median
  relative change over shared tensors (robust to a fine-tune that retrains a few tensors);
* :func:`nearest` names the nearest ancestor among known foundation versions;
* :func:`check_parent` accepts or rejects a claimed parent before scoring (:class:`LineageRejected`);
* :func:`render` prints a per-layer map and writes a heat-map PNG (zlib, no plotting library).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agihub.delta.errors import ModelFileError
from agihub.delta.tensors import FLOAT_DTYPES, SafetensorsFile
from agihub.powoc.errors import LineageRejected, ModelLoadError, ScoreParameterError

DEFAULT_SAMPLES = 1024
DEFAULT_MAX_DISTANCE = 0.5
# a tensor whose estimated relative change is below this is reported as unchanged
UNCHANGED = 1e-9
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class TensorPrint:
    """Fingerprint of one tensor: exact summary statistics plus sampled values."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    norm: float
    mean: float
    std: float
    sample: np.ndarray  # float64 values at the layout's fixed positions (empty for non-float tensors)
    digest: str  # sha256 of the tensor's bytes: exact equality at no extra cost

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (sample as base64 of little-endian float64)."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "norm": self.norm,
                "mean": self.mean, "std": self.std, "digest": self.digest,
                "sample": base64.b64encode(self.sample.astype("<f8").tobytes()).decode()}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TensorPrint:
        """Inverse of :meth:`to_dict`."""
        sample = np.frombuffer(base64.b64decode(raw["sample"]), dtype="<f8").astype(np.float64)
        return cls(raw["name"], raw["dtype"], tuple(raw["shape"]), float(raw["norm"]), float(raw["mean"]),
                   float(raw["std"]), sample, raw["digest"])  # fmt: skip


@dataclass(frozen=True)
class GeneMap:
    """A model's fingerprint: its file's sha256, a label and one :class:`TensorPrint` per tensor."""

    label: str
    sha256: str
    tensors: dict[str, TensorPrint]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"label": self.label, "sha256": self.sha256,
                "tensors": [t.to_dict() for t in self.tensors.values()]}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GeneMap:
        """Inverse of :meth:`to_dict`."""
        prints = [TensorPrint.from_dict(t) for t in raw["tensors"]]
        return cls(raw["label"], raw["sha256"], {t.name: t for t in prints})

    def layout(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """Tensor name -> (dtype, shape)."""
        return {name: (t.dtype, t.shape) for name, t in self.tensors.items()}


@dataclass(frozen=True)
class Mutation:
    """How one tensor differs from the foundation's: estimated relative change and norm ratio."""

    name: str
    rel_change: float
    norm_ratio: float


@dataclass(frozen=True)
class Comparison:
    """A model against one foundation: per-tensor mutations and the model distance."""

    model: str
    foundation: str
    compatible: bool
    distance: float  # median relative change over shared tensors (inf if the layouts differ)
    mutations: tuple[Mutation, ...]  # every shared tensor, largest change first

    def changed(self, threshold: float = UNCHANGED) -> tuple[Mutation, ...]:
        """Mutations above ``threshold``."""
        return tuple(m for m in self.mutations if m.rel_change > threshold)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """JSON-able form (the ``top`` largest mutations only, if given)."""
        rows = self.changed()[:top] if top else self.changed()
        return {"model": self.model, "foundation": self.foundation, "compatible": self.compatible,
                "distance": _finite(self.distance), "changed_tensors": len(self.changed()),
                "tensors": len(self.mutations),
                "mutations": [{"name": m.name, "rel_change": m.rel_change, "norm_ratio": m.norm_ratio}
                              for m in rows]}  # fmt: skip


@dataclass(frozen=True)
class Lineage:
    """Foundations ranked by distance; ``nearest`` is the first compatible one (or None)."""

    nearest: str | None
    ranking: tuple[Comparison, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"nearest": self.nearest,
                "ranking": [{"foundation": c.foundation, "distance": _finite(c.distance)}
                            for c in self.ranking]}  # fmt: skip


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sample_positions(name: str, shape: tuple[int, ...], samples: int) -> np.ndarray:
    """The fixed positions sampled in a tensor of this name and shape (splitmix64 of a name hash)."""
    numel = math.prod(shape)
    if numel == 0:
        return np.zeros(0, dtype=np.int64)
    if numel <= samples:
        return np.arange(numel, dtype=np.int64)
    seed = int.from_bytes(hashlib.sha256(f"{name}|{list(shape)}".encode()).digest()[:8], "little")
    z = np.uint64(seed) + (np.arange(samples, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return np.sort((z % np.uint64(numel)).astype(np.int64))


def fingerprint(
    path: str | os.PathLike[str], samples: int = DEFAULT_SAMPLES, label: str | None = None
) -> GeneMap:
    """The gene map of a safetensors file (reads one tensor at a time)."""
    if type(samples) is not int or samples < 1:
        raise ScoreParameterError(f"samples must be an integer >= 1, got {samples!r}")
    try:
        with SafetensorsFile.open(path) as st:
            prints = {name: _tensor_print(name, st, samples) for name in sorted(st)}
            digest = st.sha256()
    except (ModelFileError, OSError) as exc:
        raise ModelLoadError(f"{path}: cannot fingerprint: {exc}") from None
    return GeneMap(label or str(path), digest, prints)


def _tensor_print(name: str, st: SafetensorsFile, samples: int) -> TensorPrint:
    tensor = st.tensor(name)
    digest = hashlib.sha256(tensor.data).hexdigest()
    if tensor.dtype not in FLOAT_DTYPES or tensor.numel == 0:
        return TensorPrint(name, tensor.dtype, tensor.shape, 0.0, 0.0, 0.0, np.zeros(0), digest)
    values = tensor.to_float().reshape(-1).astype(np.float64)
    picked = values[sample_positions(name, tensor.shape, samples)]
    return TensorPrint(name, tensor.dtype, tensor.shape, float(np.linalg.norm(values)), float(values.mean()),
                       float(values.std()), picked, digest)  # fmt: skip


def _as_map(model: GeneMap | str | os.PathLike[str]) -> GeneMap:
    return model if isinstance(model, GeneMap) else fingerprint(model)


def compare(
    model: GeneMap | str | os.PathLike[str], foundation: GeneMap | str | os.PathLike[str]
) -> Comparison:
    """Per-tensor mutations of ``model`` against ``foundation`` and their median (the distance)."""
    a, b = _as_map(model), _as_map(foundation)
    if a.layout() != b.layout():
        return Comparison(a.label, b.label, False, math.inf, ())
    mutations = [_mutation(a.tensors[name], b.tensors[name]) for name in a.tensors]
    mutations.sort(key=lambda m: (-m.rel_change, m.name))
    distance = float(np.median([m.rel_change for m in mutations])) if mutations else 0.0
    return Comparison(a.label, b.label, True, distance, tuple(mutations))


def _mutation(a: TensorPrint, b: TensorPrint) -> Mutation:
    if a.digest == b.digest:
        return Mutation(a.name, 0.0, 1.0)
    if a.sample.size == 0:  # integer tensors: changed or not
        return Mutation(a.name, 1.0, 1.0)
    base = float(np.linalg.norm(b.sample)) or 1.0
    change = float(np.linalg.norm(a.sample - b.sample)) / base
    ratio = a.norm / b.norm if b.norm else math.inf
    return Mutation(a.name, max(change, UNCHANGED * 2), ratio)  # bytes differ: never report 0


def nearest(
    model: GeneMap | str | os.PathLike[str], foundations: Sequence[GeneMap | str | os.PathLike[str]]
) -> Lineage:
    """Rank foundation versions by distance to ``model``; the nearest compatible one is the ancestor."""
    target = _as_map(model)
    ranking = sorted((compare(target, f) for f in foundations), key=lambda c: (c.distance, c.foundation))
    first = next((c.foundation for c in ranking if c.compatible), None)
    return Lineage(first, tuple(ranking))


def check_parent(
    child: GeneMap | str | os.PathLike[str],
    claimed_parent: GeneMap | str | os.PathLike[str],
    foundations: Sequence[GeneMap | str | os.PathLike[str]] = (),
    max_distance: float = DEFAULT_MAX_DISTANCE,
) -> Lineage:
    """Accept ``claimed_parent`` or raise :class:`LineageRejected`.

    Rejected when the layouts differ, when the child moved more than ``max_distance`` (median
    relative change) from it — a model trained from elsewhere — or when one of ``foundations``
    is strictly nearer to the child.
    """
    target, parent = _as_map(child), _as_map(claimed_parent)
    own = compare(target, parent)
    maps = [_as_map(f) for f in foundations]
    rivals = [compare(target, m) for m in maps if m.sha256 != parent.sha256]
    ranking = tuple(sorted([own, *rivals], key=lambda c: c.distance))
    if not own.compatible:
        raise LineageRejected(f"{target.label}: tensor layout differs from the claimed parent {parent.label}")
    if own.distance > max_distance:
        raise LineageRejected(
            f"{target.label} is not derived from {parent.label}: median relative change "
            f"{own.distance:.3g} > {max_distance} (a model trained elsewhere, or a different parent)"
        )
    closer = [c for c in rivals if c.distance < own.distance]
    if closer:
        best = min(closer, key=lambda c: c.distance)
        raise LineageRejected(
            f"{target.label}: the nearest ancestor is {best.foundation} (distance {best.distance:.3g}), "
            f"not the claimed parent {parent.label} ({own.distance:.3g})"
        )
    return Lineage(parent.label, ranking)


# --- the per-layer map and its heat-map PNG ------------------------------------------------------

_LAYER = re.compile(r"^(?P<prefix>.*?)(?:^|\.)(?P<index>\d+)\.(?P<kind>.+)$")
_CELL, _GAP = 14, 1
# viridis at five stops, interpolated linearly (public colour map, matplotlib's default)
_STOPS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def layer_grid(names: Sequence[str]) -> tuple[list[str], list[str], dict[str, tuple[int, int]]]:
    """Rows (layers, then ``other``), columns (tensor kinds) and each name's (row, column) cell."""
    rows: list[str] = []
    kinds: list[str] = []
    cells: dict[str, tuple[str, str]] = {}
    others: list[str] = []
    for name in names:
        match = _LAYER.match(name)
        if match is None:
            others.append(name)
            continue
        row, kind = f"layer {int(match['index']):>3}", match["kind"]
        rows += [row] if row not in rows else []
        kinds += [kind] if kind not in kinds else []
        cells[name] = (row, kind)
    rows.sort()
    placed = {name: (rows.index(r), kinds.index(k)) for name, (r, k) in cells.items()}
    if others:
        rows.append("other")
        placed.update({name: (len(rows) - 1, i) for i, name in enumerate(others)})
    columns = max(len(kinds), len(others))
    return rows, [*kinds, *[""] * (columns - len(kinds))], placed


def render(
    model: GeneMap | str | os.PathLike[str],
    against: Sequence[GeneMap | str | os.PathLike[str]] = (),
    png: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The per-layer map of ``model`` (vs. its nearest foundation, if ``against`` is given).

    Returns ``{"text": str, "lineage": ..., "comparison": ..., "png": path | None}``; the cell
    value is log10 of the relative change against the nearest foundation, or log10 of the
    tensor's RMS value without foundations.
    """
    target = _as_map(model)
    lineage = nearest(target, [_as_map(f) for f in against]) if against else None
    comparison = None
    if lineage is not None and lineage.nearest is not None:
        comparison = next(c for c in lineage.ranking if c.foundation == lineage.nearest)
        values = {m.name: m.rel_change for m in comparison.mutations}
        low, high, what = -6.0, 0.0, f"log10 relative change vs {lineage.nearest}"
    else:
        values = {name: _rms(t) for name, t in target.tensors.items()}
        low, high, what = -4.0, 1.0, "log10 RMS of the weights"
    logs = {name: math.log10(max(v, 10.0**low)) for name, v in values.items()}
    rows, columns, cells = layer_grid(list(target.tensors))
    text = _text_map(target, lineage, comparison, rows, columns, cells, logs, what)
    written = None
    if png is not None:
        grid = [[None] * len(columns) for _ in rows]
        for name, (r, c) in cells.items():
            grid[r][c] = (min(max(logs.get(name, low), low), high) - low) / (high - low)
        written = write_png(png, grid)
    return {"text": text, "lineage": lineage.to_dict() if lineage else None,
            "comparison": comparison.to_dict(top=20) if comparison else None,
            "png": str(written) if written else None, "scale": what}  # fmt: skip


def _rms(t: TensorPrint) -> float:
    count = math.prod(t.shape)
    return t.norm / math.sqrt(count) if count else 0.0


def _text_map(target: GeneMap, lineage: Lineage | None, comparison: Comparison | None, rows: list[str],
              columns: list[str], cells: dict[str, tuple[int, int]], logs: dict[str, float],
              what: str) -> str:  # fmt: skip
    lines = [f"gene map of {target.label} ({len(target.tensors)} tensors, sha256 {target.sha256[:16]}…)"]
    if lineage is not None:
        for c in lineage.ranking:
            lines.append(f"  foundation {c.foundation}: distance "
                         f"{c.distance:.3g}" + ("" if c.compatible else " (other layout)"))  # fmt: skip
        lines.append(f"  nearest ancestor: {lineage.nearest or 'none (no compatible foundation)'}")
    if comparison is not None:
        changed = comparison.changed()
        lines.append(f"  mutations: {len(changed)} of {len(comparison.mutations)} tensors changed")
        lines += [
            f"    {m.name:<40} rel change {m.rel_change:.3g}  norm x{m.norm_ratio:.4f}" for m in changed[:10]
        ]
    lines.append(f"  per-layer map ({what}):")
    by_cell = {cell: name for name, cell in cells.items()}
    for r, row in enumerate(rows):
        parts = [f"{(by_cell[(r, c)] if row == 'other' else columns[c])}={logs[by_cell[(r, c)]]:+.1f}"
                 for c in range(len(columns)) if (r, c) in by_cell]  # fmt: skip
        lines.append(f"    {row:<9} " + "  ".join(parts))
    return "\n".join(lines)


def _colour(value: float | None) -> tuple[int, int, int]:
    if value is None:
        return (255, 255, 255)
    pos = value * (len(_STOPS) - 1)
    i = min(int(pos), len(_STOPS) - 2)
    frac = pos - i
    return tuple(round(a + (b - a) * frac) for a, b in zip(_STOPS[i], _STOPS[i + 1], strict=True))  # type: ignore[return-value]


def write_png(path: str | os.PathLike[str], grid: Sequence[Sequence[float | None]]) -> Path:
    """Write a heat map (values in [0, 1], None = blank) as an 8-bit RGB PNG; returns the path.

    PNG: https://www.w3.org/TR/png/ — signature, IHDR, one zlib IDAT of filter-0 scanlines, IEND.
    """
    rows, cols = len(grid), max((len(r) for r in grid), default=0)
    width, height = cols * (_CELL + _GAP) + _GAP, rows * (_CELL + _GAP) + _GAP
    image = np.full((height, width, 3), 230, dtype=np.uint8)
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            y, x = _GAP + r * (_CELL + _GAP), _GAP + c * (_CELL + _GAP)
            image[y : y + _CELL, x : x + _CELL] = _colour(value)
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def save_map(gene_map: GeneMap, path: str | os.PathLike[str]) -> Path:
    """Store a fingerprint as JSON (what a foundation can publish instead of its weights)."""
    target = Path(path)
    target.write_text(json.dumps(gene_map.to_dict(), sort_keys=True))
    return target


def load_map(path: str | os.PathLike[str]) -> GeneMap:
    """Read a fingerprint written by :func:`save_map`."""
    try:
        return GeneMap.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: not a gene-map JSON file ({exc})") from None
