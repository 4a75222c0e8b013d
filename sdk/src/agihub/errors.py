"""The agihub exception tree.

Every error the SDK raises derives from :class:`AgihubError`, so a dApp can catch one class.
Each sub-tree lives beside the code that raises it and is re-exported here::

    AgihubError
    ├── ConfigError              a setting is missing, malformed or unsafe
    ├── StorageError             model packages (agihub.storage.errors)
    ├── ChainError               contract calls (agihub.chain.errors: one class per contract error)
    ├── ApiError                 a service answered with an ``error_code``
    └── ModelNotOffered          no relay named in an order offers its model (agihub.client.core)

``agihub.client.core`` also adds ``ManifestNotFound`` and ``ManifestMismatch`` (StorageErrors) for a
manifest looked up by model root on relays.

Messages always name the problem and, where there is one, the fix to try.
"""

from __future__ import annotations


class AgihubError(Exception):
    """Base class of every error raised by agihub."""


class ConfigError(AgihubError):
    """A setting is missing, malformed or refused (for example an unsafe default in production)."""


class StorageError(AgihubError):
    """A model package, shard, manifest or local cache failed a check."""


class ChainError(AgihubError):
    """A contract call failed; subclasses carry the contract's error name."""


class ApiError(AgihubError):
    """A service answered with an error body; ``error_code`` is its stable machine-readable code."""

    def __init__(self, error_code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.status = status
