"""Exactly-once writes, conflicts, atomic failure and rollback on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from agihub_indexer.errors import CursorConflict, MalformedEvent
from agihub_indexer.sources.base import Batch, EventRecord
from agihub_indexer.store import Store, delete_chain
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from tests.indexer import synthetic
from tests.indexer.dbdump import diff, dump
from tests.indexer.synthetic import CHAIN


def _store(engine: Engine, limit: int = 16) -> Store:
    store = Store(engine, CHAIN, reorg_limit=limit)
    store.ensure_cursor(1)
    return store


def test_a_batch_is_written_once_and_rewriting_it_changes_nothing(engine: Engine) -> None:
    store = _store(engine)
    assert store.write_batch(synthetic.batch(1, 6), head=10) is True
    before = dump(engine, CHAIN)
    assert before["chain_events"] and before["orders"] and before["relays"] and before["models"]
    assert store.write_batch(synthetic.batch(1, 6)) is False
    assert store.write_batch(synthetic.batch(3, 6)) is False
    assert diff(before, dump(engine, CHAIN)) == {}
    cursor = store.cursor()
    assert cursor is not None and (cursor.position, cursor.head) == (6, 10)
    assert cursor.block_hash == synthetic.block_hash(6)


def test_a_batch_that_skips_or_overlaps_is_refused_and_writes_nothing(engine: Engine) -> None:
    store = _store(engine)
    store.write_batch(synthetic.batch(1, 4))
    before = dump(engine, CHAIN)
    with pytest.raises(CursorConflict, match="does not follow"):
        store.write_batch(synthetic.batch(6, 8))
    with pytest.raises(CursorConflict, match="does not follow"):
        store.write_batch(synthetic.batch(3, 8))
    assert diff(before, dump(engine, CHAIN)) == {}


def test_a_failure_mid_batch_leaves_no_partial_rows(engine: Engine) -> None:
    store = _store(engine)
    store.write_batch(synthetic.batch(1, 3))
    before = dump(engine, CHAIN)
    good = synthetic.batch(4, 6)
    poisoned = EventRecord(
        CHAIN,
        6,
        synthetic.block_hash(6),
        "0xbad",
        9,
        "0xm",
        "Withdrawn",
        {"account": synthetic.BUYER, "amount": -1},
    )
    with pytest.raises(MalformedEvent):
        store.write_batch(Batch(4, 6, good.blocks, [*good.events, poisoned]))
    assert diff(before, dump(engine, CHAIN)) == {}
    assert store.write_batch(good) is True  # the same range goes through once it is sound


def test_writing_without_a_cursor_is_refused(engine: Engine) -> None:
    with pytest.raises(CursorConflict, match="no cursor"):
        Store(engine, CHAIN).write_batch(synthetic.batch(1, 2))


def test_rollback_equals_never_having_seen_the_orphaned_blocks(engine: Engine, tmp_path) -> None:
    store = _store(engine)
    for start in (1, 6, 11):
        store.write_batch(synthetic.batch(start, start + 4))
    store.rollback_to(7, expected=15)
    # a second database that only ever saw blocks 1..7
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    migrate.upgrade(url)
    reference_engine = make_engine(url)
    try:
        reference = _store(reference_engine)
        reference.write_batch(synthetic.batch(1, 5))
        reference.write_batch(synthetic.batch(6, 7))
        got, want = dump(engine, CHAIN), dump(reference_engine, CHAIN)
    finally:
        reference_engine.dispose()
    # chain_blocks keeps the window below the ancestor in both, so everything must match
    assert diff(got, want) == {}
    # order 7 was pulled at 7 and taken at 9 (rolled back): it must be OPEN again
    orders = {row[1]: row for row in got["orders"]}
    assert orders[7][5] == 1


def test_rollback_refuses_a_moved_cursor(engine: Engine) -> None:
    store = _store(engine)
    store.write_batch(synthetic.batch(1, 5))
    before = dump(engine, CHAIN)
    with pytest.raises(CursorConflict):
        store.rollback_to(2, expected=4)
    assert diff(before, dump(engine, CHAIN)) == {}


def test_only_the_reorg_window_of_headers_is_kept(engine: Engine) -> None:
    store = _store(engine, limit=4)
    for start in range(1, 30, 5):
        store.write_batch(synthetic.batch(start, start + 4))
    numbers = [row[1] for row in dump(engine, CHAIN)["chain_blocks"]]
    assert sorted(numbers) == list(range(26, 31))  # position 30 and the 4 below it


def test_delete_chain_removes_everything(engine: Engine) -> None:
    store = _store(engine)
    store.write_batch(synthetic.batch(1, 5))
    delete_chain(engine, CHAIN)
    assert all(not rows for rows in dump(engine, CHAIN).values())


def test_an_order_pulled_twice_is_malformed_and_writes_nothing(engine: Engine) -> None:
    store = _store(engine)
    store.write_batch(synthetic.batch(1, 3))
    before = dump(engine, CHAIN)
    again = synthetic.batch(4, 4)
    duplicate = synthetic.events_for(2)[0]  # OrderPulled of order 2, already stored
    replayed = EventRecord(
        CHAIN, 4, synthetic.block_hash(4), "0xdup", 9, "0xm", duplicate.name, duplicate.fields
    )
    with pytest.raises(MalformedEvent, match="repeats a unique key"):
        store.write_batch(Batch(4, 4, again.blocks, [*again.events, replayed]))
    assert diff(before, dump(engine, CHAIN)) == {}


def test_json_columns_hold_the_decoded_values_not_strings(engine: Engine) -> None:
    # PostgreSQL writes through binary COPY: a JSON value must arrive as the object, not as a
    # JSON string holding it (what a pre-serialized str would become).
    from sqlalchemy import select

    from agihub_indexer.store import T

    batch = synthetic.batch(1, 6)
    _store(engine).write_batch(batch)
    events, orders = T["chain_events"], T["orders"]
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.tx_hash, events.c.log_index, events.c.fields)).all()
        fields = {f"{tx}:{index}": value for tx, index, value in rows}
        relays = list(conn.execute(select(orders.c.relays).where(orders.c.relays.is_not(None))).scalars())
    by_key = {f"{e.tx_hash}:{e.log_index}": e.fields for e in batch.events}
    assert fields and all(isinstance(value, dict) for value in fields.values())
    assert fields == by_key
    assert relays and all(isinstance(value, list) for value in relays)
