"""Moving model shards between this machine and relays: placement, push, fetch, audit, repair.

The logic is plain synchronous code over HTTP (Blossom BUD-01/02 on each relay); the Celery worker's
tasks and the ``agigit`` command line both call it.
"""

from agihub.transfer.audit import AuditOutcome, Challenge, audit, make_challenges
from agihub.transfer.errors import NotEnoughShardsError, PlacementError, RelayFailure, TransferError
from agihub.transfer.fetch import FetchReport, fetch_package, fetch_shards
from agihub.transfer.placement import happiness, place
from agihub.transfer.push import PushReport, push_package
from agihub.transfer.relays import RelayTarget, http_base
from agihub.transfer.repair import rebuild_shards

__all__ = [
    "AuditOutcome",
    "Challenge",
    "FetchReport",
    "NotEnoughShardsError",
    "PlacementError",
    "PushReport",
    "RelayFailure",
    "RelayTarget",
    "TransferError",
    "audit",
    "fetch_package",
    "fetch_shards",
    "happiness",
    "http_base",
    "make_challenges",
    "place",
    "push_package",
    "rebuild_shards",
]
