"""Crash safety: `agihub indexer run` SIGKILLed at random points of a backfill, then restarted.

After the last restart catches up, the database must equal a clean replay of the same chain: no
row missing, none duplicated, none left over from a half-written batch. ``make test`` kills it 3
times per backend; ``make test-full`` 100 times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agihub_indexer.follower import FollowConfig, Follower
from agihub_indexer.sources.evm import EvmSource
from agihub_indexer.store import Store
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from tests.indexer.dbdump import diff, dump
from tests.indexer.market_kit import Market, rpc

pytestmark = pytest.mark.node

AGIHUB = Path(sys.executable).with_name("agihub")


@pytest.fixture(scope="module")
def long_market(node_url: str) -> Iterator[Market]:
    """~200 blocks of market activity, one transaction per block."""
    snapshot = rpc(node_url, "evm_snapshot")
    try:
        market = Market.deploy(node_url)
        market.full_scenario()
        for seed in range(60):
            market.order_round(seed)
        yield market
    finally:
        rpc(node_url, "evm_revert", [snapshot])


def _env(url: str, market: Market, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
    env.update(
        AGIHUB_DATA_DIR=str(data_dir),
        AGIHUB_DATABASE_URL=url,
        AGIHUB_INDEXER_RPC_URL=market.url,
        AGIHUB_INDEXER_MARKET_ADDRESS=market.address,
        AGIHUB_INDEXER_BATCH_SIZE="1",
        AGIHUB_INDEXER_REORG_LIMIT="16",
        AGIHUB_INDEXER_POLL_INTERVAL_S="0.2",
    )
    return env


def _position(engine: Engine, chain: str) -> int:
    cursor = Store(engine, chain).cursor()
    return -1 if cursor is None else cursor.position


def _kill_when_reached(
    proc: subprocess.Popen, engine: Engine, chain: str, target: int, rng: random.Random
) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _position(engine, chain) >= target:
            time.sleep(rng.uniform(0, 0.02))  # land anywhere inside the next batch's work
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return _position(engine, chain)


def _clean_replay(market: Market, tmp_path: Path) -> tuple[dict, str]:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        source = EvmSource(market.url, market.address)
        follower = Follower(source, Store(engine, source.chain, reorg_limit=16), FollowConfig(reorg_limit=16))
        follower.run(until_caught_up=True)
        follower.close()
        return dump(engine, source.chain), source.chain
    finally:
        engine.dispose()


def _crash_and_recover(market: Market, database_url: str, tmp_path: Path, kills: int) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    expected, chain = _clean_replay(market, tmp_path)
    head = market.head()
    rng = random.Random(kills * 7919 + len(database_url))
    targets = sorted(rng.sample(range(1, head - 1), k=min(kills, head - 2)))
    env = _env(database_url, market, tmp_path / "data")
    seen = []
    try:
        for target in targets:
            proc = subprocess.Popen(
                [str(AGIHUB), "indexer", "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            seen.append(_kill_when_reached(proc, engine, chain, target, rng))
        done = subprocess.run(
            [str(AGIHUB), "indexer", "run", "--until-caught-up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert all(0 < p < head for p in seen[: len(targets)]), f"kills did not land mid-backfill: {seen}"
        assert diff(dump(engine, chain), expected) == {}
    finally:
        engine.dispose()


def test_sigkill_during_backfill_then_restart_equals_clean_replay(
    long_market: Market, database_url: str, tmp_path: Path
) -> None:
    _crash_and_recover(long_market, database_url, tmp_path, kills=3)


@pytest.mark.slow
def test_sigkill_100_times(long_market: Market, database_url: str, tmp_path: Path) -> None:
    _crash_and_recover(long_market, database_url, tmp_path, kills=100)
