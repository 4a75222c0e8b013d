"""Local commands: status, commit, log, checkout, diff, merge and rebase.

Each command that changes the repository runs under the repository lock and in this order:
objects (packages, then commits) → the work-tree model (temp file + rename) → refs. A failure at
any step before the refs leaves HEAD and the branch where they were; the only trace is an
unreferenced object, which is harmless.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agihub.agigit import history
from agihub.agigit.commit import FORMAT, PARTS, Commit, CommitBody, PartVersion, sign_commit
from agihub.agigit.errors import (
    DirtyTreeError,
    MissingModelError,
    NoCommonAncestorError,
    NothingToCommitError,
    PartConflictError,
    UnknownCommitError,
    UnknownPartError,
    UnknownPartVersionError,
)
from agihub.agigit.groups import GroupDiff, describe, diff_models
from agihub.agigit.merge import MergeReport, merge_models, rebase_model
from agihub.agigit.parts import DATA_PARTS, PartDiff, check_limit, diff_parts, file_chunks, pack_part
from agihub.agigit.repository import PAYLOAD, UPSTREAM_REF, Repository, check_part, file_sha256, write_atomic
from agihub.delta import encode_delta
from agihub.delta.tensors import Tensor, serialize
from agihub.storage.manifest import Card, SignedManifest
from agihub.storage.package import PackOptions, pack_delta, pack_model

#: A commit is stored as a delta only if the delta is at most this share of the full model.
DELTA_THRESHOLD = 0.9
DELTA_ENCODING = "agihub-delta/1"
#: Work-tree file names for parts fetched into a repository that does not track them yet (when
#: the package does not name its file).
DEFAULT_FILES = {"code": "code", "train-data": "train-data", "val-data": "val-data"}


@dataclass(frozen=True)
class Status:
    """Where HEAD is and whether each tracked part's file matches it (``state`` is params')."""

    branch: str | None
    head: str | None
    model: str
    state: str  # clean | modified | missing | untracked (no commit yet) | absent (no commit, no file)
    upstream: str | None
    parts: dict[str, dict[str, str]] = field(default_factory=dict)  # part → {path, state}

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    @property
    def dirty(self) -> list[str]:
        """Parts whose work-tree file differs from HEAD's version."""
        return [p for p, info in self.parts.items() if info["state"] in ("modified", "untracked")]


def _part_state(repo: Repository, part: str, head: Commit | None) -> str:
    digest = repo.part_sha256(part)
    version = head.commit.parts.get(part) if head is not None else None  # type: ignore[call-overload]
    if version is None:
        return "absent" if digest is None else "untracked"
    if digest is None:
        return "missing"
    return "clean" if digest == version.sha256 else "modified"


def status(repo: Repository) -> Status:
    head = repo.head()
    head_commit = repo.read_commit(head) if head else None
    parts = {
        part: {
            "path": str(repo.part_path(part).relative_to(repo.work)),
            "state": _part_state(repo, part, head_commit),
        }
        for part in repo.tracked_parts()
    }
    ref = repo.head_ref()
    branch = ref.removeprefix("refs/heads/") if ref else None
    return Status(
        branch, head, repo.config.model, parts["params"]["state"], repo.read_ref(UPSTREAM_REF), parts
    )


def require_clean(repo: Repository, action: str, only: str | None = None) -> None:
    """Refuse to overwrite uncommitted work (in every part, or in part ``only``)."""
    current = status(repo)
    dirty = [p for p in current.dirty if only is None or p == only]
    if dirty:
        files = ", ".join(current.parts[p]["path"] for p in dirty)
        raise DirtyTreeError(
            f"{files} has uncommitted changes; `agigit commit -m MSG` them (or move the file away) before {action}"
        )


# --- commit -------------------------------------------------------------------------------------


