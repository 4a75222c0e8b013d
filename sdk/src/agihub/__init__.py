"""agihub: a decentralized model hub. Models live as erasure-coded shards on independent relays
and downloads are paid through on-chain escrow.

The public surface is pinned by ``tests/sdk/test_public_surface.py``.
"""

from agihub.errors import AgihubError, ApiError, ChainError, ConfigError, StorageError

__version__ = "0.1.0"

__all__ = [
    "AgihubError",
    "ApiError",
    "ChainError",
    "ConfigError",
    "StorageError",
    "__version__",
]
