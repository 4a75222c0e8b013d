"""``score_contribution``: the PoWoC score of a child model against its parent, and its record.

Steps (each failure is a typed :mod:`agihub.powoc.errors` error and no score):

1. both files are models of the LM family with the same tensor layout (:class:`LayoutMismatch`);
2. the gene map accepts the claimed parent (:class:`LineageRejected`, see :mod:`.genemap`);
3. D is sampled from the spec (:class:`ValidationSetMismatch` if it misses its commitment);
4. the delta: the given package must name the parent and the child and rebuild the child
   (:class:`DeltaRootMismatch`); without one, candidates are built with :mod:`agihub.delta` —
   lossless, and lossy at each budget of ``budgets`` — and the one with the highest score (the
   minimum total description length ``L(D|child) × N/|D| + L(Δ)``) is kept;
5. L(D|P) and L(D|child) are measured on the model each delta really rebuilds (for a lossy delta,
   parent + Δ̂, not the original child), in float64 with a fixed thread count.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agihub.delta import Budget, apply_delta, encode_delta, read_header
from agihub.delta.errors import ModelFileError, ReconstructionError, WrongParentError
from agihub.delta.tensors import SafetensorsFile
from agihub.powoc import genemap, lmconfig
from agihub.powoc.corpus import ValidationSet, ValidationSpec, sample
from agihub.powoc.determinism import DEFAULT_THREADS, deterministic, require_torch
from agihub.powoc.errors import DeltaRootMismatch, LayoutMismatch, ModelLoadError, ScoreParameterError
from agihub.powoc.metric import CodeLength, code_length, exact_decimal, score_bits

log = logging.getLogger(__name__)

RECORD_VERSION = "agihub-powoc-score/1"
COMPRESSIONS = ("mdl", "lossless", "lossy")
MDL_BUDGETS = (0.05, 0.1, 0.2, 0.35, 0.5)
MAX_ONCHAIN_SCORE = 2**64 - 1  # contracts: MAX_SCORE


@dataclass(frozen=True)
class ScoreRecord:
    """Everything needed to recompute a score, and the score. JSON round trip: to_dict/from_dict.

    ``timings`` is the only field that differs between two runs; :meth:`digest` leaves it out.
    """

    parent: dict[str, Any]  # sha256, size, root
    child: dict[str, Any]  # sha256, size, root (the claimed child)
    delta: dict[str, Any]  # sha256, bytes, mode, budget, source, evaluated_sha256, bytes_by_encoding
    validation: dict[str, Any]  # the spec, corpus sha256, set sha256, scored bytes
    parent_units: int  # L(D|P) in 2**-16 bits
    child_units: int  # L(D|child) in 2**-16 bits
    reference_bytes: int
    score_bits: int
    lineage: dict[str, Any] | None
    candidates: tuple[dict[str, Any], ...]
    code_version: str
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def scored_bytes(self) -> int:
        """|D|."""
        return int(self.validation["scored_bytes"])

    @property
    def bits_per_byte(self) -> float:
        """The score per byte of the reference data (per validation byte when N = |D|)."""
        return self.score_bits / self.reference_bytes

    @property
    def parent_bits_per_byte(self) -> float:
        """L(D|P) / |D|."""
        return self.parent_units / 65536 / self.scored_bytes

    @property
    def child_bits_per_byte(self) -> float:
        """L(D|child) / |D|."""
        return self.child_units / 65536 / self.scored_bytes

    @property
    def onchain_score(self) -> int:
        """What a validator commits on chain: the score clamped to 0..2**64-1 (contracts take uint)."""
        return min(max(self.score_bits, 0), MAX_ONCHAIN_SCORE)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with exact code lengths and the derived per-byte figures."""
        raw = asdict(self)
        raw["candidates"] = list(self.candidates)
        raw.update(version=RECORD_VERSION, parent_bits=exact_decimal(self.parent_units),
                   child_bits=exact_decimal(self.child_units), delta_bits=8 * self.delta["bytes"],
                   bits_per_byte=self.bits_per_byte, parent_bits_per_byte=self.parent_bits_per_byte,
                   child_bits_per_byte=self.child_bits_per_byte, onchain_score=self.onchain_score)  # fmt: skip
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScoreRecord:
        """Inverse of :meth:`to_dict` (derived figures are recomputed, not trusted)."""
        if raw.get("version") != RECORD_VERSION:
            raise ScoreParameterError(
                f"score record version {raw.get('version')!r}; this SDK reads {RECORD_VERSION}"
            )
        names = {f for f in cls.__dataclass_fields__}
        try:
            kept = {k: v for k, v in raw.items() if k in names}
            kept["candidates"] = tuple(kept["candidates"])
            return cls(**kept)
        except (KeyError, TypeError) as exc:
            raise ScoreParameterError(f"not a score record: {exc}") from None

    def spec(self) -> ValidationSpec:
        """The spec to recompute this score with, pinned to the corpus and set hashes it used.

        Sampling it elsewhere raises :class:`ValidationSetMismatch` unless D is the same bytes.
        """
        names = ValidationSpec.__dataclass_fields__
        raw = {k: v for k, v in self.validation.items() if k in names}
        return ValidationSpec.from_dict({**raw, "commitment": self.validation["set_sha256"]})

    def digest(self) -> str:
        """sha256 of the record without timings: equal digests mean the same score computation."""
        import json

        body = {k: v for k, v in self.to_dict().items() if k != "timings"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class _Clock:
    totals: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start


@dataclass(frozen=True)
class _Candidate:
    mode: str
    budget: float | None
    path: Path  # the delta file
    rebuilt: Path  # what it rebuilds (the child itself for lossless)
    report: Any = None


def file_identity(path: str | os.PathLike[str], root: str | None = None) -> dict[str, Any]:
    """sha256 and size of a file, plus the caller's model root (manifest Merkle root) if known."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "size": os.path.getsize(path), "root": root}


def check_layout(parent_path: str | os.PathLike[str], child_path: str | os.PathLike[str]) -> None:
    """Raise :class:`LayoutMismatch` unless both files hold the same tensor names, dtypes and shapes."""
    layouts = []
    for path in (parent_path, child_path):
        try:
            with SafetensorsFile.open(path) as st:
                layouts.append({n: (i.dtype, i.shape) for n, i in st.infos.items()})
        except (ModelFileError, OSError) as exc:
            raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from None
    parent, child = layouts
    if parent == child:
        return
    missing, extra = sorted(set(parent) - set(child)), sorted(set(child) - set(parent))
    differ = sorted(n for n in set(parent) & set(child) if parent[n] != child[n])
    detail = "; ".join(f"{label}: {names[:5]}" for label, names in
                       (("missing", missing), ("extra", extra), ("dtype/shape differ", differ)) if names)  # fmt: skip
    raise LayoutMismatch(f"{child_path} does not have the layout of its parent {parent_path}: {detail}")


def score_contribution(
    parent_path: str | os.PathLike[str],
    child_path: str | os.PathLike[str] | None,
    spec: ValidationSpec,
    delta_path: str | os.PathLike[str] | None = None,
    *,
    compression: str = "mdl",
    budgets: Sequence[float | Budget] = MDL_BUDGETS,
    foundations: Sequence[genemap.GeneMap | str | os.PathLike[str]] = (),
    check_lineage: bool = True,
    max_lineage_distance: float = genemap.DEFAULT_MAX_DISTANCE,
    threads: int = DEFAULT_THREADS,
    parent_root: str | None = None,
    child_root: str | None = None,
) -> ScoreRecord:
    """Score ``child`` (or what ``delta_path`` rebuilds from the parent) against ``parent``.

    See the module docstring for the steps. ``compression`` applies when no delta is given:
    ``mdl`` (lossless and each lossy budget, keep the best score), ``lossless`` or ``lossy``
    (the delta codec's default budget). A budget is a float (``max_delta_rel_error``) or an
    :class:`agihub.delta.Budget`, e.g. restricted to fast encodings for very large models.
    """
    if child_path is None and delta_path is None:
        raise ScoreParameterError("give the child model, its delta package, or both")
    if compression not in COMPRESSIONS:
        raise ScoreParameterError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    torch = require_torch()
    clock = _Clock()
    with clock.time("total_s"), tempfile.TemporaryDirectory(prefix="agihub-powoc-") as tmp:
        work = Path(tmp)
        with clock.time("sampling_s"):
            vset = sample(spec)  # first: a set that misses its commitment costs no work
        parent_id = file_identity(parent_path, parent_root)
        lmconfig.read_config(parent_path)
        if child_path is not None:
            lmconfig.read_config(child_path)
            check_layout(parent_path, child_path)
        lineage = None
        if delta_path is None:
            lineage = _lineage(
                child_path, parent_path, foundations, max_lineage_distance, check_lineage, clock
            )
            child_id = file_identity(child_path, child_root)
            with clock.time("compression_s"):
                candidates = _build_deltas(parent_path, child_path, work, compression, budgets)
        else:
            with clock.time("compression_s"):
                candidates, child_id = _given_delta(parent_path, parent_id, child_path, delta_path, work)
            child_id["root"] = child_root
            check_layout(parent_path, candidates[0].rebuilt)
            lineage = _lineage(candidates[0].rebuilt, parent_path, foundations, max_lineage_distance,
                               check_lineage, clock)  # fmt: skip
        with clock.time("evaluation_s"):
            parent_len = _evaluate(parent_path, vset, threads)
        reference = spec.reference_bytes or vset.corpus_bytes
        rows, best = _rank(candidates, parent_len, vset, reference, threads, clock)
    validation = {**spec.to_dict(), "corpus_sha256": vset.corpus_sha256, "set_sha256": vset.sha256,
                  "scored_bytes": vset.scored_bytes, "windows": len(vset.starts),
                  "corpus_bytes": vset.corpus_bytes}  # fmt: skip
    record = ScoreRecord(
        parent=parent_id,
        child=child_id,
        delta=best["delta"],
        validation=validation,
        parent_units=parent_len.units,
        child_units=best["child_units"],
        reference_bytes=reference,
        score_bits=best["score_bits"],
        lineage=lineage,
        candidates=tuple(rows),
        code_version=f"{RECORD_VERSION} agihub {_sdk_version()} torch {torch.__version__}",
        timings={k: round(v, 4) for k, v in clock.totals.items()},
    )
    log.info("score of %s vs %s: %d bits (%.4f bits/byte)", child_id["sha256"][:12], parent_id["sha256"][:12],
             record.score_bits, record.bits_per_byte)  # fmt: skip
    return record


def _lineage(child: str | os.PathLike[str], parent: str | os.PathLike[str],
             foundations: Sequence[genemap.GeneMap | str | os.PathLike[str]], max_distance: float,
             enabled: bool, clock: _Clock) -> dict[str, Any] | None:  # fmt: skip
    if not enabled:
        return None
    with clock.time("lineage_s"):
        return genemap.check_parent(child, parent, foundations, max_distance).to_dict()


def _sdk_version() -> str:
    from agihub import __version__

    return __version__


def _evaluate(path: str | os.PathLike[str], vset: ValidationSet, threads: int) -> CodeLength:
    from agihub.powoc import lm  # torch, only when a model is really evaluated

    with deterministic(threads):
        model = lm.load(path)
        return code_length(model, vset)


def _rank(candidates: list[_Candidate], parent_len: CodeLength, vset: ValidationSet, reference: int,
          threads: int, clock: _Clock) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Evaluate each candidate's rebuilt child; the best is the highest score (fewest bytes on ties)."""
    rows: list[dict[str, Any]] = []
    evaluated: dict[str, CodeLength] = {}
    for cand in candidates:
        rebuilt_sha = file_identity(cand.rebuilt)["sha256"]
        if rebuilt_sha not in evaluated:
            with clock.time("evaluation_s"):
                evaluated[rebuilt_sha] = _evaluate(cand.rebuilt, vset, threads)
        child_len = evaluated[rebuilt_sha]
        delta_id = file_identity(cand.path)
        delta = {"sha256": delta_id["sha256"], "bytes": delta_id["size"], "mode": cand.mode,
                 "budget": cand.budget, "source": "given" if cand.report is None else "built",
                 "evaluated_sha256": rebuilt_sha,
                 "bytes_by_encoding": cand.report.bytes_by_encoding() if cand.report else None}  # fmt: skip
        rows.append({"delta": delta, "child_units": child_len.units,
                     "score_bits": score_bits(parent_len, child_len, delta["bytes"], reference)})  # fmt: skip
    best = max(rows, key=lambda r: (r["score_bits"], -r["delta"]["bytes"]))
    summary = [{"mode": r["delta"]["mode"], "budget": r["delta"]["budget"], "delta_bytes": r["delta"]["bytes"],
                "child_bits": exact_decimal(r["child_units"]), "score_bits": r["score_bits"]} for r in rows]  # fmt: skip
    return summary, best


def _build_deltas(parent_path: str | os.PathLike[str], child_path: str | os.PathLike[str], work: Path,
                  compression: str, budgets: Sequence[float | Budget]) -> list[_Candidate]:  # fmt: skip
    plan: list[tuple[str, Budget | None]] = []
    if compression in ("mdl", "lossless"):
        plan.append(("lossless", None))
    if compression == "lossy":
        plan.append(("lossy", Budget()))
    if compression == "mdl":
        plan += [
            ("lossy", b if isinstance(b, Budget) else Budget(max_delta_rel_error=float(b))) for b in budgets
        ]
    out = []
    for i, (mode, budget) in enumerate(plan):
        path = work / f"candidate-{i}.delta"
        report = encode_delta(parent_path, child_path, path, mode, budget)
        rebuilt = Path(child_path)
        if mode == "lossy":
            rebuilt = apply_delta(parent_path, path, work / f"candidate-{i}.safetensors")
        level = None if budget is None else budget.max_delta_rel_error
        out.append(_Candidate(mode, level, path, rebuilt, report))
    return out


def _given_delta(parent_path: str | os.PathLike[str], parent_id: dict[str, Any],
                 child_path: str | os.PathLike[str] | None, delta_path: str | os.PathLike[str],
                 work: Path) -> tuple[list[_Candidate], dict[str, Any]]:  # fmt: skip
    """Check a contributor's delta names the parent and the child, and rebuild what it describes."""
    header = read_header(delta_path)
    if header.parent_sha256 != parent_id["sha256"]:
        raise DeltaRootMismatch(f"{delta_path} was made against parent {header.parent_sha256[:16]}…, "
                                f"not the claimed parent {parent_id['sha256'][:16]}…")  # fmt: skip
    child_id = {"sha256": header.child_sha256, "size": header.child_size, "root": None}
    if child_path is not None:
        child_id = file_identity(child_path)
        if header.child_sha256 != child_id["sha256"]:
            raise DeltaRootMismatch(f"{delta_path} describes child {header.child_sha256[:16]}…, "
                                    f"not the claimed child {child_id['sha256'][:16]}…")  # fmt: skip
    try:
        rebuilt = apply_delta(parent_path, delta_path, work / "rebuilt.safetensors")
    except (WrongParentError, ReconstructionError) as exc:
        raise DeltaRootMismatch(f"{delta_path} does not rebuild the claimed child: {exc}") from None
    return [_Candidate(header.mode, None, Path(delta_path), rebuilt)], child_id