def record_commit(
    repo: Repository,
    src: Path | None,
    parents: list[str],
    message: str,
    *,
    full: bool = False,
    keep: Mapping[str, PartVersion] | None = None,
    files: Mapping[str, Path] | None = None,
) -> Commit:
    """Pack the changed parts and write the commit object (no ref is changed).

    ``src`` is the params model to pack (None: keep ``keep["params"]``); ``files`` are code/data
    files to pack; every other part named in ``keep`` keeps that version. Each file is copied first
    and everything is computed from the copy, so a file rewritten while the commit runs cannot give
    a commit whose hashes and package disagree. Every part version must name a stored package.
    """
    parts: dict[str, PartVersion] = dict(keep or {})
    staging = repo.temp_path()
    staging.mkdir()
    try:
        for part, path in (files or {}).items():
            snapshot = staging / f"snapshot-{part}"
            shutil.copyfile(path, snapshot)
            check_limit(repo, part, snapshot.stat().st_size)
            digest = file_sha256(snapshot)
            earlier = _earlier_version(repo, parents, part, digest)
            parts[part] = earlier or pack_part(repo, part, snapshot, staging, digest, parts.get(part))
        if src is not None:
            parts["params"] = _record_params(repo, src, parents, staging, full)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if "params" not in parts:
        raise MissingModelError(f"{repo.model_path} does not exist; put the model there, then commit")
    for part, version in parts.items():
        if not (repo.package_dir(version.manifest) / "manifest.json").is_file():
            raise UnknownPartVersionError(
                f"the {part} version names package {version.manifest[:12]}, which this repository does not hold"
            )
    body = CommitBody(
        format=FORMAT, parents=parents, message=message, author=repo.config.key.public_key.hex,
        time=int(time.time()), parts={p: parts[p] for p in PARTS if p in parts},
    )  # fmt: skip
    commit = sign_commit(body, repo.config.key)
    repo.store_commit(commit)
    return commit


def _earlier_version(repo: Repository, parents: list[str], part: str, digest: str) -> PartVersion | None:
    """A version of ``part`` with these exact bytes in the history (reused: nothing is stored)."""
    for parent in parents:
        for cid in history.ancestors(repo, parent):
            version = repo.read_commit(cid).commit.parts.get(part)  # type: ignore[call-overload]
            if version is not None and version.sha256 == digest:
                return version
    return None


def _record_params(repo: Repository, src: Path, parents: list[str], staging: Path, full: bool) -> PartVersion:
    snapshot = staging / "model.safetensors"
    shutil.copyfile(src, snapshot)
    digest, groups = describe(snapshot)  # also checks that it is a well-formed safetensors file
    size = snapshot.stat().st_size
    base = None if full or not parents else history.foundation(repo, parents[0])
    signed, stored_base = _pack_params(repo, snapshot, base, digest, staging)
    return PartVersion(
        manifest=signed.manifest_id.hex(), model_root=signed.manifest.model_root, sha256=digest,
        size=size,
        storage="delta" if stored_base else "full", base=stored_base, groups=groups,
    )  # fmt: skip


def _pack_params(
    repo: Repository, snapshot: Path, base: str | None, digest: str, staging: Path
) -> tuple[SignedManifest, str | None]:
    """Pack the model (or its delta against ``base`` when that pays) into the package store.

    Returns the manifest and the commit the package is a delta against (None when full).
    """
    size = snapshot.stat().st_size
    delta = _try_delta(repo, base, snapshot, staging / "delta", size) if base else None
    pkg = staging / "pkg"
    card = Card(name=repo.config.name, version=digest[:16])
    options = PackOptions(k=repo.config.k, n=repo.config.n)
    if delta is not None and base is not None:
        parent_root = bytes.fromhex(repo.read_commit(base).params.model_root)
        signed = pack_delta(delta, pkg, repo.config.key, card, parent_root=parent_root,
                            delta_encoding=DELTA_ENCODING, options=options, owner_secret=repo.owner_secret)  # fmt: skip
        os.replace(delta, pkg / PAYLOAD)
    else:
        signed = pack_model(
            snapshot, pkg, repo.config.key, card, options=options, owner_secret=repo.owner_secret
        )
        os.replace(snapshot, pkg / PAYLOAD)
    repo.store_package(pkg, signed.manifest_id.hex())
    return signed, base if delta is not None else None


