"""The agent's table: a key once written never changes, rows are per market, bounds are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.relay.agent_store import (
    DECLINED,
    PREPARED,
    TAKEN,
    AgentOrder,
    AgentStore,
    AgentStoreError,
)

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def store(tmp_path: Path) -> AgentStore:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    migrate.upgrade(url)
    return AgentStore(make_engine(url), MARKET)


def row(order_id: int, state: str = PREPARED) -> AgentOrder:
    return AgentOrder(MARKET, order_id, state, "0xBuyer", "00" * 32, order_key="aa" * 32, salt="bb" * 32)


def test_insert_get_update(store: AgentStore) -> None:
    store.insert(row(1))
    updated = store.update(1, state=TAKEN, take_tx="0x" + "cd" * 32)
    assert (updated.state, updated.order_key, updated.take_tx) == (TAKEN, "aa" * 32, "0x" + "cd" * 32)
    assert store.get(2) is None


def test_a_second_insert_never_overwrites_the_key(store: AgentStore) -> None:
    store.insert(row(1))
    with pytest.raises(AgentStoreError, match="already has an agent row"):
        store.insert(AgentOrder(MARKET, 1, PREPARED, "0xBuyer", "00" * 32, order_key="ff" * 32))
    assert store.get(1).order_key == "aa" * 32


def test_key_salt_and_identity_are_frozen(store: AgentStore) -> None:
    store.insert(row(1))
    with pytest.raises(AgentStoreError, match="never change"):
        store.update(1, order_key="ff" * 32)
    assert store.get(1).order_key == "aa" * 32


def test_update_of_a_missing_row_and_out_of_range_ids(store: AgentStore) -> None:
    with pytest.raises(AgentStoreError, match="no agent row"):
        store.update(5, state=TAKEN)
    with pytest.raises(AgentStoreError, match="does not fit"):
        store.get(2**63)
    with pytest.raises(AgentStoreError, match="market"):
        store.insert(AgentOrder("0x" + "11" * 20, 1, PREPARED, "0xBuyer", "00" * 32))


def test_open_orders_skip_final_states_and_other_markets(store: AgentStore) -> None:
    store.insert(row(3, TAKEN))
    store.insert(row(1))
    store.insert(row(2, DECLINED))
    other = AgentStore(store.engine, "0x" + "11" * 20)
    other.insert(AgentOrder(other.market, 4, PREPARED, "0xBuyer", "00" * 32))
    assert store.open_orders() == [1, 3]
    assert [r.order_id for r in store.all()] == [1, 2, 3]
