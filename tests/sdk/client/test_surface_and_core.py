"""The pinned public surface of Client/AsyncClient and the IO-free core."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import agihub
from agihub import AsyncClient, Client
from agihub.chain.base import ChainEvent
from agihub.chain.catalog import OrderState
from agihub.chain.errors import ChainInputError, NotDue, WrongState
from agihub.client import core
from agihub.client.core import ApiNotFound, ApiRateLimited, ApiRequestError, ApiUnavailable, DeliveryError
from agihub.errors import AgihubError, ApiError, StorageError
from tests.sdk.client.conftest import GWEI, Stack

SURFACE = {
    "publish": "(model, *, name=None, out_dir=None, parent_root=None, owner_secret=None, options=None, "
    "relays=None, happiness=None, progress=None)",
    "place_order": "(model_root, relays, *, down, cost, tip=0, windows=(3600, 3600, 3600), check_offers=True)",
    "order": "(order_id)",
    "raise_payment": "(order_id, *, down=0, cost=0, tip=0)",
    "cancel": "(order_id)",
    "settle": "(order_id)",
    "withdraw": "()",
    "events": "(order_id)",
    "follow": "(order_id, *, poll=1.0, timeout=None)",
    "wait_for": "(order_id, state, *, poll=1.0, timeout=None)",
    "fetch_delivery": "(order_id, *, progress=None)",
    "confirm": "(order_id, *, progress=None)",
    "revealed_key": "(order_id)",
    "open": "(order_id, dest, *, manifest=None, version_key=None, shard_indices=None, progress=None)",
    "manifest": "(model_root, *, relays=None)",
    "download": "(order_id, dest, *, manifest=None, version_key=None, timeout=None, poll=1.0, progress=None)",
    "relay_pubkey": "(endpoint)",
    "register_relay": "(endpoint, nostr_pubkey=None)",
    "update_relay": "(endpoint, nostr_pubkey=None)",
    "deregister_relay": "()",
    "relay_info": "(address=None)",
    "register_contribution": "(model_root, parent_root)",
    "api_get": "(path, params=None)",
    "score": "(contribution_id)",
    "claim_reward": "(contribution_id)",
    "rewards": "(account=None, *, role='contributors')",
}
INIT = "(chain=None, *, market=None, account=None, identity=None, relays=None, api_url=None, workdir=None, timeout=60.0)"


def _sig(fn: object) -> str:
    params = list(inspect.signature(fn).parameters.values())  # type: ignore[arg-type]
    if params and params[0].name == "self":
        params = params[1:]
    return str(inspect.Signature([p.replace(annotation=inspect.Parameter.empty) for p in params]))


def _methods(cls: type) -> dict[str, object]:
    return {
        name: fn
        for name, fn in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(fn) or inspect.isasyncgenfunction(fn))
    }


def test_sync_and_async_surfaces_are_pinned_and_equal() -> None:
    assert {"Client", "AsyncClient"} <= set(agihub.__all__)
    assert _sig(Client.__init__) == _sig(AsyncClient.__init__) == INIT
    sync = _methods(Client)
    assert {name: _sig(fn) for name, fn in sync.items()} == SURFACE
    aio = _methods(AsyncClient)
    assert {name: _sig(fn) for name, fn in aio.items()} == {**SURFACE, "address": "()"}
    for name, fn in aio.items():
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), name
    for name in SURFACE:
        assert getattr(Client, name).__doc__, f"Client.{name} has no docstring"


def test_exception_tree() -> None:
    for cls in (ApiNotFound, ApiRateLimited, ApiRequestError, ApiUnavailable):
        assert issubclass(cls, ApiError) and issubclass(cls, AgihubError)
    assert issubclass(DeliveryError, StorageError)
    assert issubclass(core.ModelNotOffered, AgihubError) and not issubclass(core.ModelNotOffered, ApiError)
    assert issubclass(core.ManifestNotFound, StorageError) and issubclass(core.ManifestMismatch, StorageError)
    assert {"ModelNotOffered", "ManifestNotFound", "ManifestMismatch"} <= set(agihub.client.__all__)


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (404, {"error_code": "not_found", "message": "no order 3"}, ApiNotFound, "not_found"),
        (
            422,
            {"error_code": "validation_error", "message": "bad", "field": "x"},
            ApiRequestError,
            "validation_error",
        ),
        (400, {"error_code": "invalid_cursor", "message": "bad cursor"}, ApiRequestError, "invalid_cursor"),
        (429, {"error_code": "rate_limited", "message": "slow"}, ApiRateLimited, "rate_limited"),
        (503, {"error_code": "unavailable", "message": "db down"}, ApiUnavailable, "unavailable"),
        (502, "<html>bad gateway</html>", ApiUnavailable, "http_502"),
        (409, {"error_code": "conflict", "message": "x"}, ApiError, "conflict"),
    ],
)
def test_api_error_mapping(status: int, body: object, cls: type, code: str) -> None:
    error = core.api_error(status, body)
    assert type(error) is cls and error.error_code == code and error.status == status


def test_delivery_message_matches_the_relay() -> None:
    from agihub_services.relay.delivery import delivery_message

    for url in ("ws://127.0.0.1:7447", "WS://Relay.Example:1/", "wss://relay.example/path/"):
        market = "0x" + "aB" * 20
        assert core.delivery_message(url, market, 7, 1_700_000_000) == delivery_message(
            url, market, 7, 1_700_000_000
        )


def test_shards_in_bundle() -> None:
    sizes = {0: 100, 1: 100, 2: 90}
    assert core.shards_in_bundle(sizes, [1, 0], 200) == (0, 1)
    with pytest.raises(DeliveryError, match="pass shard_indices="):
        core.shards_in_bundle(sizes, [0, 1, 2], 200)
    with pytest.raises(DeliveryError):
        core.shards_in_bundle(sizes, [], 0)


def test_order_events_track_state() -> None:
    def ev(name: str, index: int, order_id: int = 1) -> tuple[ChainEvent, int]:
        return ChainEvent(name, {"order_id": order_id}, f"0x{index}", index), 10

    events = core.order_events(
        1, [ev("OrderTaken", 2), ev("OrderPulled", 0), ev("PaymentRaised", 1), ev("OrderTaken", 3, 2)]
    )
    assert [(e.name, e.state) for e in events] == [
        ("OrderPulled", OrderState.OPEN), ("PaymentRaised", OrderState.OPEN), ("OrderTaken", OrderState.TAKEN),
    ]  # fmt: skip


def test_check_amounts() -> None:
    core.check_amounts(0, 1, 0)
    for bad in ((-1, 0, 0), (0, 1.5, 0), (0, True, 0)):
        with pytest.raises(ChainInputError):
            core.check_amounts(*bad)  # type: ignore[arg-type]


def test_async_client_same_behaviour(stack: Stack) -> None:
    async def scenario() -> None:
        client = AsyncClient(stack.market.buyer, relays=stack.relay_urls, workdir=stack.base)
        assert await client.address() == stack.market.buyer.address
        placed = await client.place_order(
            bytes(32), [stack.market.other.address], down=0, cost=GWEI, check_offers=False
        )
        assert (await client.order(placed.order_id)).state == OrderState.OPEN
        with pytest.raises(WrongState):
            await client.confirm(placed.order_id)
        with pytest.raises(NotDue):
            await client.settle(placed.order_id)
        await client.cancel(placed.order_id)
        names = [e.name async for e in client.follow(placed.order_id, poll=0.05, timeout=5)]
        assert names == ["OrderPulled", "OrderCancelled"]
        assert (await client.rewards()).credits == GWEI

    asyncio.run(scenario())
