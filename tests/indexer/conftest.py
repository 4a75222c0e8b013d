"""Indexer fixtures: a hardhat node per session (each test gets a fresh chain state via snapshots)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.dev.ports import free_port
from tests.indexer.market_kit import Market, hardhat_available, rpc, start_node


@pytest.fixture(scope="session")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local hardhat JSON-RPC node for the whole session."""
    if not hardhat_available():
        pytest.skip("hardhat is not installed in contracts/evm/node_modules (run `make install`)")
    port = free_port()
    proc = start_node(port, tmp_path_factory.mktemp("hardhat") / "node.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()


@pytest.fixture
def fresh_node(node_url: str) -> Iterator[str]:
    """The session node, reverted afterwards to the state before the test (blocks included)."""
    snapshot = rpc(node_url, "evm_snapshot")
    try:
        yield node_url
    finally:
        rpc(node_url, "evm_revert", [snapshot])


@pytest.fixture
def market(fresh_node: str) -> Market:
    """A freshly deployed market on the node."""
    return Market.deploy(fresh_node)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The shared schema at head on SQLite or PostgreSQL (both, via ``database_url``)."""
    migrate.upgrade(database_url)
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database (for tests about ingestion logic rather than backend parity)."""
    url = f"sqlite:///{tmp_path / 'idx.db'}"
    migrate.upgrade(url)
    eng = make_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(scope="module")
def scenario_market(node_url: str) -> Iterator[Market]:
    """A market that went through every event type once, shared by a module's read-only tests."""
    snapshot = rpc(node_url, "evm_snapshot")
    try:
        market = Market.deploy(node_url)
        market.full_scenario()
        yield market
    finally:
        rpc(node_url, "evm_revert", [snapshot])
