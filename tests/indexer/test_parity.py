"""SQLite and PostgreSQL end with identical rows for the same chain (and a reorg on it)."""

from __future__ import annotations

import pytest

from agihub_indexer.follower import FollowConfig, Follower
from agihub_indexer.sources.evm import EvmSource
from agihub_indexer.store import Store
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from tests.indexer.dbdump import diff, dump
from tests.indexer.market_kit import Market

pytestmark = [pytest.mark.node, pytest.mark.postgres]


def _index(market: Market, url: str, batch_size: int) -> dict:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        source = EvmSource(market.url, market.address)
        follower = Follower(source, Store(engine, source.chain), FollowConfig(batch_size=batch_size))
        follower.run(until_caught_up=True)
        follower.close()
        return dump(engine, source.chain)
    finally:
        engine.dispose()


def test_sqlite_and_postgresql_hold_identical_rows(
    scenario_market: Market, postgres_url: str, tmp_path
) -> None:
    on_sqlite = _index(scenario_market, f"sqlite:///{tmp_path / 'p.db'}", batch_size=3)
    on_postgres = _index(scenario_market, postgres_url, batch_size=7)  # different batching, same result
    assert on_sqlite["chain_events"] and on_sqlite["orders"] and on_sqlite["contributions"]
    assert {name for name, rows in on_sqlite.items() if not rows} == set()
    assert diff(on_sqlite, on_postgres) == {}
