"""``GET /delivery/<market>/<order id>``: only the order's buyer, with a fresh signature, gets the bytes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from starlette.testclient import TestClient

from agihub_services.relay.agent import delivery_path
from agihub_services.relay.agent_store import PREPARED, TAKEN, AgentOrder, AgentStore
from agihub_services.relay.app import create_app
from agihub_services.relay.delivery import (
    DeliveryAuthError,
    check_buyer,
    deliveries_root,
    sign_delivery_request,
)
from tests.services.relay.conftest import PUBLIC_URL, make_settings

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CIPHERTEXT = b"sealed bytes " * 100


@pytest.fixture
def buyer():
    return Account.create()


@pytest.fixture
def node(tmp_path: Path, isolated_env: Path, buyer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        store = AgentStore(client.app.state.blobs.engine, MARKET)
        for order_id, state in ((7, TAKEN), (8, PREPARED)):
            row = AgentOrder(MARKET, order_id, state, buyer.address, "00" * 32, plain_size=1000)
            store.insert(row)
            path = delivery_path(deliveries_root(settings), MARKET, order_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(CIPHERTEXT)
        yield client


def get(node: TestClient, order_id: int | str, header: str | None, market: str = MARKET):
    headers = {"X-Agihub-Buyer-Auth": header} if header is not None else {}
    return node.get(f"/delivery/{market}/{order_id}", headers=headers)


def test_buyer_gets_the_ciphertext_and_plain_size(node: TestClient, buyer) -> None:
    response = get(node, 7, sign_delivery_request(buyer, PUBLIC_URL, MARKET, 7))
    assert response.status_code == 200
    assert response.content == CIPHERTEXT
    assert response.headers["x-agihub-plain-size"] == "1000"


def test_market_spelling_does_not_matter(node: TestClient, buyer) -> None:
    response = get(node, 7, sign_delivery_request(buyer, PUBLIC_URL, MARKET.lower(), 7), MARKET.lower())
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("make_header", "status", "code"),
    [
        (lambda b: None, 401, "unauthorized"),
        (lambda b: "garbage", 401, "unauthorized"),
        (lambda b: "123." + "0x" + "00" * 65, 401, "unauthorized"),  # not a valid signature
        (lambda b: sign_delivery_request(Account.create(), PUBLIC_URL, MARKET, 7), 403, "forbidden"),
        (lambda b: sign_delivery_request(b, PUBLIC_URL, MARKET, 8), 403, "forbidden"),  # other order
        (lambda b: sign_delivery_request(b, "ws://elsewhere", MARKET, 7), 403, "forbidden"),  # other relay
        (
            lambda b: sign_delivery_request(b, PUBLIC_URL, MARKET, 7, int(time.time()) - 3600),
            401,
            "unauthorized",
        ),
    ],
    ids=["missing", "malformed", "bad-signature", "stranger", "other-order", "other-relay", "stale"],
)
def test_refuses_anyone_but_a_fresh_buyer_signature(
    node: TestClient, buyer, make_header, status, code
) -> None:
    response = get(node, 7, make_header(buyer))
    assert (response.status_code, response.json()["error_code"]) == (status, code)


@pytest.mark.parametrize(
    ("market", "order_id", "status", "code"),
    [
        ("0x1234", "7", 400, "invalid_market"),
        (MARKET, "-1", 400, "invalid_order_id"),
        (MARKET, "9" * 30, 400, "invalid_order_id"),
        (MARKET, "8", 404, "not_found"),  # prepared, not taken yet: nothing to serve
        (MARKET, "99", 404, "not_found"),
        ("0x" + "11" * 20, "7", 404, "not_found"),  # another market
    ],
)
def test_refuses_bad_paths_and_undeliverable_orders(
    node: TestClient, buyer, market, order_id, status, code
) -> None:
    header = sign_delivery_request(buyer, PUBLIC_URL, market, int(order_id) if order_id.isdigit() else 0)
    response = get(node, order_id, header, market)
    assert (response.status_code, response.json()["error_code"]) == (status, code)


def test_check_buyer_accepts_only_the_buyer(buyer) -> None:
    header = sign_delivery_request(buyer, PUBLIC_URL, MARKET, 3)
    check_buyer(header, relay_url=PUBLIC_URL, market=MARKET, order_id=3, buyer=buyer.address, window=60)
    with pytest.raises(DeliveryAuthError) as info:
        check_buyer(header, relay_url=PUBLIC_URL, market=MARKET, order_id=3, buyer=MARKET, window=60)
    assert info.value.status == 403
