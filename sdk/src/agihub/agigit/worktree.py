"""Local commands: status, commit, log, checkout, diff, merge and rebase.

Each command that changes the repository runs under the repository lock and in this order:
objects (packages, then commits) → the work-tree model (temp file + rename) → refs. A failure at
any step before the refs leaves HEAD and the branch where they were; the only trace is an
unreferenced object, which is harmless.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agihub.agigit import history
from agihub.agigit.commit import FORMAT, Commit, CommitBody, PartVersion, sign_commit
from agihub.agigit.errors import (
    DirtyTreeError,
    MissingModelError,
    NoCommonAncestorError,
    NothingToCommitError,
)
from agihub.agigit.groups import GroupDiff, describe, diff_models
from agihub.agigit.merge import MergeReport, merge_models, rebase_model
from agihub.agigit.repository import PAYLOAD, UPSTREAM_REF, Repository, write_atomic
from agihub.delta import encode_delta
from agihub.delta.tensors import Tensor, serialize
from agihub.storage.manifest import Card, SignedManifest
from agihub.storage.package import PackOptions, pack_delta, pack_model

#: A commit is stored as a delta only if the delta is at most this share of the full model.
DELTA_THRESHOLD = 0.9
DELTA_ENCODING = "agihub-delta/1"


@dataclass(frozen=True)
class Status:
    """Where HEAD is and whether the work-tree model matches it."""

    branch: str | None
    head: str | None
    model: str
    state: str  # clean | modified | missing | untracked (no commit yet) | absent (no commit, no file)
    upstream: str | None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def status(repo: Repository) -> Status:
    head = repo.head()
    digest = repo.worktree_sha256()
    if head is None:
        state = "absent" if digest is None else "untracked"
    elif digest is None:
        state = "missing"
    else:
        state = "clean" if digest == repo.read_commit(head).params.sha256 else "modified"
    ref = repo.head_ref()
    branch = ref.removeprefix("refs/heads/") if ref else None
    return Status(branch, head, repo.config.model, state, repo.read_ref(UPSTREAM_REF))


def require_clean(repo: Repository, action: str) -> None:
    """Refuse to overwrite uncommitted work."""
    current = status(repo)
    if current.state in ("modified", "untracked"):
        raise DirtyTreeError(
            f"{repo.config.model} has uncommitted changes; `agigit commit -m MSG` them (or move the file "
            f"away) before {action}"
        )


# --- commit -------------------------------------------------------------------------------------


def record_commit(
    repo: Repository, src: Path, parents: list[str], message: str, *, full: bool = False
) -> Commit:
    """Pack ``src`` and write its commit object (no ref is changed).

    ``src`` is copied first and everything is computed from the copy, so a file rewritten while
    the commit runs cannot give a commit whose hashes and package disagree.
    """
    staging = repo.temp_path()
    staging.mkdir()
    try:
        snapshot = staging / "model.safetensors"
        shutil.copyfile(src, snapshot)
        digest, groups = describe(snapshot)  # also checks that it is a well-formed safetensors file
        size = snapshot.stat().st_size
        base = None if full or not parents else history.foundation(repo, parents[0])
        signed, stored_base = _pack_params(repo, snapshot, base, digest, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    part = PartVersion(
        manifest=signed.manifest_id.hex(), model_root=signed.manifest.model_root, sha256=digest,
        size=size,
        storage="delta" if stored_base else "full", base=stored_base, groups=groups,
    )  # fmt: skip
    body = CommitBody(
        format=FORMAT, parents=parents, message=message, author=repo.config.key.public_key.hex,
        time=int(time.time()), parts={"params": part},
    )  # fmt: skip
    commit = sign_commit(body, repo.config.key)
    repo.store_commit(commit)
    return commit


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


def commit(repo: Repository, message: str, *, full: bool = False) -> Commit:
    """Record the work-tree model as a new commit on top of HEAD and advance HEAD."""
    with repo.locked():
        current = status(repo)
        if current.state in ("missing", "absent"):
            raise MissingModelError(f"{repo.model_path} does not exist; put the model there, then commit")
        if current.state == "clean":
            raise NothingToCommitError(
                f"{repo.config.model} is unchanged since {current.head[:12]}; nothing to commit"
            )  # type: ignore[index]
        created = record_commit(
            repo, repo.model_path, [current.head] if current.head else [], message, full=full
        )
        repo.set_head(created.id)
        return created


# --- checkout -----------------------------------------------------------------------------------


def write_worktree(repo: Repository, commit_id: str) -> None:
    """Replace the work-tree model with the commit's (temp file beside it, then rename)."""
    tmp = repo.work / f".{repo.config.model}.agigit-tmp"
    try:
        with repo.materialized(commit_id) as src:
            shutil.copyfile(src, tmp)
        os.replace(tmp, repo.model_path)
    finally:
        tmp.unlink(missing_ok=True)
    repo.worktree_sha256()


