"""Wiring: settings -> source, store and follower (what ``agihub indexer run`` starts)."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import Engine

from agihub.errors import ConfigError
from agihub_indexer.follower import FollowConfig, Follower, wait_for_chain
from agihub_indexer.settings import IndexerSettings
from agihub_indexer.sources.aptos import AptosSource
from agihub_indexer.sources.base import Source
from agihub_indexer.sources.evm import EvmSource
from agihub_indexer.store import Store
from agihub_services.db import migrate


def make_source(settings: IndexerSettings, transport: httpx.BaseTransport | None = None) -> Source:
    """The source named by ``AGIHUB_INDEXER_CHAIN`` on ``AGIHUB_INDEXER_RPC_URL``."""
    if not settings.market_address:
        raise ConfigError("AGIHUB_INDEXER_MARKET_ADDRESS is empty: set the deployed market's address")
    if settings.chain == "evm":
        return EvmSource(
            settings.rpc_url, settings.market_address, timeout=settings.request_timeout_s, transport=transport
        )
    return AptosSource(
        settings.rpc_url, settings.market_address, timeout=settings.request_timeout_s, transport=transport
    )


def follow_config(settings: IndexerSettings) -> FollowConfig:
    """The follower's pacing from the settings."""
    return FollowConfig(
        confirmations=settings.confirmations,
        reorg_limit=settings.reorg_limit,
        batch_size=settings.batch_size,
        start_block=settings.start_block,
        poll_interval_s=settings.poll_interval_s,
        max_backoff_s=settings.max_backoff_s,
    )


def require_schema(url: str) -> None:
    """Refuse to run on a database whose schema is not at the shipped head revision."""
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        raise ConfigError(
            f"database is at revision {current}, the indexer needs {head}: run `agihub db upgrade`"
        )


def make_follower(
    settings: IndexerSettings,
    engine: Engine,
    transport: httpx.BaseTransport | None = None,
    stop: threading.Event | None = None,
) -> Follower:
    """A follower of the configured chain into ``engine`` (waits for the node to name its chain)."""
    source = make_source(settings, transport)
    chain = wait_for_chain(source, max_backoff_s=settings.max_backoff_s, stop=stop)
    store = Store(engine, chain, reorg_limit=settings.reorg_limit)
    return Follower(source, store, follow_config(settings))
