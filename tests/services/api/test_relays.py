"""``GET /relays`` and ``GET /relays/{chain}/{address}`` with the delivery and timeout record."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.services.api.conftest import assert_invalid
from tests.services.api.market_rows import CHAIN, OTHER_CHAIN, RELAY_A, RELAY_B


def test_relays_page_in_address_order(market: TestClient) -> None:
    first = market.get("/relays", params={"limit": 1})
    assert [r["address"] for r in first.json()["items"]] == [RELAY_B]  # "0xd…" sorts before "0xf…"
    second = market.get("/relays", params={"limit": 1, "cursor": first.json()["next_cursor"]}).json()
    assert [r["address"] for r in second["items"]] == [RELAY_A]
    assert second["next_cursor"] is None


def test_relays_filter_by_registration_and_chain(market: TestClient) -> None:
    assert [r["address"] for r in market.get("/relays", params={"registered": True}).json()["items"]] == [
        RELAY_A
    ]
    assert market.get("/relays", params={"chain": OTHER_CHAIN}).json()["items"] == []


def test_relay_detail_counts_deliveries_and_timeouts(market: TestClient) -> None:
    a = market.get(f"/relays/{CHAIN}/{RELAY_A.lower()}").json()
    assert a["record"] == {"taken": 2, "delivered": 1, "failed": 0}
    assert [(d["order_id"], d["outcome"]) for d in a["recent_deliveries"]] == [
        (4, "taken"),
        (1, "delivered"),
        (1, "taken"),
    ]
    b = market.get(f"/relays/{CHAIN}/{RELAY_B}").json()
    assert b["record"] == {"taken": 1, "delivered": 0, "failed": 1}
    assert b["registered"] is False and b["endpoint"] == "ws://b"


def test_unknown_relay_is_404(market: TestClient) -> None:
    response = market.get(f"/relays/{OTHER_CHAIN}/{RELAY_A}")
    assert response.status_code == 404 and response.json()["error_code"] == "not_found"


def test_bad_relay_address_is_422(market: TestClient) -> None:
    assert_invalid(market.get(f"/relays/{CHAIN}/0xnothex"), "address")
    assert_invalid(market.get("/relays", params={"registered": "maybe"}), "registered")
