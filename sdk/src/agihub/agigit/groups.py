"""Parameter groups: tensors grouped by name prefix up to the layer index, hashed and compared.

``model.layers.3.attn.q_proj.weight`` belongs to group ``model.layers.3``; a name without a numeric
component drops its last component (``embed.weight`` → ``embed``, ``lm_head.weight`` → ``lm_head``).
A group's hash is the sha256 of the canonical JSON list of ``[name, dtype, shape, sha256(bytes)]``
of its tensors sorted by name, so it changes exactly when one of its tensors does.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from agihub.agigit.errors import IncompatibleLayoutError
from agihub.delta.tensors import FLOAT_DTYPES, SafetensorsFile, Tensor


def group_of(name: str) -> str:
    """The parameter group of tensor ``name``."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[: i + 1])
    return ".".join(parts[:-1]) or name


def tensor_groups(names: Iterable[str]) -> dict[str, list[str]]:
    """Group name → sorted tensor names."""
    out: dict[str, list[str]] = {}
    for name in sorted(names):
        out.setdefault(group_of(name), []).append(name)
    return out


def group_hashes(path: str | os.PathLike[str]) -> dict[str, str]:
    """Hash of every parameter group of a safetensors file (one tensor in memory at a time)."""
    return describe(path)[1]


def describe(path: str | os.PathLike[str]) -> tuple[str, dict[str, str]]:
    """(sha256 of the whole file, group hashes): what a commit records about a model file."""
    with SafetensorsFile.open(path) as st:
        out: dict[str, str] = {}
        for group, names in tensor_groups(st).items():
            rows = []
            for name in names:
                tensor = st.tensor(name)
                rows.append([name, tensor.dtype, list(tensor.shape), hashlib.sha256(tensor.data).hexdigest()])
            out[group] = hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()
        return st.sha256(), out


def layout(st: SafetensorsFile) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name → (dtype, shape)."""
    return {name: (info.dtype, tuple(info.shape)) for name, info in st.infos.items()}


def require_same_layout(labels: Mapping[str, SafetensorsFile]) -> None:
    """Raise :class:`IncompatibleLayoutError` naming the first tensor on which two versions differ."""
    items = list(labels.items())
    first_label, first = items[0][0], layout(items[0][1])
    for label, st in items[1:]:
        other = layout(st)
        for name in sorted(set(first) | set(other)):
            a, b = first.get(name), other.get(name)
            if a != b:
                raise IncompatibleLayoutError(
                    f"{first_label} and {label} have different layouts: tensor {name!r} is "
                    f"{_describe(a)} in {first_label} and {_describe(b)} in {label}; only versions of "
                    "the same architecture can be merged or rebased"
                )


def _describe(spec: tuple[str, tuple[int, ...]] | None) -> str:
    return "absent" if spec is None else f"{spec[0]}{list(spec[1])}"


@dataclass(frozen=True)
class GroupDiff:
    """How one parameter group differs between two versions.

    ``status`` is ``changed``, ``added``, ``removed`` or ``reshaped`` (same group, other tensors or
    shapes). For ``changed`` groups, ``l2`` = ‖B−A‖₂ over the group's float tensors, ``relative`` =
    ‖B−A‖₂ / ‖A‖₂ and ``max_abs`` = max |B−A|; ``tensors`` counts the tensors that differ.
    """

    group: str
    status: str
    tensors: int
    numel: int
    l2: float | None = None
    relative: float | None = None
    max_abs: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def diff_models(a_path: str | os.PathLike[str], b_path: str | os.PathLike[str]) -> list[GroupDiff]:
    """Changed, added and removed parameter groups from A to B, with magnitudes."""
    a_hashes, b_hashes = group_hashes(a_path), group_hashes(b_path)
    out: list[GroupDiff] = []
    with SafetensorsFile.open(a_path) as a, SafetensorsFile.open(b_path) as b:
        a_groups, b_groups = tensor_groups(a), tensor_groups(b)
        for group in sorted(set(a_groups) | set(b_groups)):
            if group not in b_groups:
                out.append(GroupDiff(group, "removed", len(a_groups[group]), _numel(a, a_groups[group])))
            elif group not in a_groups:
                out.append(GroupDiff(group, "added", len(b_groups[group]), _numel(b, b_groups[group])))
            elif a_hashes[group] != b_hashes[group]:
                out.append(_changed(group, a, b, a_groups[group], b_groups[group]))
    return out


def _numel(st: SafetensorsFile, names: list[str]) -> int:
    return sum(math.prod(st.infos[name].shape) for name in names)


def _changed(
    group: str, a: SafetensorsFile, b: SafetensorsFile, a_names: list[str], b_names: list[str]
) -> GroupDiff:
    numel = _numel(b, b_names)
    if [layout(a).get(n) for n in a_names] != [layout(b).get(n) for n in b_names] or a_names != b_names:
        return GroupDiff(group, "reshaped", len(set(a_names) ^ set(b_names)) or len(b_names), numel)
    sq_diff = sq_base = 0.0
    max_abs, differing = 0.0, 0
    for name in a_names:
        ta, tb = a.tensor(name), b.tensor(name)
        if ta.data == tb.data:
            continue
        differing += 1
        va, vb = _values(ta), _values(tb)
        delta = vb - va
        sq_diff += float(np.dot(delta.ravel(), delta.ravel()))
        sq_base += float(np.dot(va.ravel(), va.ravel()))
        max_abs = max(max_abs, float(np.max(np.abs(delta))) if delta.size else 0.0)
    l2 = math.sqrt(sq_diff)
    relative = l2 / math.sqrt(sq_base) if sq_base > 0 else math.inf
    return GroupDiff(group, "changed", differing, numel, l2, relative, max_abs)


def _values(tensor: Tensor) -> np.ndarray:
    """float64 values of a tensor (integers and bools widened) for magnitudes."""
    if tensor.dtype in FLOAT_DTYPES:
        return tensor.to_float().astype(np.float64)
    return tensor.array().astype(np.float64)
