"""Reorgs on the local EVM node: evm_snapshot, index the old branch, evm_revert, mine a new branch.

At depths 1, 2 and the limit - 1 the database must equal a clean replay of the canonical chain;
at the limit the indexer halts with ReorgTooDeep and leaves the database as it was.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from agihub_indexer.errors import ReorgTooDeep
from agihub_indexer.follower import FollowConfig, Follower
from agihub_indexer.sources.evm import EvmSource
from agihub_indexer.store import Store
from tests.indexer.dbdump import diff, dump
from tests.indexer.market_kit import Market, rpc

pytestmark = pytest.mark.node

LIMIT = 6


def follow(market: Market, engine: Engine, **config: int) -> Follower:
    source = EvmSource(market.url, market.address)
    store = Store(engine, source.chain, reorg_limit=LIMIT)
    return Follower(source, store, FollowConfig(reorg_limit=LIMIT, batch_size=config.get("batch_size", 3)))


def catch_up(market: Market, engine: Engine) -> Follower:
    follower = follow(market, engine)
    try:
        follower.run(until_caught_up=True)
    finally:
        follower.close()
    return follower


def replay(market: Market, tmp_path, name: str) -> dict:
    """Index the node's current canonical chain into a fresh SQLite database."""
    from agihub_services.db import migrate
    from agihub_services.db.engine import make_engine

    url = f"sqlite:///{tmp_path / name}"
    migrate.upgrade(url)
    fresh = make_engine(url)
    try:
        follower = catch_up(market, fresh)
        return dump(fresh, follower.store.chain)
    finally:
        fresh.dispose()


def _old_branch(market: Market, depth: int) -> None:
    """``depth`` blocks, one transaction each (automine): pulls, and a cancel touching an older order."""
    for i in range(depth):
        if i % 2 == 0:
            market.pull(1000 + i)
        else:
            market.buyer.cancel(market.admin.next_order_id() - 1)


def _new_branch(market: Market, length: int) -> None:
    for i in range(length):
        market.pull(5000 + i)


@pytest.fixture
def base_market(market: Market) -> Market:
    market.register_relays()
    for seed in range(4):
        market.order_round(seed)
    return market


@pytest.mark.parametrize(
    ("depth", "longer"),
    [(1, True), (2, True), (LIMIT - 1, True), (2, False)],
    ids=["depth1", "depth2", "limit-1", "depth2-same-length"],
)
def test_reorg_within_the_limit_ends_equal_to_the_canonical_chain(
    base_market: Market, engine: Engine, tmp_path, depth: int, longer: bool
) -> None:
    market = base_market
    snapshot = rpc(market.url, "evm_snapshot")
    _old_branch(market, depth)
    old_head = market.head()
    follower = catch_up(market, engine)
    assert follower.progress.position == old_head
    old_events = dump(engine, follower.store.chain)["chain_events"]

    rpc(market.url, "evm_revert", [snapshot])
    _new_branch(market, depth + 1 if longer else depth)
    follower = catch_up(market, engine)
    assert follower.progress.reorgs == 1
    got = dump(engine, follower.store.chain)
    delta = diff(got, replay(market, tmp_path, "canonical.db"))
    assert delta == {}, __import__("pprint").pformat(delta, width=200)
    assert got["chain_events"] != old_events  # the orphaned events are gone


def test_reorg_at_the_limit_halts_and_changes_nothing(base_market: Market, sqlite_engine: Engine) -> None:
    market = base_market
    snapshot = rpc(market.url, "evm_snapshot")
    _old_branch(market, LIMIT)
    follower = catch_up(market, sqlite_engine)
    before = dump(sqlite_engine, follower.store.chain)

    rpc(market.url, "evm_revert", [snapshot])
    _new_branch(market, LIMIT + 1)
    follower = follow(market, sqlite_engine)
    try:
        with pytest.raises(ReorgTooDeep, match="deeper than the limit of 6"):
            follower.run(until_caught_up=True)
    finally:
        follower.close()
    assert diff(before, dump(sqlite_engine, follower.store.chain)) == {}
    cursor = follower.store.cursor()
    assert cursor is not None and "deeper than the limit" in (cursor.halted or "")
