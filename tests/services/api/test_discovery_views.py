"""Model cards (kind 31337) and relay offers (kind 31338) in ``/models`` and ``/relays``.

The rows are written by the real ingestion path (:class:`DiscoveryStore`) from signed events.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub_services.db.schema import Relay
from agihub_services.discovery.store import DiscoveryStore
from tests.services.api.conftest import assert_invalid
from tests.services.api.market_rows import CHAIN, RELAY_A, RELAY_B, ROOT_BASE, ROOT_CHILD, ROOT_GRANDCHILD

BASE = 1_700_000_000


def announce(market: TestClient) -> dict[str, SecretKey]:
    """Two cards for ROOT_BASE, one for ROOT_CHILD; RELAY_A (registered with its Nostr key) offers both."""
    keys = {name: SecretKey.generate() for name in ("publisher", "stranger", "relay_a", "unregistered")}
    base, child = ROOT_BASE[2:], ROOT_CHILD[2:]
    events = [
        kinds.model_version(
            keys["publisher"],
            base,
            "base-7b",
            metadata='{"license":"apache-2.0"}',
            size=10,
            shards=6,
            topics=("llm",),
        ),
        kinds.model_version(keys["stranger"], base, "copycat", metadata="not json"),
        kinds.model_version(keys["publisher"], child, "base-7b-med", parent=base),
        kinds.relay_offer(keys["relay_a"], "wss://a.example", [base, child], price=5, created_at=BASE),
        kinds.relay_offer(keys["unregistered"], "wss://u.example", [base], created_at=BASE),
    ]
    engine = market.app.state.engine  # type: ignore[attr-defined]
    DiscoveryStore(engine).ingest(events, "ws://seen.example")
    with engine.begin() as conn:
        conn.execute(
            update(Relay)
            .where(Relay.address == RELAY_A)
            .values(nostr_pubkey="0x" + keys["relay_a"].public_key.hex)
        )
    return keys


def test_models_carry_their_cards_and_offering_relays(market: TestClient) -> None:
    keys = announce(market)
    items = {m["model_root"]: m for m in market.get("/models").json()["items"]}
    base = items[ROOT_BASE]
    cards = {c["publisher"]: c for c in base["cards"]}
    assert set(cards) == {keys["publisher"].public_key.hex, keys["stranger"].public_key.hex}
    mine = cards[keys["publisher"].public_key.hex]
    assert (mine["name"], mine["size"], mine["shards"], mine["topics"]) == ("base-7b", "10", "6", ["llm"])
    assert mine["metadata"] == {"license": "apache-2.0"}
    assert cards[keys["stranger"].public_key.hex]["metadata"] == {}  # content that is not a JSON object
    offered = sorted((o["pubkey"], o["endpoint"], o["price"]) for o in base["offers"])
    assert offered == sorted(
        [
            (keys["relay_a"].public_key.hex, "wss://a.example", "5"),
            (keys["unregistered"].public_key.hex, "wss://u.example", None),
        ]
    )
    assert items[ROOT_GRANDCHILD]["cards"] == [] and items[ROOT_GRANDCHILD]["offers"] == []


def test_model_detail_fills_the_model_its_parent_and_its_versions(market: TestClient) -> None:
    keys = announce(market)
    child = market.get(f"/models/{CHAIN}/{ROOT_CHILD}").json()
    assert [c["name"] for c in child["cards"]] == ["base-7b-med"]
    assert child["cards"][0]["parent_root"] == ROOT_BASE[2:]
    assert [o["pubkey"] for o in child["offers"]] == [keys["relay_a"].public_key.hex]
    assert len(child["parent"]["cards"]) == 2 and len(child["parent"]["offers"]) == 2
    assert child["versions"][0]["model_root"] == ROOT_GRANDCHILD and child["versions"][0]["cards"] == []


def test_relays_carry_the_offer_signed_by_their_registered_key(market: TestClient) -> None:
    keys = announce(market)
    listed = {r["address"]: r for r in market.get("/relays").json()["items"]}
    offer = listed[RELAY_A]["offer"]
    assert offer["pubkey"] == keys["relay_a"].public_key.hex
    assert (offer["endpoint"], offer["price"]) == ("wss://a.example", "5")
    assert offer["models"] == sorted([ROOT_BASE[2:], ROOT_CHILD[2:]])
    assert listed[RELAY_B]["offer"] is None  # no registered Nostr key, no offer
    detail = market.get(f"/relays/{CHAIN}/{RELAY_A}").json()
    assert detail["offer"] == offer


def test_a_newer_offer_replaces_what_the_api_shows(market: TestClient) -> None:
    keys = announce(market)
    newer = kinds.relay_offer(keys["relay_a"], "wss://a2.example", [], price=9, created_at=BASE + 1)
    DiscoveryStore(market.app.state.engine).ingest([newer], "ws://seen.example")  # type: ignore[attr-defined]
    offer = market.get(f"/relays/{CHAIN}/{RELAY_A}").json()["offer"]
    assert (offer["endpoint"], offer["price"], offer["models"]) == ("wss://a2.example", "9", [])
    base = market.get(f"/models/{CHAIN}/{ROOT_BASE}").json()
    assert [o["pubkey"] for o in base["offers"]] == [keys["unregistered"].public_key.hex]


def test_announced_models_include_unregistered_roots_and_page(market: TestClient) -> None:
    keys = announce(market)
    unregistered = "ee" * 32
    later = kinds.model_version(keys["stranger"], unregistered, "not on chain")
    DiscoveryStore(market.app.state.engine).ingest([later], "ws://seen.example")  # type: ignore[attr-defined]
    everything = market.get("/models/announced").json()["items"]
    assert len(everything) == 4 and {unregistered, ROOT_BASE[2:], ROOT_CHILD[2:]} == {
        m["model_root"] for m in everything
    }
    stamps = [(m["created_at"], m["publisher"], m["model_root"]) for m in everything]
    assert stamps == sorted(stamps, reverse=True)
    first = market.get("/models/announced", params={"limit": 3}).json()
    rest = market.get("/models/announced", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert first["items"] + rest["items"] == everything and rest["next_cursor"] is None
    mine = market.get(
        "/models/announced", params={"publisher": "0x" + keys["publisher"].public_key.hex.upper()}
    )
    assert {m["name"] for m in mine.json()["items"]} == {"base-7b", "base-7b-med"}
    of_base = market.get("/models/announced", params={"root": ROOT_BASE}).json()["items"]
    assert {m["name"] for m in of_base} == {"base-7b", "copycat"}
    assert_invalid(market.get("/models/announced", params={"publisher": "xyz"}), "publisher")


def test_every_offer_is_listed_by_pubkey_and_filtered_by_model(market: TestClient) -> None:
    keys = announce(market)
    offers = market.get("/relays/offers").json()
    pubkeys = [o["pubkey"] for o in offers["items"]]
    assert pubkeys == sorted([keys["relay_a"].public_key.hex, keys["unregistered"].public_key.hex])
    page = market.get("/relays/offers", params={"limit": 1}).json()
    rest = market.get("/relays/offers", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [o["pubkey"] for o in page["items"] + rest["items"]] == pubkeys
    of_child = market.get("/relays/offers", params={"model": ROOT_CHILD}).json()["items"]
    assert [(o["pubkey"], o["models"]) for o in of_child] == [
        (keys["relay_a"].public_key.hex, sorted([ROOT_BASE[2:], ROOT_CHILD[2:]]))
    ]
    assert market.get("/relays/offers", params={"model": "0x" + "99" * 32}).json()["items"] == []
    assert_invalid(market.get("/relays/offers", params={"model": "0x12"}), "model")
    foreign = market.get("/relays", params={"limit": 1}).json()["next_cursor"]
    assert_invalid(market.get("/relays/offers", params={"cursor": foreign}), "cursor")
