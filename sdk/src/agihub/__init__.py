"""agihub: a decentralized model hub. Models live as erasure-coded shards on independent relays
and downloads are paid through on-chain escrow.

The client surface is pinned by ``tests/sdk/client/test_surface_and_core.py``.
"""

from typing import TYPE_CHECKING, Any

from agihub.errors import AgihubError, ApiError, ChainError, ConfigError, StorageError

if TYPE_CHECKING:
    from agihub.client import AsyncClient, Client

__version__ = "0.1.0"

__all__ = [
    "AgihubError",
    "ApiError",
    "AsyncClient",
    "ChainError",
    "Client",
    "ConfigError",
    "StorageError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """``agihub.Client`` and ``agihub.AsyncClient`` load on first use, so ``import agihub`` stays light."""
    if name in ("Client", "AsyncClient"):
        from agihub import client

        return getattr(client, name)
    raise AttributeError(f"module 'agihub' has no attribute {name!r}")
