"""``agihub.Client`` and ``agihub.AsyncClient``: publish, order, follow, download, relays, rewards.

Both share one IO-free core (:mod:`agihub.client.core`); settings come from arguments or the
environment (:mod:`agihub.client.config`). Runnable examples: ``README.md`` and ``examples/``.
"""

from agihub.client.aio import AsyncClient
from agihub.client.core import (
    ApiNotFound,
    ApiRateLimited,
    ApiRequestError,
    ApiUnavailable,
    DeliveryError,
    FollowTimeout,
    ManifestMismatch,
    ManifestNotFound,
    ModelNotOffered,
)
from agihub.client.models import DeliveryResult, OrderEvent, OrderPlaced, PublishResult, Rewards
from agihub.client.sync import Client

__all__ = [
    "ApiNotFound",
    "ApiRateLimited",
    "ApiRequestError",
    "ApiUnavailable",
    "AsyncClient",
    "Client",
    "DeliveryError",
    "DeliveryResult",
    "FollowTimeout",
    "ManifestMismatch",
    "ManifestNotFound",
    "ModelNotOffered",
    "OrderEvent",
    "OrderPlaced",
    "PublishResult",
    "Rewards",
]
