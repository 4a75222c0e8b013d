"""Combining model versions per parameter group: three-way merge and rebase of a fine-tune.

**Merge** (``agigit merge A B``): for each parameter group, a group changed on one side only
(relative to the merge base, the newest common ancestor) takes that side; a group changed on both
sides, or any differing group when A and B share no ancestor, is a *conflict*, resolved by the
group's strategy: ``ours`` (A), ``theirs`` (B) or ``average`` (element-wise mean of the float
tensors, rounded to their dtype; non-float tensors of an averaged group keep A's values and the
conflict says so). Every conflict is reported with the strategy that resolved it.

**Rebase** (``agigit rebase ONTO``): the fine-tune Δ = HEAD − base (base = merge base of HEAD and
ONTO) is carried onto the newer foundation: result = ONTO + Δ, tensor by tensor in float32 (float64
for F64) and rounded to the tensor's dtype. This is task arithmetic (Ilharco et al. 2023,
https://arxiv.org/abs/2212.04089): exact when ONTO = base, an approximation otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from agihub.agigit.errors import UnknownGroupError
from agihub.agigit.groups import group_hashes, require_same_layout, tensor_groups
from agihub.delta.tensors import FLOAT_DTYPES, SafetensorsFile, Tensor

STRATEGIES = ("average", "ours", "theirs")


@dataclass
class MergeReport:
    """Where each group of the merged model came from."""

    taken: dict[str, str] = field(default_factory=dict)  # group -> same|ours|theirs (one side changed)
    conflicts: dict[str, str] = field(default_factory=dict)  # group -> strategy that resolved it
    notes: list[str] = field(default_factory=list)
    parts: dict[str, str] = field(default_factory=dict)  # code/data part -> same|ours|theirs[ (conflict)]

    def to_dict(self) -> dict[str, object]:
        return {"taken": self.taken, "conflicts": self.conflicts, "notes": self.notes, "parts": self.parts}


def check_group_strategies(groups: Mapping[str, str], known: set[str]) -> None:
    """Refuse unknown groups or strategies in ``--group GROUP=STRATEGY``."""
    for group, strategy in groups.items():
        if strategy not in STRATEGIES:
            raise UnknownGroupError(
                f"--group {group}={strategy}: strategy must be one of {', '.join(STRATEGIES)}"
            )
        if group not in known:
            raise UnknownGroupError(
                f"--group {group}: the model has no parameter group {group!r}; groups are: {', '.join(sorted(known))}"
            )


def merge_models(
    ours: str | os.PathLike[str],
    theirs: str | os.PathLike[str],
    base: str | os.PathLike[str] | None,
    strategy: str,
    per_group: Mapping[str, str],
) -> tuple[dict[str, Tensor], MergeReport]:
    """Merge two versions of one architecture; returns the merged tensors and the report."""
    if strategy not in STRATEGIES:
        raise UnknownGroupError(f"--strategy {strategy}: must be one of {', '.join(STRATEGIES)}")
    h_ours, h_theirs = group_hashes(ours), group_hashes(theirs)
    h_base = group_hashes(base) if base is not None else {}
    report = MergeReport()
    with SafetensorsFile.open(ours) as a, SafetensorsFile.open(theirs) as b:
        require_same_layout({"A": a, "B": b})
        check_group_strategies(per_group, set(h_ours))
        merged: dict[str, Tensor] = {}
        for group, names in tensor_groups(a).items():
            side = _side(h_ours[group], h_theirs[group], h_base.get(group))
            if side is None:
                side = per_group.get(group, strategy)
                report.conflicts[group] = side
            else:
                report.taken[group] = side
            for name in names:
                merged[name] = _pick(a.tensor(name), b.tensor(name), side, name, report)
    return merged, report


def _side(ours: str, theirs: str, base: str | None) -> str | None:
    if ours == theirs:
        return "same"
    if base == theirs:
        return "ours"
    if base == ours:
        return "theirs"
    return None


def _pick(a: Tensor, b: Tensor, side: str, name: str, report: MergeReport) -> Tensor:
    if side in ("same", "ours"):
        return a
    if side == "theirs":
        return b
    if a.dtype not in FLOAT_DTYPES:
        if a.data != b.data:
            report.notes.append(f"{name}: {a.dtype} cannot be averaged; kept A's values")
        return a
    mean = (_wide(a) + _wide(b)) / 2
    return Tensor.from_float(mean.astype(_work_dtype(a)), a.dtype)


def rebase_model(
    head: str | os.PathLike[str], base: str | os.PathLike[str], onto: str | os.PathLike[str]
) -> tuple[dict[str, Tensor], list[str]]:
    """ONTO + (HEAD − BASE) per tensor; returns the tensors and notes on non-float tensors."""
    notes: list[str] = []
    with SafetensorsFile.open(head) as h, SafetensorsFile.open(base) as b, SafetensorsFile.open(onto) as o:
        require_same_layout({"HEAD": h, "the merge base": b, "the rebase target": o})
        out: dict[str, Tensor] = {}
        for name in sorted(h.infos):
            th, tb, to = h.tensor(name), b.tensor(name), o.tensor(name)
            out[name] = _carry(th, tb, to, name, notes)
    return out, notes


def _carry(head: Tensor, base: Tensor, onto: Tensor, name: str, notes: list[str]) -> Tensor:
    if head.data == base.data:
        return onto
    if onto.data == base.data:
        return head
    if head.dtype not in FLOAT_DTYPES:
        notes.append(f"{name}: {head.dtype} changed on both sides; kept HEAD's values")
        return head
    result = _wide(onto) + (_wide(head) - _wide(base))
    return Tensor.from_float(result.astype(_work_dtype(head)), head.dtype)


def _work_dtype(tensor: Tensor) -> type:
    return np.float64 if tensor.dtype == "F64" else np.float32


def _wide(tensor: Tensor) -> np.ndarray:
    return tensor.to_float().astype(_work_dtype(tensor))
