"""``GET /orders`` filters and keyset pages, ``GET /orders/{chain}/{id}``, and their refusals."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from agihub_services.api.pagination import MAX_PAGE_SIZE
from tests.services.api.conftest import assert_invalid
from tests.services.api.market_rows import BUYER, CHAIN, OTHER_CHAIN, RELAY_A, RELAY_B, ROOT_CHILD


def _ids(response) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [(o["chain"], o["order_id"]) for o in response.json()["items"]]


def test_orders_are_listed_newest_first(market: TestClient) -> None:
    ids = _ids(market.get("/orders"))
    # same block: chain descending ("evm:…" > "aptos:…"), then id descending
    assert ids == [(CHAIN, 4), (CHAIN, 3), (CHAIN, 2), (OTHER_CHAIN, 1), (CHAIN, 1)]
    first = market.get("/orders").json()["items"][-1]
    assert first["state_name"] == "completed" and first["cost"] == "100" and first["relays"] == [RELAY_A]


def test_pages_cover_every_order_once(market: TestClient) -> None:
    seen: list[tuple[str, int]] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = market.get("/orders", params=params)
        seen += _ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == _ids(market.get("/orders"))
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"buyer": BUYER.lower()}, [4, 2, 1]),  # lower-case input matches the stored EIP-55 form
        ({"relay": RELAY_A}, [4, 1]),
        ({"relay": RELAY_B}, [2]),
        ({"model": ROOT_CHILD.upper().replace("0X", "0x")}, [3]),
        ({"state": 6}, [2]),
        ({"from_block": 11, "to_block": 11, "chain": CHAIN}, [2]),
        ({"chain": CHAIN, "state": 1}, [3]),
        ({"buyer": RELAY_A}, []),
    ],
)
def test_filters_combine(market: TestClient, params: dict[str, object], expected: list[int]) -> None:
    ids = _ids(market.get("/orders", params={"chain": CHAIN} | params))
    assert [order_id for _, order_id in ids] == expected


def test_filtered_pages_keep_the_filter(market: TestClient) -> None:
    page = market.get("/orders", params={"buyer": BUYER, "limit": 1})
    assert _ids(page) == [(CHAIN, 4)]
    rest = market.get("/orders", params={"buyer": BUYER, "limit": 5, "cursor": page.json()["next_cursor"]})
    assert _ids(rest) == [(CHAIN, 2), (CHAIN, 1)]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": MAX_PAGE_SIZE + 1}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"buyer": "0x1234"}, "buyer"),
        ({"relay": "0x" + "g" * 40}, "relay"),
        ({"model": "0x" + "1" * 63}, "model"),
        ({"state": 9}, "state"),
        ({"from_block": -1}, "from_block"),
        ({"chain": "evm 1"}, "chain"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "AAAA"}, "cursor"),
        ({"cursor": "x" * 600}, "cursor"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    market: TestClient, params: dict[str, object], field: str
) -> None:
    assert_invalid(market.get("/orders", params=params), field)


def test_a_tampered_cursor_is_refused(market: TestClient) -> None:
    cursor = market.get("/orders", params={"limit": 1}).json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[8] ^= 0x01  # one bit inside the sort key
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert_invalid(market.get("/orders", params={"limit": 1, "cursor": forged}), "cursor")
    assert market.get("/orders", params={"limit": 1, "cursor": cursor}).status_code == 200


def test_a_cursor_is_refused_for_another_query(market: TestClient) -> None:
    cursor = market.get("/orders", params={"limit": 1}).json()["next_cursor"]
    assert_invalid(market.get("/orders", params={"limit": 1, "state": 1, "cursor": cursor}), "cursor")
    other = market.get("/relays", params={"limit": 1}).json()["next_cursor"]
    assert_invalid(market.get("/orders", params={"cursor": other}), "cursor")


def test_order_detail_has_its_history_in_order(market: TestClient) -> None:
    body = market.get(f"/orders/{CHAIN}/1").json()
    assert body["order_id"] == 1 and body["taker"] == RELAY_A
    assert [(e["block_number"], e["log_index"], e["event"]) for e in body["events"]] == [
        (10, 0, "OrderCreated"),
        (13, 2, "OrderTaken"),
        (15, 0, "KeyRevealed"),
    ]


def test_unknown_order_is_404_with_a_code(market: TestClient) -> None:
    response = market.get(f"/orders/{CHAIN}/99")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"
    assert "99" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "field"), [(f"/orders/{CHAIN}/-1", "order_id"), ("/orders/nochain/1", "chain")]
)
def test_bad_order_path_is_422(market: TestClient, path: str, field: str) -> None:
    assert_invalid(market.get(path), field)