def _try_delta(repo: Repository, base: str, src: Path, out: Path, size: int) -> Path | None:
    """A lossless delta of ``src`` against ``base``, or None when it would not save enough."""
    with repo.materialized(base) as base_path:
        report = encode_delta(base_path, src, out, mode="lossless")
    return out if report.delta_bytes <= DELTA_THRESHOLD * size else None


def resolve_part_version(repo: Repository, part: str, rev: str) -> PartVersion:
    """``PART=REV`` of ``commit --use``: the version of ``part`` in commit REV, or a stored package id."""
    check_part(part)
    text = rev.strip().lower()
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text) and not repo.has_commit(text):
        for cid in repo.all_commits():
            version = repo.read_commit(cid).commit.parts.get(part)  # type: ignore[call-overload]
            if version is not None and version.manifest == text:
                return version
        raise UnknownPartVersionError(
            f"no {part} version with package {text[:12]} in this repository; see `agigit log --part {part} --json`"
        )
    try:
        commit_id = repo.resolve(rev)
    except UnknownCommitError as exc:
        raise UnknownPartVersionError(f"--use {part}={rev}: {exc}") from exc
    version = repo.read_commit(commit_id).commit.parts.get(part)  # type: ignore[call-overload]
    if version is None:
        raise UnknownPartVersionError(f"--use {part}={rev}: commit {commit_id[:12]} has no {part} part")
    return version


def commit(
    repo: Repository, message: str, *, full: bool = False, parts: list[str] | None = None,
    use: Mapping[str, str] | None = None,
) -> Commit:  # fmt: skip
    """Record the changed parts of the work tree as a new commit on top of HEAD and advance HEAD.

    ``parts`` limits which work-tree files are recorded (default: every tracked part); ``use`` maps
    a part to a revision (or package id) whose version of that part the commit takes as is.
    """
    with repo.locked():
        for part in parts or []:
            check_part(part)
        current = status(repo)
        head = repo.read_commit(current.head) if current.head else None
        keep: dict[str, PartVersion] = dict(head.commit.parts) if head else {}
        chosen = {part: resolve_part_version(repo, part, rev) for part, rev in (use or {}).items()}
        changed = [p for p in current.dirty if (parts is None or p in parts) and p not in chosen]
        changed_use = {p: v for p, v in chosen.items() if keep.get(p) != v}
        if not changed and not changed_use:
            _nothing_to_commit(repo, current)
        for part in changed_use:  # its file is replaced by the chosen version: refuse to lose edits
            if part in current.parts:
                require_clean(repo, f"taking {part} from {use[part]}", only=part)  # type: ignore[index]
        keep.update(chosen)
        if "params" not in keep and "params" not in changed:
            raise MissingModelError(
                f"{repo.model_path} does not exist; a first commit needs the params model"
            )
        files = {p: repo.part_path(p) for p in changed if p != "params"}
        src = repo.model_path if "params" in changed else None
        created = record_commit(repo, src, [current.head] if current.head else [], message,
                                full=full, keep=keep, files=files)  # fmt: skip
        for part in changed_use:
            write_part(repo, created.id, part)
        repo.set_head(created.id)
        return created


def _nothing_to_commit(repo: Repository, current: Status) -> None:
    if all(info["state"] in ("missing", "absent") for info in current.parts.values()):
        raise MissingModelError(f"{repo.model_path} does not exist; put the model there, then commit")
    if current.head is None and current.state in ("missing", "absent"):
        raise MissingModelError(f"{repo.model_path} does not exist; a first commit needs the params model")
    where = current.head[:12] if current.head else "the last commit"
    raise NothingToCommitError(f"no tracked file changed since {where}; nothing to commit")


