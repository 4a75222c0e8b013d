"""``GET /models`` and ``GET /models/{chain}/{root}``: lineage, versions and the relays offering a model."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.services.api.conftest import assert_invalid
from tests.services.api.market_rows import CHAIN, CONTRIBUTOR, RELAY_A, ROOT_BASE, ROOT_CHILD, ROOT_GRANDCHILD


def test_models_are_listed_newest_first_and_filtered(market: TestClient) -> None:
    roots = [m["model_root"] for m in market.get("/models").json()["items"]]
    assert roots == [ROOT_GRANDCHILD, ROOT_CHILD, ROOT_BASE]
    children = market.get("/models", params={"parent": ROOT_BASE}).json()["items"]
    assert [m["model_root"] for m in children] == [ROOT_CHILD]
    page = market.get("/models", params={"contributor": CONTRIBUTOR, "limit": 2}).json()
    rest = market.get("/models", params={"contributor": CONTRIBUTOR, "cursor": page["next_cursor"]}).json()
    assert [m["model_root"] for m in page["items"] + rest["items"]] == roots


def test_model_detail_has_parent_versions_and_relays(market: TestClient) -> None:
    base = market.get(f"/models/{CHAIN}/{ROOT_BASE}").json()
    assert base["parent"] is None  # the zero root is no registered model
    assert [v["model_root"] for v in base["versions"]] == [ROOT_CHILD]
    assert base["relays"] == [RELAY_A]  # RELAY_A delivered order 1; RELAY_B's order 2 timed out
    child = market.get(f"/models/{CHAIN}/{ROOT_CHILD}").json()
    assert child["parent"]["model_root"] == ROOT_BASE
    assert [v["model_root"] for v in child["versions"]] == [ROOT_GRANDCHILD]
    assert child["relays"] == []


def test_unknown_model_is_404_and_bad_root_422(market: TestClient) -> None:
    response = market.get(f"/models/{CHAIN}/0x{'44' * 32}")
    assert response.status_code == 404 and response.json()["error_code"] == "not_found"
    assert_invalid(market.get(f"/models/{CHAIN}/0x1234"), "root")
    assert_invalid(market.get("/models", params={"parent": "zz"}), "parent")
