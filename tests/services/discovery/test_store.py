"""``DiscoveryStore.ingest``: newest per NIP-01 key wins, whatever the order; re-reads change nothing."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import InvalidEvent, sign_event
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.db.schema import DiscoveredModelVersion, DiscoveredOfferModel, DiscoveredRelayOffer
from agihub_services.discovery.store import DiscoveryStore

BASE = 1_700_000_000
ROOT, OTHER = "ab" * 32, "cd" * 32


@pytest.fixture
def engine(database_url: str) -> Engine:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every discovery row, sorted (for comparing outcomes of different ingest orders)."""
    out = {}
    with Session(engine) as session:
        for table in (DiscoveredModelVersion, DiscoveredRelayOffer, DiscoveredOfferModel):
            cols = table.__table__.columns
            rows = session.execute(select(*cols)).all()
            out[table.__tablename__] = sorted(
                tuple(json.dumps(v) if isinstance(v, list) else v for v in r) for r in rows
            )
    return out


def test_the_newest_offer_and_version_win_in_any_order(engine: Engine, database_url: str) -> None:
    relay, publisher = SecretKey.generate(), SecretKey.generate()
    events = [
        kinds.relay_offer(relay, "wss://r.example", [ROOT], price=1, created_at=BASE),
        kinds.relay_offer(relay, "wss://r.example", [ROOT, OTHER], price=2, created_at=BASE + 2),
        kinds.relay_offer(relay, "wss://r.example", [], price=3, created_at=BASE + 1),
        sign_event(
            publisher,
            kinds.MODEL_VERSION,
            '{"license":"mit"}',
            [["d", ROOT], ["name", "v1"]],
            created_at=BASE,
        ),
        sign_event(
            publisher,
            kinds.MODEL_VERSION,
            "{}",
            [["d", ROOT], ["name", "v2"], ["size", "9"]],
            created_at=BASE + 5,
        ),
        sign_event(publisher, kinds.MODEL_VERSION, "{}", [["d", OTHER], ["name", "other"]], created_at=BASE),
    ]
    outcomes = []
    for order in itertools.islice(itertools.permutations(events), 0, 720, 97):
        with engine.begin() as conn:
            for table in (DiscoveredModelVersion, DiscoveredRelayOffer, DiscoveredOfferModel):
                conn.execute(table.__table__.delete())
        store = DiscoveryStore(engine)
        for event in order:  # one event per call: the stored row decides, not the batch
            store.ingest([event], "ws://seen.at")
        outcomes.append(dump(engine))
    assert all(outcome == outcomes[0] for outcome in outcomes)
    final = outcomes[0]
    assert [row[1] for row in final["discovery_relay_offers"]] == [events[1].id]
    assert {row[1] for row in final["discovery_offer_models"]} == {ROOT, OTHER}
    versions = {row[1]: row for row in final["discovery_model_versions"]}
    assert versions[ROOT][2] == events[4].id and versions[ROOT][4] == "v2" and versions[ROOT][6] == "9"


def test_reingesting_changes_nothing_and_counts_it(engine: Engine) -> None:
    relay = SecretKey.generate()
    offer = kinds.relay_offer(relay, "wss://r.example", [ROOT], created_at=BASE)
    store = DiscoveryStore(engine)
    first = store.ingest([offer], "ws://a")
    before = dump(engine)
    again = store.ingest([offer], "ws://b")
    assert (first.written, first.unchanged, again.written, again.unchanged) == (1, 0, 0, 1)
    assert dump(engine) == before


def test_an_equal_timestamp_keeps_the_lower_id(engine: Engine) -> None:
    relay = SecretKey.generate()
    a = kinds.relay_offer(relay, "wss://a.example", [], created_at=BASE)
    b = kinds.relay_offer(relay, "wss://b.example", [], created_at=BASE)
    low, high = sorted([a, b], key=lambda e: e.id)
    store = DiscoveryStore(engine)
    store.ingest([high], "ws://r")
    store.ingest([low], "ws://r")
    store.ingest([high], "ws://r")
    assert [row[1] for row in dump(engine)["discovery_relay_offers"]] == [low.id]


def test_malformed_agihub_events_are_refused_before_any_row(engine: Engine) -> None:
    key = SecretKey.generate()
    bad = sign_event(key, kinds.RELAY_OFFER, "", [["d", key.public_key.hex], ["endpoint", "ftp://x"]])
    good = kinds.relay_offer(key, "wss://r.example", [])
    with pytest.raises(InvalidEvent, match="endpoint"):
        DiscoveryStore(engine).ingest([good, bad], "ws://r")
    assert dump(engine)["discovery_relay_offers"] == []  # one transaction: the good one went too