def add(repo: Repository, part: str, path: str) -> str:
    """Track ``path`` (inside the work tree) as the file of ``part``; returns its relative path."""
    check_part(part)
    with repo.locked():
        target = (repo.work / path).resolve()
        if not target.is_relative_to(repo.work) or target.is_relative_to(repo.dir) or target == repo.work:
            raise UnknownPartError(f"{path} is not a file inside the work tree {repo.work}")
        rel = str(target.relative_to(repo.work))
        others = {p: f for p, f in repo.config.files.items() if p != part}
        if rel in others.values() or (part != "params" and rel == repo.config.model):
            raise UnknownPartError(f"{rel} is already tracked by another part; one file per part")
        if target.is_file():
            check_limit(repo, part, target.stat().st_size)
        if part == "params":
            repo.config.model = rel
        else:
            repo.config.files[part] = rel
        repo.save_config()
        return rel


# --- checkout -----------------------------------------------------------------------------------


def _write_file(repo: Repository, dest: Path, src_cm: contextlib.AbstractContextManager[Path]) -> None:
    tmp = dest.parent / f".{dest.name}.agigit-tmp"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with src_cm as src:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    repo.file_sha256_cached(dest)


def write_part(repo: Repository, commit_id: str, part: str) -> None:
    """Replace ``part``'s work-tree file with the commit's version (temp file, then rename)."""
    commit = repo.read_commit(commit_id)
    version = commit.commit.parts.get(part)  # type: ignore[call-overload]
    if version is None:
        raise UnknownPartVersionError(f"commit {commit_id[:12]} has no {part} part")
    if part != "params" and part not in repo.config.files:
        name = repo.manifest(version.manifest).manifest.payload.metadata.get("path") or DEFAULT_FILES[part]
        repo.config.files[part] = Path(name).name
        repo.save_config()
    _write_file(repo, repo.part_path(part), repo.materialized(commit_id, part))


def write_worktree(repo: Repository, commit_id: str) -> None:
    """Write every part of the commit into the work tree (each by temp file + rename)."""
    commit = repo.read_commit(commit_id)
    # Materialize every part into staging first, so a failure changes no work-tree file.
    staged: dict[str, Path] = {}
    try:
        for part in commit.commit.parts:
            out = repo.temp_path(f".{part}")
            with repo.materialized(commit_id, part) as src:
                shutil.copyfile(src, out)
            staged[part] = out
        for part, out in staged.items():
            if part != "params" and part not in repo.config.files:
                version = commit.commit.parts[part]  # type: ignore[index]
                name = (
                    repo.manifest(version.manifest).manifest.payload.metadata.get("path")
                    or DEFAULT_FILES[part]
                )
                repo.config.files[part] = Path(name).name
                repo.save_config()
            dest = repo.part_path(part)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(out, dest)
            repo.file_sha256_cached(dest)
    finally:
        for out in staged.values():
            out.unlink(missing_ok=True)


def checkout(repo: Repository, rev: str, *, part: str | None = None) -> str:
    """Switch the work tree to a commit (detached) or a branch; refuses a dirty tree.

    With ``part`` only that part's file is replaced by the commit's version and HEAD stays: the
    part then shows as modified, ready to be committed (like ``git checkout REV -- PATH``).
    """
    with repo.locked():
        if part is not None:
            check_part(part)
            target = repo.resolve(rev)
            require_clean(repo, f"checking out the {part} part of {rev}", only=part)
            write_part(repo, target, part)
            return target
        branch = rev if repo.read_ref(f"refs/heads/{rev}") is not None else None
        target = repo.resolve(rev)
        require_clean(repo, f"checking out {rev}")
        write_worktree(repo, target)
        if branch is not None:
            repo.attach(branch, None)
        else:
            repo.detach(target)
        return target


# --- diff ---------------------------------------------------------------------------------------


