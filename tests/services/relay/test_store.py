"""Event storage rules (NIP-01 replaceable/addressable/ephemeral) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agihub.identity import SecretKey
from agihub.nostr.event import sign_event
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.relay.filters import parse_filter
from agihub_services.relay.store import EventStore

T0 = 1_700_000_000


@pytest.fixture
def store(database_url: str) -> Iterator[EventStore]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    yield EventStore(engine)
    engine.dispose()


def flt(**kw: object):
    return parse_filter(kw, max_limit=100, default_limit=100)


def test_regular_events_are_kept_and_queried_newest_first(store: EventStore) -> None:
    key = SecretKey.generate()
    events = [
        sign_event(key, 1, f"e{i}", [["t", "x" if i % 2 else "y"]], created_at=T0 + i) for i in range(5)
    ]
    for ev in events:
        assert store.save(ev).stored
    assert not store.save(events[0]).stored
    raws = store.query([flt(kinds=[1], **{"#t": ["x"]})])
    assert [r for r in raws] == [events[3].to_json(), events[1].to_json()]
    assert store.query([flt(since=T0 + 1, until=T0 + 2), flt(ids=[events[4].id])]) == [
        events[4].to_json(),
        events[2].to_json(),
        events[1].to_json(),
    ]
    assert store.query([flt(kinds=[1], limit=2)]) == [events[4].to_json(), events[3].to_json()]


def test_replaceable_keeps_only_the_newest_with_lowest_id_on_ties(store: EventStore) -> None:
    key = SecretKey.generate()
    old = sign_event(key, 0, "old", created_at=T0)
    new = sign_event(key, 0, "new", created_at=T0 + 10)
    assert store.save(old).stored and store.save(new).stored
    stale = sign_event(key, 0, "stale", created_at=T0 + 5)
    result = store.save(stale)
    assert not result.stored and result.message.startswith("duplicate:")
    assert store.query([flt(kinds=[0])]) == [new.to_json()]
    tie_a = sign_event(key, 0, "tie a", created_at=T0 + 10)
    tie_b = sign_event(key, 0, "tie b", created_at=T0 + 10)
    for ev in (tie_a, tie_b):
        store.save(ev)
    lowest = min((new, tie_a, tie_b), key=lambda e: e.id)
    assert store.query([flt(kinds=[0])]) == [lowest.to_json()]


def test_addressable_is_keyed_by_d_tag_and_old_tags_are_removed(store: EventStore) -> None:
    key = SecretKey.generate()
    a1 = sign_event(key, 31337, "", [["d", "a"], ["t", "first"]], created_at=T0)
    b1 = sign_event(key, 31337, "", [["d", "b"]], created_at=T0)
    a2 = sign_event(key, 31337, "", [["d", "a"], ["t", "second"]], created_at=T0 + 1)
    for ev in (a1, b1, a2):
        assert store.save(ev).stored
    assert set(store.query([flt(kinds=[31337])])) == {a2.to_json(), b1.to_json()}
    assert store.query([flt(**{"#t": ["first"]})]) == []
    assert store.query([flt(**{"#d": ["a"]})]) == [a2.to_json()]


def test_ephemeral_events_are_never_stored(store: EventStore) -> None:
    ev = sign_event(SecretKey.generate(), 20000, "now")
    assert not store.save(ev).stored
    assert store.count() == 0
