"""``GET /contributions`` and ``GET /contributions/{chain}/{id}`` with validator scores."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.services.api.conftest import assert_invalid
from tests.services.api.market_rows import CHAIN, CONTRIBUTOR, RELAY_B, ROOT_CHILD


def _ids(client: TestClient, **params: object) -> list[int]:
    response = client.get("/contributions", params=params)
    assert response.status_code == 200, response.text
    return [c["contribution_id"] for c in response.json()["items"]]


def test_contributions_filter_and_page(market: TestClient) -> None:
    assert _ids(market) == [3, 2, 1]
    assert _ids(market, contributor=CONTRIBUTOR.lower()) == [2, 1]
    assert _ids(market, final=False) == [3]
    assert _ids(market, epoch=1, model=ROOT_CHILD) == [2]
    first = market.get("/contributions", params={"limit": 2}).json()
    assert _ids(market, limit=2, cursor=first["next_cursor"]) == [1]


def test_contribution_detail_lists_commits_reveals_and_final(market: TestClient) -> None:
    body = market.get(f"/contributions/{CHAIN}/1").json()
    assert (body["score"], body["reward"], body["claimed"]) == ("5", "7", True)
    assert [(s["kind"], s["validator"]) for s in body["scores"]] == [
        ("committed", RELAY_B),
        ("revealed", RELAY_B),
        ("final", None),
    ]


def test_unknown_contribution_is_404_and_bad_filters_422(market: TestClient) -> None:
    response = market.get(f"/contributions/{CHAIN}/404")
    assert response.status_code == 404 and response.json()["error_code"] == "not_found"
    assert_invalid(market.get("/contributions", params={"epoch": -3}), "epoch")
    assert_invalid(market.get("/contributions", params={"limit": 1000}), "limit")
