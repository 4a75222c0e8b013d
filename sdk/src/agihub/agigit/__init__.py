"""agigit: a git-like repository of model versions whose remotes are relays.

A repository versions four parts separately (issue #10): ``params`` (a safetensors model),
``code`` (one small signed blob), ``train-data`` and ``val-data`` (content-defined chunks, thin
packages that store only new chunks). A commit is a signed object naming the storage package
(agihub.storage) of each part present, its parents, message, author and time. A version built on a
foundation is stored as a lossless agihub.delta against it when that is smaller. Tensors are
grouped into parameter groups (name prefix up to the layer index) for ``diff`` and ``merge``.
``push`` fans shards out to the push relays (agihub.transfer); ``fetch`` needs any k of them.

Public API (the ``agigit`` command is a thin adapter over it)::

    repo = Repository.init(path, name=..., private=..., k=4, n=6)   # or Repository.find(".")
    worktree.add(repo, "train-data", "train.jsonl")            # track a file per part
    worktree.commit(repo, "message", parts=, use=) / worktree.status(repo)
    worktree.checkout(repo, rev, part=None) / worktree.diff_part(repo, part, a, b) -> PartDiff
    worktree.diff(repo, a, b) -> [GroupDiff] / worktree.merge(repo, a, b, strategy=, groups=, take=)
    worktree.rebase(repo, onto) / history.log(repo, rev, part=None)
    remote.relay_add(repo, url_or_pk, fetch=, push=) / remote.push(repo) / remote.fetch(repo)
    remote.pull(repo, rev)

Layout, formats and the command list are in ``README.md`` beside this file.
"""

from agihub.agigit import history, remote, worktree
from agihub.agigit.commit import Commit, CommitBody, PartVersion, parse_commit, sign_commit
from agihub.agigit.errors import (
    AgigitError,
    CorruptObjectError,
    DirtyTreeError,
    DivergedError,
    IncompatibleLayoutError,
    MissingModelError,
    NoCommonAncestorError,
    NoRelaysError,
    NotARepositoryError,
    NothingToCommitError,
    PartConflictError,
    PartTooLargeError,
    RemoteError,
    RepositoryExistsError,
    RepositoryLockedError,
    UnknownCommitError,
    UnknownGroupError,
    UnknownPartError,
    UnknownPartVersionError,
)
from agihub.agigit.groups import GroupDiff, group_of
from agihub.agigit.merge import MergeReport
from agihub.agigit.parts import PartDiff
from agihub.agigit.repository import Config, Relay, Repository

__all__ = [
    "AgigitError",
    "Commit",
    "CommitBody",
    "Config",
    "CorruptObjectError",
    "DirtyTreeError",
    "DivergedError",
    "GroupDiff",
    "IncompatibleLayoutError",
    "MergeReport",
    "MissingModelError",
    "NoCommonAncestorError",
    "NoRelaysError",
    "NotARepositoryError",
    "NothingToCommitError",
    "PartConflictError",
    "PartDiff",
    "PartTooLargeError",
    "PartVersion",
    "Relay",
    "RemoteError",
    "Repository",
    "RepositoryExistsError",
    "RepositoryLockedError",
    "UnknownCommitError",
    "UnknownGroupError",
    "UnknownPartError",
    "UnknownPartVersionError",
    "group_of",
    "history",
    "parse_commit",
    "remote",
    "sign_commit",
    "worktree",
]
