"""``GET /earnings/...``: exact uint256 sums per chain and payment kind."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agihub_services.db.engine import session_scope
from tests.services.api.conftest import assert_invalid
from tests.services.api.market_rows import BUYER, CONTRIBUTOR, OTHER_CHAIN, RELAY_A, payment

BIG = 2**255 + 12345  # past every integer type of SQL and JSON numbers


def _pay(client: TestClient) -> None:
    with session_scope(client.app.state.engine) as s:  # type: ignore[attr-defined]
        s.add_all(
            [
                payment(30, 0, "down_payment", RELAY_A, 10),
                payment(31, 0, "relay_payment", RELAY_A, BIG),
                payment(32, 0, "relay_payment", RELAY_A, 5),
                payment(31, 1, "fee", None, 3),
                payment(33, 0, "refund", RELAY_A, 1000),  # a refund is no earning
                payment(33, 0, "relay_payment", RELAY_A, 2, chain=OTHER_CHAIN),
                payment(34, 0, "reward", CONTRIBUTOR, BIG),
                payment(35, 0, "reward", CONTRIBUTOR, BIG),
            ]
        )


def test_relay_earnings_sum_exactly_per_chain_and_kind(market: TestClient) -> None:
    _pay(market)
    body = market.get(f"/earnings/relays/{RELAY_A.lower()}").json()
    assert body["account"] == RELAY_A and body["role"] == "relay"
    assert body["by_chain"]["evm:31337"] == {"down_payment": "10", "relay_payment": str(BIG + 5)}
    assert body["total_by_chain"] == {"evm:31337": str(BIG + 15), OTHER_CHAIN: "2"}
    only = market.get(f"/earnings/relays/{RELAY_A}", params={"chain": OTHER_CHAIN}).json()
    assert only["total_by_chain"] == {OTHER_CHAIN: "2"}


def test_contributor_earnings_are_rewards(market: TestClient) -> None:
    _pay(market)
    body = market.get(f"/earnings/contributors/{CONTRIBUTOR}").json()
    assert body["total_by_chain"] == {"evm:31337": str(2 * BIG)}
    assert market.get(f"/earnings/contributors/{BUYER}").json()["by_chain"] == {}


def test_bad_account_is_422(market: TestClient) -> None:
    assert_invalid(market.get("/earnings/relays/0xabc"), "address")
    assert_invalid(market.get(f"/earnings/contributors/{CONTRIBUTOR}", params={"chain": "x"}), "chain")
