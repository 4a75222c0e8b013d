"""An order for a model no named relay offers is refused before anything is sent (issue #9).

Real parts: the py-evm market, two relay nodes publishing their own signed offers (kind 31338), the
discovery code copying them into the API's database, and the marketplace API serving them."""

from __future__ import annotations

import asyncio

import pytest

from agihub import AsyncClient
from agihub.chain.catalog import OrderState
from agihub.chain.errors import RelayNotRegistered
from agihub.client import ApiUnavailable, ModelNotOffered
from agihub.errors import AgihubError, ConfigError
from tests.sdk.client.conftest import GWEI, ServedApi, Stack
from tests.sdk.client.test_client_flow import OPTIONS
from tests.sdk.transfer.transfer_kit import dead_url


def _untouched(stack: Stack, balance: int) -> None:
    """Nothing went on chain: no order was opened and the buyer paid no gas."""
    assert stack.market.buyer.next_order_id() == 1
    assert stack.market.buyer.balance() == balance


def test_refused_when_no_named_relay_offers_the_model(stack: Stack, api: ServedApi) -> None:
    relay_a, relay_b = stack.relays
    stack.client("relay").register_relay(relay_a.ws_url)  # the named relay: relay a's Nostr key
    # the model is published to relay b only: b's offer names it, a's does not
    published = stack.client("admin", relays=[relay_b.ws_url]).publish(stack.model(), options=OPTIONS)
    api.discover(stack.relays, published.model_root)
    buyer = stack.client(api_url=api.url)
    balance = stack.market.buyer.balance()
    with pytest.raises(ModelNotOffered) as info:
        buyer.place_order(published.model_root, [stack.market.relay.address], down=GWEI, cost=GWEI)
    error = info.value
    message = str(error)
    assert published.model_root.hex() in message and stack.market.relay.address in message
    assert relay_b.ws_url in message  # where the model is offered instead
    assert "publish the model" in message.lower() and "--no-offer-check" in message
    assert "check_offers=False" in message
    assert error.model_root == published.model_root and error.relays == (stack.market.relay.address,)
    assert error.offered_by == (relay_b.ws_url,) and isinstance(error, AgihubError)
    _untouched(stack, balance)

    # once the named relay holds it too (its offer is refreshed and discovered), the order goes through
    stack.client("admin", relays=[relay_a.ws_url]).publish(
        stack.model(), options=OPTIONS, out_dir=stack.base / "again"
    )
    _wait_offered_by(api, stack, published.model_root, relay_a.ws_url)
    placed = buyer.place_order(published.model_root, [stack.market.relay.address], down=GWEI, cost=GWEI)
    assert buyer.order(placed.order_id).state == OrderState.OPEN


def _wait_offered_by(api: ServedApi, stack: Stack, root: bytes, endpoint: str) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 20
    while True:
        api.discover(stack.relays)
        items = httpx.get(f"{api.url}/relays/offers", params={"model": "0x" + root.hex()}).json()["items"]
        if endpoint in {o["endpoint"] for o in items}:
            return
        assert time.monotonic() < deadline, f"{endpoint} never offered {root.hex()}"
        time.sleep(0.1)


def test_unknown_model_and_opt_out(stack: Stack, api: ServedApi) -> None:
    api.discover(stack.relays)
    buyer = stack.client(api_url=api.url)
    balance = stack.market.buyer.balance()
    with pytest.raises(ModelNotOffered, match="no relay known to the API offers it") as info:
        buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI)
    assert info.value.offered_by == ()
    _untouched(stack, balance)
    placed = buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI, check_offers=False)
    assert placed.order_id == 1 and buyer.order(1).state == OrderState.OPEN


def test_unregistered_relay_is_refused_before_sending(stack: Stack, api: ServedApi) -> None:
    buyer = stack.client(api_url=api.url)
    balance = stack.market.buyer.balance()
    with pytest.raises(RelayNotRegistered, match=stack.market.admin.address):
        buyer.place_order(bytes(32), [stack.market.admin.address], down=0, cost=GWEI)
    _untouched(stack, balance)


def test_without_an_api_the_order_is_refused_and_says_so(stack: Stack) -> None:
    buyer = stack.client()  # no api_url, no AGIHUB_API_URL
    balance = stack.market.buyer.balance()
    with pytest.raises(ConfigError, match=r"no marketplace API is configured.*AGIHUB_API_URL") as info:
        buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI)
    assert "check_offers=False" in str(info.value) and "--no-offer-check" in str(info.value)
    _untouched(stack, balance)


def test_unreachable_api_is_named(stack: Stack) -> None:
    buyer = stack.client(api_url=dead_url())
    balance = stack.market.buyer.balance()
    with pytest.raises(ApiUnavailable, match="check AGIHUB_API_URL"):
        buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI)
    _untouched(stack, balance)


def test_async_client_refuses_the_same_way(stack: Stack, api: ServedApi) -> None:
    async def scenario() -> None:
        client = AsyncClient(stack.market.buyer, relays=stack.relay_urls, workdir=stack.base, api_url=api.url)
        with pytest.raises(ModelNotOffered):
            await client.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI)
        placed = await client.place_order(
            bytes(32), [stack.market.other.address], down=0, cost=GWEI, check_offers=False
        )
        assert placed.order_id == 1

    api.discover(stack.relays)
    asyncio.run(scenario())


def test_core_check_is_io_free() -> None:
    """The check itself, on plain values: which named relays offer the root, else the typed error."""
    from agihub.chain.base import RelayInfo
    from agihub.client import core

    root = bytes(range(32))
    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20
    infos = {a: RelayInfo(True, b"\x01" * 32, "ws://a"), b: RelayInfo(True, b"\x02" * 32, "ws://b")}
    offers = [
        {"pubkey": "02" * 32, "endpoint": "ws://b", "models": [root.hex()]},
        {"pubkey": "03" * 32, "endpoint": "ws://c", "models": [root.hex(), "ff" * 32]},
    ]
    assert core.check_offered(root, infos, offers) == [b]
    with pytest.raises(ModelNotOffered) as info:
        core.check_offered(root, {a: infos[a]}, offers)
    assert info.value.offered_by == ("ws://b", "ws://c")
    # an offer that does not name this root does not count
    with pytest.raises(ModelNotOffered):
        core.check_offered(root, infos, [{"pubkey": "02" * 32, "endpoint": "ws://b", "models": ["ff" * 32]}])
    with pytest.raises(RelayNotRegistered):
        core.check_offered(root, {a: RelayInfo(False, bytes(32), "")}, offers)
