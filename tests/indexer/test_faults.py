"""A node that errors, times out or contradicts itself: the indexer retries and never writes a partial batch."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import Engine

from agihub_indexer.errors import SourceError
from agihub_indexer.follower import FollowConfig, Follower, wait_for_chain
from agihub_indexer.sources.evm import EvmSource
from agihub_indexer.store import Store
from tests.indexer.dbdump import diff, dump
from tests.indexer.faults import FAULTS, FaultyTransport
from tests.indexer.market_kit import Market

pytestmark = pytest.mark.node


@pytest.fixture
def busy_market(scenario_market: Market) -> Market:
    return scenario_market


def _follower(market: Market, engine: Engine, transport=None, sleeps: list[float] | None = None) -> Follower:
    source = EvmSource(market.url, market.address, timeout=5, transport=transport)
    store = Store(engine, wait_for_chain(source, sleep=lambda _s: None), reorg_limit=16)
    sleep = sleeps.append if sleeps is not None else (lambda _s: None)
    return Follower(source, store, FollowConfig(reorg_limit=16, batch_size=4, max_backoff_s=2.0), sleep=sleep)


def _index_to_head(follower: Follower, head: int) -> None:
    # A lowered head can make the follower believe it is caught up; real followers poll again.
    for _ in range(200):
        follower.run(until_caught_up=True)
        if follower.store.cursor().position == head:
            return
    raise AssertionError("never reached the head")


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_alone_is_retried_and_the_result_equals_a_clean_run(
    busy_market: Market, sqlite_engine: Engine, tmp_path, fault: str
) -> None:
    from agihub_services.db import migrate
    from agihub_services.db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'faulty.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    head = busy_market.head()
    clean = _follower(busy_market, sqlite_engine)
    clean.run(until_caught_up=True)
    clean.close()

    # a fixed seed per fault (str hashes change with PYTHONHASHSEED: the schedule would differ per run)
    transport = FaultyTransport(rate=0.4, seed=zlib.crc32(fault.encode()), faults=(fault,))
    sleeps: list[float] = []
    faulty = _follower(busy_market, engine, transport, sleeps)
    try:
        _index_to_head(faulty, head)
    finally:
        faulty.close()
    assert transport.injected, f"{fault} was never injected"
    assert faulty.progress.retries > 0 and faulty.progress.reorgs == 0
    assert max(sleeps) <= 2.0
    assert diff(dump(engine, faulty.store.chain), dump(sqlite_engine, clean.store.chain)) == {}
    engine.dispose()


def test_a_failed_fetch_writes_nothing_and_backoff_doubles(
    busy_market: Market, sqlite_engine: Engine
) -> None:
    ok = _follower(busy_market, sqlite_engine)
    ok.step()
    ok.close()
    before = dump(sqlite_engine, ok.store.chain)
    sleeps: list[float] = []
    transport = FaultyTransport(rate=0.0, seed=1, faults=("http500",))
    broken = _follower(busy_market, sqlite_engine, transport, sleeps)
    transport.rate = 1.0  # the node fails from now on (it named its chain while it still answered)
    with pytest.raises(SourceError, match="HTTP 500"):
        broken.step()
    assert diff(before, dump(sqlite_engine, ok.store.chain)) == {}
    # the loop keeps retrying with doubling sleeps, capped, until stopped
    import threading

    stop = threading.Event()
    broken.sleep = lambda s: (sleeps.append(s), len(sleeps) >= 6 and stop.set())
    broken.run(stop)
    broken.close()
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert diff(before, dump(sqlite_engine, ok.store.chain)) == {}


def test_mixed_faults_at_a_high_rate(busy_market: Market, sqlite_engine: Engine, tmp_path) -> None:
    head = busy_market.head()
    transport = FaultyTransport(rate=0.5, seed=7)
    follower = _follower(busy_market, sqlite_engine, transport)
    try:
        _index_to_head(follower, head)
    finally:
        follower.close()
    from agihub_services.db import migrate
    from agihub_services.db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'clean.db'}"
    migrate.upgrade(url)
    clean_engine = make_engine(url)
    clean = _follower(busy_market, clean_engine)
    clean.run(until_caught_up=True)
    clean.close()
    assert len(set(transport.injected)) >= 5
    assert diff(dump(sqlite_engine, follower.store.chain), dump(clean_engine, clean.store.chain)) == {}
    clean_engine.dispose()
