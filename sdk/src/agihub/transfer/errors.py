"""Errors of shard transfer (agihub.transfer); each names the relays involved and what to try.

::

    StorageError
    └── TransferError              a transfer could not complete
        ├── PlacementError         not enough distinct relays/operators for the required happiness
        ├── RelayFailure           one relay failed a request (timeout, refused, 4xx/5xx, wrong bytes)
        └── NotEnoughShardsError   fewer than k verified shards could be fetched
"""

from __future__ import annotations

from agihub.errors import StorageError


class TransferError(StorageError):
    """A transfer between this machine and relays could not complete."""


class PlacementError(TransferError):
    """The relays offered cannot satisfy the placement policy (happiness, distinct operators)."""


class RelayFailure(TransferError):
    """One relay failed one request; ``transient`` says whether retrying later may help."""

    def __init__(self, url: str, reason: str, *, transient: bool) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.transient = url, reason, transient


class NotEnoughShardsError(TransferError):
    """Fewer than k shards could be fetched and verified; ``failures`` maps relay URL to reason."""

    def __init__(self, message: str, failures: dict[str, str]) -> None:
        super().__init__(message)
        self.failures = failures