def diff(repo: Repository, a: str | None = None, b: str | None = None) -> list[GroupDiff]:
    """Params groups changed from A (default HEAD) to B (default the work tree)."""
    a_id = repo.resolve(a or "HEAD")
    if b is None and not repo.model_path.is_file():
        raise MissingModelError(f"{repo.model_path} does not exist; name two commits to compare")
    with repo.materialized(a_id) as a_path:
        if b is None:
            return diff_models(a_path, repo.model_path)
        with repo.materialized(repo.resolve(b)) as b_path:
            return diff_models(a_path, b_path)


def diff_part(repo: Repository, part: str, a: str | None = None, b: str | None = None) -> PartDiff:
    """How a code or data part changed from A (default HEAD) to B (default the work-tree file)."""
    check_part(part)
    if part == "params":
        raise UnknownPartError("params is compared per parameter group: `agigit diff` without --part")
    a_id = repo.resolve(a or "HEAD")
    va = repo.read_commit(a_id).commit.parts.get(part)  # type: ignore[call-overload]
    with contextlib.ExitStack() as stack:
        a_file = stack.enter_context(repo.materialized(a_id, part)) if va is not None else None
        if b is not None:
            b_id = repo.resolve(b)
            vb = repo.read_commit(b_id).commit.parts.get(part)  # type: ignore[call-overload]
            b_file = stack.enter_context(repo.materialized(b_id, part)) if vb is not None else None
            return diff_parts(repo, part, va, vb, a_file, b_file)
        return _diff_worktree(repo, part, va, a_file)


def _diff_worktree(repo: Repository, part: str, va: PartVersion | None, a_file: Path | None) -> PartDiff:
    """Compare with the work-tree file, chunked as a commit would cut it (nothing is stored)."""
    path = repo.part_path(part)
    if not path.is_file():
        return diff_parts(repo, part, va, None, a_file, None)
    digest = repo.part_sha256(part) or ""
    size = path.stat().st_size
    worktree_side = {"sha256": digest, "size": size, "manifest": None}
    chunks = file_chunks(path, repo.config.cdc_cap) if part in DATA_PARTS else None
    return diff_parts(repo, part, va, None, a_file, path, b_side=worktree_side, b_chunks=chunks)


# --- merge and rebase ---------------------------------------------------------------------------


def _write_tensors(repo: Repository, tensors: Mapping[str, Tensor]) -> Path:
    out = repo.temp_path(".safetensors")
    write_atomic(out, serialize(tensors))
    return out


def _land(repo: Repository, src: Path, parents: list[str], message: str,
          keep: Mapping[str, PartVersion]) -> Commit:  # fmt: skip
    """Commit ``src`` (params) and the ``keep`` parts with ``parents``, write them to the work
    tree, then move HEAD."""
    created = record_commit(repo, src, parents, message, keep=keep)
    for part in created.commit.parts:
        if part != "params":
            write_part(repo, created.id, part)
    os.replace(src, repo.model_path)
    repo.worktree_sha256()
    repo.set_head(created.id)
    return created


def _same(x: PartVersion | None, y: PartVersion | None) -> bool:
    return (x.sha256 if x else None) == (y.sha256 if y else None)


def merge_parts(
    a: Commit, b: Commit, base: Commit | None, take: Mapping[str, str]
) -> tuple[dict[str, PartVersion], dict[str, str]]:
    """Three-way choice per part other than params: a part changed on one side only takes that
    side; changed on both sides needs ``take[part]`` (ours|theirs), else :class:`PartConflictError`."""
    chosen: dict[str, PartVersion] = {}
    report: dict[str, str] = {}
    conflicts = []
    for part in PARTS[1:]:
        va, vb = a.commit.parts.get(part), b.commit.parts.get(part)  # type: ignore[call-overload]
        vbase = base.commit.parts.get(part) if base else None  # type: ignore[call-overload]
        if _same(va, vb):
            side = "same"
        elif base is not None and _same(vbase, vb):
            side = "ours"
        elif base is not None and _same(vbase, va):
            side = "theirs"
        elif take.get(part) in ("ours", "theirs"):
            side = f"{take[part]} (conflict)"
        else:
            conflicts.append(part)
            continue
        version = vb if side.startswith("theirs") else va
        report[part] = side
        if version is not None:
            chosen[part] = version
    if conflicts:
        raise PartConflictError(
            f"{', '.join(conflicts)} changed on both sides; choose with "
            + " ".join(f"--take {p}=ours|theirs" for p in conflicts)
        )
    return chosen, report


