"""Settings of the indexer (env prefix ``AGIHUB_INDEXER_``) on top of the shared ones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agihub_services.config import CommonSettings


class IndexerSettings(CommonSettings):
    """``AGIHUB_INDEXER_*``: which node to follow, how cautiously, and in which steps.

    ``confirmations`` keeps the indexer that many blocks behind the head (0 indexes the head and relies
    on reorg handling alone); ``reorg_limit`` is the deepest reorg rolled back automatically: a reorg
    of ``reorg_limit`` blocks or more halts the indexer with :class:`~agihub_indexer.errors.ReorgTooDeep`.
    """

    model_config = SettingsConfigDict(env_prefix="AGIHUB_INDEXER_", extra="ignore")

    chain: Literal["evm", "aptos"] = "evm"
    rpc_url: str = "http://127.0.0.1:8545"
    #: Address of the market contract (EVM) or of the package account publishing it (Aptos).
    market_address: str = ""
    confirmations: int = Field(0, ge=0, le=10_000)
    reorg_limit: int = Field(64, ge=1, le=100_000)
    batch_size: int = Field(500, ge=1, le=100_000)
    start_block: int = Field(0, ge=0)
    poll_interval_s: float = Field(2.0, gt=0, le=3600)
    request_timeout_s: float = Field(10.0, gt=0, le=600)
    #: Longest sleep between retries after node errors (the backoff doubles up to this).
    max_backoff_s: float = Field(30.0, gt=0, le=3600)

    def unsafe_defaults(self) -> list[str]:
        problems = super().unsafe_defaults()
        if self.chain == "evm" and self.confirmations == 0:
            problems.append("AGIHUB_INDEXER_CONFIRMATIONS: 0 indexes unconfirmed blocks; use at least 12")
        if not self.market_address:
            problems.append("AGIHUB_INDEXER_MARKET_ADDRESS: empty; set the deployed market's address")
        return problems
