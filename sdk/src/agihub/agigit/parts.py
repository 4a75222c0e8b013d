"""The parts of a repository besides params: ``code``, ``train-data`` and ``val-data``.

Each part is one work-tree file, versioned on its own: a commit names one version per part, and a
part whose file did not change keeps the previous commit's version (the same package), so a new
checkpoint on the same data stores no data, and new data for the same code stores no code.

* ``code`` stays small and unsharded: one content-addressed package of kind ``file`` with
  ``k = n = 1`` (one shard plus the signed manifest); a file above ``limits["code"]`` (16 MiB by
  default) is refused with :class:`PartTooLargeError`.
* ``train-data`` / ``val-data`` are packed with content-defined chunking (``fastcdc/1``,
  :mod:`agihub.storage.cdc`) as *thin* packages: only the chunks that the part's previous version
  (and the packages it reuses) does not carry go into the new package's shards, and an edited chunk
  goes in as a small delta against the previous version's chunk (:mod:`agihub.storage.thin`); its
  manifest names those earlier packages for the rest. The local store and a push hold/upload only
  new chunks and deltas.
* ``params`` (the safetensors model, with deltas and parameter groups) lives in
  :mod:`agihub.agigit.worktree`.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from agihub.agigit.commit import PartVersion
from agihub.agigit.errors import PartTooLargeError
from agihub.agigit.repository import PAYLOAD, Repository
from agihub.storage.cdc import file_spans
from agihub.storage.manifest import Card, SignedManifest
from agihub.storage.package import PackOptions, pack_data, pack_file

DATA_PARTS = ("train-data", "val-data")
#: A code diff prints a unified diff when both sides are UTF-8 text below this size.
TEXT_DIFF_LIMIT = 1 << 20


def check_limit(repo: Repository, part: str, size: int) -> None:
    """Refuse a part file larger than the configured limit (nothing is written)."""
    limit = repo.config.limits.get(part)
    if limit is not None and size > limit:
        raise PartTooLargeError(
            f"the {part} file is {size} bytes; this repository's limit for {part} is {limit} bytes "
            f"(code stays one small blob: keep data in train-data/val-data, or raise limits.{part} in .agigit/config.json)"
        )


def pack_part(
    repo: Repository, part: str, snapshot: Path, staging: Path, digest: str, previous: PartVersion | None
) -> PartVersion:
    """Pack a code or data file into the store and return its version (``snapshot`` is moved)."""
    size = snapshot.stat().st_size
    check_limit(repo, part, size)
    pkg = staging / f"pkg-{part}"
    card = Card(name=repo.config.name, version=f"{part}-{digest[:16]}")
    name = repo.config.files.get(part, snapshot.name)
    if part in DATA_PARTS:
        signed = pack_data(snapshot, pkg, repo.config.key, card, cap=repo.config.cdc_cap,
                           bases=reuse_bases(repo, previous), resolve=repo.base_resolver(),
                           keep_carried=pkg / PAYLOAD, options=PackOptions(k=repo.config.k, n=repo.config.n),
                           owner_secret=repo.owner_secret, metadata={"path": name})  # fmt: skip
        if signed.manifest.reuse is None:  # a full package's carried file is the file itself
            snapshot.replace(pkg / PAYLOAD)
    else:
        signed = pack_file(snapshot, pkg, repo.config.key, card, owner_secret=repo.owner_secret,
                           metadata={"path": name})  # fmt: skip
        snapshot.replace(pkg / PAYLOAD)
    repo.store_package(pkg, signed.manifest_id.hex())
    return PartVersion(manifest=signed.manifest_id.hex(), model_root=signed.manifest.model_root,
                       sha256=digest, size=size, storage="full")  # fmt: skip


def reuse_bases(repo: Repository, previous: PartVersion | None) -> list[SignedManifest]:
    """The packages whose chunks a new data version may reuse: the previous version's package and
    the packages it reuses (together they carry every chunk of the previous version)."""
    if previous is None:
        return []
    signed = repo.manifest(previous.manifest)
    if signed.manifest.payload.kind != "data":
        return []
    bases = [signed]
    if signed.manifest.reuse is not None:
        bases += [repo.manifest(mid) for mid in signed.manifest.reuse.bases]
    return bases


@dataclass(frozen=True)
class PartDiff:
    """How a code or data part changed between two versions."""

    part: str
    status: str  # same | changed | added | removed
    a: dict[str, object] | None
    b: dict[str, object] | None
    chunks: dict[str, int] | None = None  # data: chunk counts and bytes shared / new
    text: str | None = None  # code: unified diff when both sides are text

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _side(version: PartVersion | None) -> dict[str, object] | None:
    return (
        None
        if version is None
        else {"sha256": version.sha256, "size": version.size, "manifest": version.manifest}
    )


def diff_parts(
    repo: Repository, part: str, a: PartVersion | None, b: PartVersion | None, a_file: Path | None, b_file: Path | None,
    *, b_side: dict[str, object] | None = None, b_chunks: dict[str, int] | None = None,
) -> PartDiff:  # fmt: skip
    """Compare two versions of a code or data part (``*_file``: their materialized files).

    ``b_side``/``b_chunks`` describe a B that is not a stored version (the work-tree file).
    """
    side_a, side_b = _side(a), b_side or _side(b)
    if side_a is None and side_b is None:
        status = "same"
    elif side_a is None or side_b is None:
        status = "added" if side_a is None else "removed"
    else:
        status = "same" if side_a["sha256"] == side_b["sha256"] else "changed"
    if part in DATA_PARTS:
        ca = _version_chunks(repo, a)
        cb = b_chunks if b_chunks is not None else _version_chunks(repo, b)
        return PartDiff(part, status, side_a, side_b, chunks=_chunk_diff(ca, cb))
    text = _text_diff(a_file, b_file) if status == "changed" else None
    return PartDiff(part, status, side_a, side_b, text=text)


def _version_chunks(repo: Repository, version: PartVersion | None) -> dict[str, int]:
    if version is None:
        return {}
    return {c.sha256: c.length for c in repo.manifest(version.manifest).manifest.chunking.chunks}


def file_chunks(path: Path, cap: int) -> dict[str, int]:
    """sha256 → length of the FastCDC chunks of a file (what a commit would store)."""
    out = {}
    with path.open("rb") as src:
        for span in file_spans(path, cap):
            src.seek(span.offset)
            out[hashlib.sha256(src.read(span.length)).hexdigest()] = span.length
    return out


def _chunk_diff(ca: dict[str, int], cb: dict[str, int]) -> dict[str, int]:
    shared = sum(length for sha, length in cb.items() if sha in ca)
    return {"chunks_a": len(ca), "chunks_b": len(cb), "shared_bytes": shared,
            "new_bytes": sum(cb.values()) - shared, "dropped_bytes": sum(length for sha, length in ca.items() if sha not in cb)}  # fmt: skip


def _text_diff(a_file: Path | None, b_file: Path | None) -> str | None:
    texts = []
    for path in (a_file, b_file):
        if path is None:
            texts.append([])
            continue
        if path.stat().st_size > TEXT_DIFF_LIMIT:
            return None
        try:
            texts.append(path.read_text("utf-8").splitlines(keepends=True))
        except UnicodeDecodeError:
            return None
    return "".join(difflib.unified_diff(texts[0], texts[1], "a", "b"))
