"""The order agent on a real EVM (py-evm executing the compiled market): take, deliver, reveal, settle,
and restarts in the middle of each step."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agihub.chain.catalog import OrderState
from agihub.chain.errors import ChainConnectionError
from agihub.storage.crypto import delivered_root_of, open_delivery
from agihub.storage.package import shard_name
from agihub_services.relay.agent import OrderAgent, delivery_path
from agihub_services.relay.agent_store import DECLINED, EXPIRED, LOST, PREPARED, REVEALED, TAKEN
from agihub_services.relay.app import create_app
from agihub_services.relay.delivery import deliveries_root, sign_delivery_request
from tests.services.relay.conftest import PUBLIC_URL, make_settings
from tests.services.relay.test_agent_kit import (
    COST,
    DOWN,
    TIP,
    WINDOW,
    Crash,
    Market,
    crash_after,
    crash_before,
    host_model,
    make_market,
    pack_tiny_model,
    put_blob,
)

HELD = (0, 1)


@pytest.fixture
def market() -> Market:
    return make_market()


@pytest.fixture
def node(tmp_path: Path, isolated_env: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        yield client


@pytest.fixture
def model(tmp_path: Path, node: TestClient, market: Market):
    market.relay.register_relay(b"\x01" * 32, "ws://relay.example")
    signed = pack_tiny_model(tmp_path / "model")
    host_model(node.app.state.blobs, tmp_path / "model", HELD)
    return signed


def new_agent(market: Market, node: TestClient) -> OrderAgent:
    """A fresh agent process: new chain handle, new in-memory state, same database and files."""
    chain = market.relay.with_account(market.relay.account)
    return OrderAgent(chain, node.app.state.blobs, deliveries_root(node.app.state.settings))


def download(node: TestClient, market: Market, order_id: int, account=None):
    header = sign_delivery_request(
        account or market.buyer.account, PUBLIC_URL, market.admin.contract.address, order_id
    )
    return node.get(
        f"/delivery/{market.admin.contract.address}/{order_id}", headers={"X-Agihub-Buyer-Auth": header}
    )


def confirm(node: TestClient, market: Market, order_id: int, tmp_path: Path) -> bytes:
    """The buyer downloads the sealed delivery and confirms its root on chain; returns the ciphertext."""
    response = download(node, market, order_id)
    assert response.status_code == 200, response.text
    sealed = tmp_path / f"{order_id}.sealed"
    sealed.write_bytes(response.content)
    root = delivered_root_of(sealed, int(response.headers["x-agihub-plain-size"]))
    market.buyer.confirm_received(order_id, root)
    return response.content


def expected_bundle(tmp_path: Path) -> bytes:
    return b"".join((tmp_path / "model" / "pkg" / shard_name(i)).read_bytes() for i in HELD)


def test_registers_once_and_indexes_held_shards(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    assert agent.register(b"\x01" * 32, "ws://relay.example") is None  # already bound: no transaction
    assert agent.register(b"\x02" * 32, "ws://relay.example") is not None  # key changed: update
    assert market.admin.relay_info(market.relay.address).nostr_pubkey == b"\x02" * 32
    models = agent.index_models()
    assert [s.index for s in models[model.model_root]] == list(HELD)


def test_take_deliver_confirm_reveal_paid(market: Market, node: TestClient, model, tmp_path: Path) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(model.model_root)
    assert agent.poll() == {order_id: TAKEN}
    assert market.admin.get_order(order_id).taker == market.relay.address
    assert agent.poll() == {order_id: TAKEN}  # nothing to do until the buyer confirms
    sealed = confirm(node, market, order_id, tmp_path)
    assert agent.poll() == {order_id: REVEALED}
    revealed = market.events("KeyRevealed", order_id)[0]["args"]
    fee = (COST + TIP) * market.admin.fee_bps() // 10_000
    assert market.admin.credits(market.relay.address) == DOWN + COST + TIP - fee
    # The buyer opens the delivery with the revealed key: exactly the relay's shards, in index order.
    (tmp_path / "in.sealed").write_bytes(sealed)
    size = len(expected_bundle(tmp_path))
    open_delivery(tmp_path / "in.sealed", tmp_path / "out", revealed["key"], revealed["salt"], size)
    assert (tmp_path / "out").read_bytes() == expected_bundle(tmp_path)
    earned = agent.earnings()
    assert (earned.down_total, earned.paid_total) == (DOWN, COST + TIP - fee)
    assert earned.credits == earned.total
    assert download(node, market, order_id).status_code == 404  # delivery file dropped once paid
    assert agent.poll() == {}  # final orders are not revisited


def test_declines_models_it_does_not_hold(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(os.urandom(32))
    assert agent.poll() == {order_id: DECLINED}
    assert market.admin.get_order(order_id).state == OrderState.OPEN
    assert market.events("OrderTaken", order_id) == []


def test_ignores_orders_naming_other_relays(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    market.pull(model.model_root, [market.other.address])
    assert agent.poll() == {}


def test_leaves_order_another_relay_took(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(model.model_root, [market.other.address, market.relay.address])
    market.other.take_order(order_id, b"\x07" * 32)
    assert agent.poll() == {order_id: LOST}
    assert market.admin.credits(market.relay.address) == 0


def test_settles_when_buyer_never_confirms(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(model.model_root)
    assert agent.poll() == {order_id: TAKEN}
    market.travel(WINDOW)
    assert agent.poll() == {order_id: EXPIRED}
    assert market.admin.get_order(order_id).state == OrderState.EXPIRED
    assert market.admin.credits(market.relay.address) == DOWN  # the relay keeps the down payment
    assert market.admin.credits(market.buyer.address) == COST + TIP


# -- restarts -----------------------------------------------------------------------------------------


def _assert_paid_once(market: Market, order_id: int) -> None:
    fee = (COST + TIP) * market.admin.fee_bps() // 10_000
    assert len(market.events("OrderTaken", order_id)) == 1
    assert len(market.events("KeyRevealed", order_id)) == 1
    assert market.admin.credits(market.relay.address) == DOWN + COST + TIP - fee
    assert market.admin.get_order(order_id).state == OrderState.COMPLETED


@pytest.mark.parametrize("crash", [crash_before, crash_after], ids=["before-send", "after-send"])
def test_restart_around_take(market: Market, node: TestClient, model, tmp_path: Path, crash) -> None:
    agent = new_agent(market, node)
    agent.chain.take_order = crash(agent.chain.take_order)  # type: ignore[method-assign]
    order_id = market.pull(model.model_root)
    with pytest.raises(Crash):
        agent.poll()
    row = agent.store.get(order_id)
    assert row is not None and row.state == PREPARED and row.order_key  # key stored before the take
    restarted = new_agent(market, node)
    assert restarted.poll() == {order_id: TAKEN}
    assert restarted.store.get(order_id).order_key == row.order_key  # the committed key survived
    assert restarted.store.get(order_id).down_paid == str(DOWN)
    confirm(node, market, order_id, tmp_path)
    assert restarted.poll() == {order_id: REVEALED}
    _assert_paid_once(market, order_id)


@pytest.mark.parametrize("crash", [crash_before, crash_after], ids=["before-send", "after-send"])
def test_restart_around_reveal(market: Market, node: TestClient, model, tmp_path: Path, crash) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(model.model_root)
    agent.poll()
    confirm(node, market, order_id, tmp_path)
    agent.chain.reveal_key = crash(agent.chain.reveal_key)  # type: ignore[method-assign]
    with pytest.raises(Crash):
        agent.poll()
    assert agent.store.get(order_id).state == TAKEN
    restarted = new_agent(market, node)
    assert restarted.poll() == {order_id: REVEALED}
    assert restarted.poll() == {}
    _assert_paid_once(market, order_id)
    row = restarted.store.get(order_id)
    assert int(row.down_paid) + int(row.relay_paid) == market.admin.credits(market.relay.address)


@pytest.mark.parametrize("crash", [crash_before, crash_after], ids=["before-send", "after-send"])
def test_restart_around_settle(market: Market, node: TestClient, model, crash) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(model.model_root)
    agent.poll()
    market.travel(WINDOW)
    agent.chain.settle = crash(agent.chain.settle)  # type: ignore[method-assign]
    with pytest.raises(Crash):
        agent.poll()
    restarted = new_agent(market, node)
    assert restarted.poll() == {order_id: EXPIRED}
    assert len(market.events("OrderSettled", order_id)) == 1
    assert market.admin.credits(market.relay.address) == DOWN
    assert restarted.store.get(order_id).down_paid == str(DOWN)


def test_register_binds_a_fresh_account(market: Market, node: TestClient) -> None:
    agent = new_agent(market, node)
    assert not market.admin.relay_info(market.relay.address).registered
    assert agent.register(b"\x03" * 32, "ws://fresh.example") is not None
    info = market.admin.relay_info(market.relay.address)
    assert (info.registered, info.nostr_pubkey, info.endpoint) == (True, b"\x03" * 32, "ws://fresh.example")


def test_index_skips_blobs_that_are_not_valid_manifests(
    market: Market, node: TestClient, tmp_path: Path
) -> None:
    blobs = node.app.state.blobs
    signed = pack_tiny_model(tmp_path / "other", seed=1)
    manifest = (tmp_path / "other" / "pkg" / "manifest.json").read_bytes()
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(manifest.replace(b'"tiny-1"', b'"tiny-2"'))  # signature no longer matches
    junk = tmp_path / "junk.json"
    junk.write_bytes(b'{"not": "a manifest"}')
    for path in (tampered, junk, tmp_path / "other" / "pkg" / shard_name(0)):
        put_blob(blobs, path)
    assert new_agent(market, node).index_models() == {}
    put_blob(blobs, tmp_path / "other" / "pkg" / "manifest.json")
    assert list(new_agent(market, node).index_models()) == [signed.model_root]


def test_run_keeps_going_after_a_chain_failure(market: Market, node: TestClient) -> None:
    agent = new_agent(market, node)
    calls: list[int] = []

    def flaky_poll() -> dict[int, str]:
        calls.append(1)
        if len(calls) == 1:
            raise ChainConnectionError("node went away")
        return {}

    agent.poll = flaky_poll  # type: ignore[method-assign]
    agent.run(0.01, stop=lambda: len(calls) >= 3)
    assert len(calls) == 3


def test_a_shard_vanishing_before_sealing_is_retried(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    agent.index_models()
    first = model.manifest.shards[0].sha256
    path = node.app.state.blobs.path(first)
    kept = path.read_bytes()
    path.unlink()  # deleted between the index and the order
    order_id = market.pull(model.model_root)
    agent.index_models = lambda: agent._models  # type: ignore[method-assign]  # keep the stale index
    assert agent.poll() == {order_id: "retry"}
    assert agent.store.get(order_id) is None  # nothing recorded, nothing taken
    assert market.events("OrderTaken", order_id) == []
    path.write_bytes(kept)
    assert agent.poll() == {order_id: TAKEN}


def test_losing_the_take_race_is_recorded_as_lost(market: Market, node: TestClient, model) -> None:
    agent = new_agent(market, node)
    order_id = market.pull(model.model_root, [market.other.address, market.relay.address])
    real_take = agent.chain.take_order

    def other_relay_first(oid: int, commit: bytes):
        market.other.take_order(oid, b"\x07" * 32)
        return real_take(oid, commit)

    agent.chain.take_order = other_relay_first  # type: ignore[method-assign]
    assert agent.poll() == {order_id: "retry"}  # the contract refused our take
    assert agent.store.get(order_id).state == PREPARED
    assert agent.poll() == {order_id: LOST}
    sealed = delivery_path(deliveries_root(node.app.state.settings), market.admin.contract.address, order_id)
    assert not sealed.exists()
    assert market.admin.get_order(order_id).taker == market.other.address
