"""Chain layer: the order-escrow contract surface, its typed errors and backends.

* :mod:`agihub.chain.catalog` - the surface as data (functions, events, error codes)
* :mod:`agihub.chain.errors` - one exception per contract error, :func:`error_from_name`
* :mod:`agihub.chain.base` - the :class:`Chain` interface and result models
* :mod:`agihub.chain.commitment` - key and score commitments matching the contracts
* :mod:`agihub.chain.evm` / :mod:`agihub.chain.evm_deploy` - EVM backend (needs the ``evm`` extra)
* :mod:`agihub.chain.aptos` - Aptos backend (needs the ``aptos`` extra)

Backends are imported explicitly so that the SDK core does not require web3 or aptos-sdk.
"""

from agihub.chain.base import (
    Chain,
    ChainEvent,
    Contribution,
    EpochInfo,
    EpochResult,
    Order,
    Receipt,
    RelayInfo,
)
from agihub.chain.catalog import FEE_CAP_BPS, MAX_RELAYS, MAX_WINDOW, OrderState
from agihub.chain.commitment import key_commit, score_commit
from agihub.chain.errors import ContractError, error_from_name

__all__ = [
    "FEE_CAP_BPS",
    "MAX_RELAYS",
    "MAX_WINDOW",
    "Chain",
    "ChainEvent",
    "ContractError",
    "Contribution",
    "EpochInfo",
    "EpochResult",
    "Order",
    "OrderState",
    "Receipt",
    "RelayInfo",
    "error_from_name",
    "key_commit",
    "score_commit",
]
