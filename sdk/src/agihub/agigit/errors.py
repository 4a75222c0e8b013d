"""Errors of agigit, the git-like repository of model versions (``agihub.agigit``).

Every class derives from :class:`agihub.errors.AgihubError`; each message names the problem and
the command to try. When one is raised the repository is as it was before the command (objects
are written to temp files and renamed, refs are updated last)::

    AgihubError
    └── AgigitError                   any agigit failure
        ├── NotARepositoryError       no .agigit directory here or above
        ├── RepositoryExistsError     init in a directory that already has one
        ├── RepositoryLockedError     another agigit command holds the repository lock
        ├── CorruptObjectError        a stored or fetched commit fails its id, format or signature
        ├── UnknownCommitError        a commit id (or prefix) names no commit, or is ambiguous
        ├── NothingToCommitError      the work tree equals HEAD
        ├── DirtyTreeError            the work tree has uncommitted changes
        ├── MissingModelError         the tracked model file is absent from the work tree
        ├── IncompatibleLayoutError   two versions do not share tensor names, dtypes and shapes
        ├── UnknownGroupError         a --group names no parameter group of the model
        ├── NoCommonAncestorError     rebase/merge base needed but the histories never met
        ├── DivergedError             pull cannot fast-forward: local and remote heads diverged
        ├── NoRelaysError             push/fetch with no relay of that direction configured
        ├── RemoteError               relays unreachable, or no head / object found on them
        ├── UnknownPartError          a part name other than code, params, train-data, val-data
        ├── UnknownPartVersionError   a commit would name a part version (package) that does not exist
        ├── PartTooLargeError         a part's file exceeds the configured limit (code: 16 MiB)
        └── PartConflictError         merge: a part other than params changed on both sides
"""

from __future__ import annotations

from agihub.errors import AgihubError


class AgigitError(AgihubError):
    """Base class of every agigit error."""


class NotARepositoryError(AgigitError):
    """The directory (and its parents) holds no ``.agigit`` repository."""


class RepositoryExistsError(AgigitError):
    """``init`` was asked to create a repository where one exists."""


class RepositoryLockedError(AgigitError):
    """Another agigit process holds ``.agigit/lock``."""


class CorruptObjectError(AgigitError):
    """A commit object is malformed, not canonical, or its id or signature does not verify."""


class UnknownCommitError(AgigitError):
    """A commit id or prefix names no known commit, or more than one."""


class NothingToCommitError(AgigitError):
    """The work tree's model is byte-identical to HEAD's."""


class DirtyTreeError(AgigitError):
    """The work tree's model differs from HEAD and the command would overwrite it."""


class MissingModelError(AgigitError):
    """The tracked model file is not in the work tree."""


class IncompatibleLayoutError(AgigitError):
    """Two model versions differ in tensor names, dtypes or shapes, so they cannot be combined."""


class UnknownGroupError(AgigitError):
    """A per-group option names a parameter group the model does not have."""


class NoCommonAncestorError(AgigitError):
    """The operation needs a common ancestor of two commits and there is none."""


class DivergedError(AgigitError):
    """Local and remote heads both have commits the other lacks; merge instead of pulling."""


class NoRelaysError(AgigitError):
    """No relay is configured for the direction (push or fetch) the command needs."""


class RemoteError(AgigitError):
    """Relays could not be reached, or hold no head or object for this repository."""


class UnknownPartError(AgigitError):
    """A part name is not one of ``code``, ``params``, ``train-data``, ``val-data``."""


class UnknownPartVersionError(AgigitError):
    """A commit would name a part version (storage package) this repository does not hold."""


class PartTooLargeError(AgigitError):
    """A part's file is larger than the repository's configured limit for that part."""


class PartConflictError(AgigitError):
    """A merge found a part (other than params) changed on both sides; pick one with ``--take``."""