def merge(
    repo: Repository, a: str, b: str, *, strategy: str = "average", groups: Mapping[str, str] | None = None,
    message: str | None = None, take: Mapping[str, str] | None = None,
) -> tuple[Commit, MergeReport]:  # fmt: skip
    """Merge commits A and B into a new commit with parents [A, B]: params per parameter group,
    every other part as a whole (:func:`merge_parts`)."""
    with repo.locked():
        for part, side in (take or {}).items():
            check_part(part)
            if part == "params" or side not in ("ours", "theirs"):
                raise UnknownPartError(
                    f"--take {part}={side}: write PART=ours|theirs for code, train-data or val-data"
                )
        a_id, b_id = repo.resolve(a), repo.resolve(b)
        if a_id == b_id:
            raise NothingToCommitError(f"{a} and {b} are the same commit; nothing to merge")
        require_clean(repo, "merging")
        base = history.merge_base(repo, a_id, b_id)
        keep, part_report = merge_parts(
            repo.read_commit(a_id),
            repo.read_commit(b_id),
            repo.read_commit(base) if base else None,
            take or {},
        )
        with repo.materialized(a_id) as pa, repo.materialized(b_id) as pb:
            if base is None:
                tensors, report = merge_models(pa, pb, None, strategy, groups or {})
            else:
                with repo.materialized(base) as pbase:
                    tensors, report = merge_models(pa, pb, pbase, strategy, groups or {})
        report.parts = part_report
        if base is None:
            report.notes.append("no common ancestor: every differing group was a conflict")
        src = _write_tensors(repo, tensors)
        try:
            created = _land(repo, src, [a_id, b_id], message or f"merge {a_id[:12]} and {b_id[:12]}", keep)
        finally:
            src.unlink(missing_ok=True)
        return created, report


def rebase(repo: Repository, onto: str | None = None) -> tuple[Commit, list[str]]:
    """Carry HEAD's fine-tune (HEAD − merge base) onto ``onto`` (default: the fetched upstream head);
    other parts take HEAD's version where HEAD changed them, else ONTO's."""
    with repo.locked():
        head = repo.resolve("HEAD")
        target = repo.resolve(onto or "upstream")
        require_clean(repo, "rebasing")
        if history.is_ancestor(repo, target, head):
            raise NothingToCommitError(f"{target[:12]} is already an ancestor of HEAD; nothing to rebase")
        base = history.merge_base(repo, head, target)
        if base is None:
            raise NoCommonAncestorError(
                f"HEAD and {target[:12]} share no ancestor, so HEAD has no delta to carry over; use merge"
            )
        with repo.materialized(head) as ph, repo.materialized(base) as pb, repo.materialized(target) as po:
            tensors, notes = rebase_model(ph, pb, po)
        keep = _rebase_parts(repo.read_commit(head), repo.read_commit(base), repo.read_commit(target), notes)
        message = repo.read_commit(head).commit.message
        src = _write_tensors(repo, tensors)
        try:
            created = _land(repo, src, [target], f"{message} (rebased onto {target[:12]})", keep)
        finally:
            src.unlink(missing_ok=True)
        return created, notes


def _rebase_parts(head: Commit, base: Commit, onto: Commit, notes: list[str]) -> dict[str, PartVersion]:
    keep = {}
    for part in PARTS[1:]:
        vh, vb, vo = (c.commit.parts.get(part) for c in (head, base, onto))  # type: ignore[call-overload]
        changed_here = not _same(vh, vb)
        if changed_here and not _same(vo, vb):
            notes.append(f"{part}: changed on both sides; kept HEAD's version")
        version = vh if changed_here else vo
        if version is not None:
            keep[part] = version
    return keep