def checkout(repo: Repository, rev: str) -> str:
    """Switch the work tree to a commit (detached) or a branch; refuses a dirty tree."""
    with repo.locked():
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
    """Groups changed from A (default HEAD) to B (default the work tree)."""
    a_id = repo.resolve(a or "HEAD")
    if b is None and not repo.model_path.is_file():
        raise MissingModelError(f"{repo.model_path} does not exist; name two commits to compare")
    with repo.materialized(a_id) as a_path:
        if b is None:
            return diff_models(a_path, repo.model_path)
        with repo.materialized(repo.resolve(b)) as b_path:
            return diff_models(a_path, b_path)


# --- merge and rebase ---------------------------------------------------------------------------


def _write_tensors(repo: Repository, tensors: Mapping[str, Tensor]) -> Path:
    out = repo.temp_path(".safetensors")
    write_atomic(out, serialize(tensors))
    return out


def _land(repo: Repository, src: Path, parents: list[str], message: str) -> Commit:
    """Commit ``src`` with ``parents``, make it the work-tree model, then move HEAD."""
    created = record_commit(repo, src, parents, message)
    os.replace(src, repo.model_path)
    repo.worktree_sha256()
    repo.set_head(created.id)
    return created


def merge(
    repo: Repository, a: str, b: str, *, strategy: str = "average", groups: Mapping[str, str] | None = None,
    message: str | None = None,
) -> tuple[Commit, MergeReport]:  # fmt: skip
    """Merge commits A and B per parameter group into a new commit with parents [A, B]."""
    with repo.locked():
        a_id, b_id = repo.resolve(a), repo.resolve(b)
        if a_id == b_id:
            raise NothingToCommitError(f"{a} and {b} are the same commit; nothing to merge")
        require_clean(repo, "merging")
        base = history.merge_base(repo, a_id, b_id)
        with repo.materialized(a_id) as pa, repo.materialized(b_id) as pb:
            if base is None:
                tensors, report = merge_models(pa, pb, None, strategy, groups or {})
            else:
                with repo.materialized(base) as pbase:
                    tensors, report = merge_models(pa, pb, pbase, strategy, groups or {})
        if base is None:
            report.notes.append("no common ancestor: every differing group was a conflict")
        src = _write_tensors(repo, tensors)
        try:
            created = _land(repo, src, [a_id, b_id], message or f"merge {a_id[:12]} and {b_id[:12]}")
        finally:
            src.unlink(missing_ok=True)
        return created, report


def rebase(repo: Repository, onto: str | None = None) -> tuple[Commit, list[str]]:
    """Carry HEAD's fine-tune (HEAD − merge base) onto ``onto`` (default: the fetched upstream head)."""
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
        message = repo.read_commit(head).commit.message
        src = _write_tensors(repo, tensors)
        try:
            created = _land(repo, src, [target], f"{message} (rebased onto {target[:12]})")
        finally:
            src.unlink(missing_ok=True)
        return created, notes
