"""The indexer's database side: one transaction per batch (rows + cursor) and reorg rollback.

Exactly once: :meth:`Store.write_batch` locks the cursor row, checks that the batch starts right
after it, writes every row the projections produce and moves the cursor, all in one transaction.
A crash at any point leaves either the whole batch or none of it; a batch already covered by the
cursor is a no-op, so re-ingesting a range changes nothing. The primary keys on
(chain, block, tx, event index) make a duplicate impossible even if that check were bypassed.

Rollback after a reorg deletes every history row above the common ancestor and re-folds, from the
remaining events, exactly the orders, relays and contributions those rows touched.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from agihub_indexer import projection
from agihub_indexer.errors import CursorConflict, MalformedEvent
from agihub_indexer.projection import Projector, Row
from agihub_indexer.sources.base import Batch
from agihub_services.db.schema import Base

log = logging.getLogger(__name__)

T: dict[str, Table] = Base.metadata.tables  # type: ignore[assignment]
# SQLite allows 32766 bound parameters per statement; stay far below with every backend.
CHUNK = 500
_STATE_KEYS = {"orders": "order_id", "relays": "address", "contributions": "contribution_id"}
# COPY runs on the driver connection, so PostgreSQL's violation arrives unwrapped by SQLAlchemy.
_INTEGRITY_ERRORS: tuple[type[Exception], ...] = (IntegrityError, psycopg.IntegrityError)
_CREATIONS = frozenset({"OrderPulled", "ContributionRegistered"})
_EVENT_KEYS = {"orders": "order_id", "relays": "relay", "contributions": "contribution_id"}


@dataclass(frozen=True)
class Cursor:
    """Where a chain's ingestion stands: last position written and that block's hash."""

    chain: str
    position: int
    block_hash: str | None
    head: int | None
    halted: str | None


def bulk_insert(conn: Connection, table: Table, rows: list[Row]) -> None:
    """Insert ``rows`` inside the connection's transaction: COPY on PostgreSQL, executemany elsewhere.

    COPY is several times faster than row-by-row INSERTs for the thousands of rows of one backfill
    batch (https://www.postgresql.org/docs/current/populate.html#POPULATE-COPY-FROM); it runs on
    the same driver connection, so it commits or rolls back with the rest of the batch. The binary
    format spares the server parsing every integer from text (the write stage is the backfill's
    bottleneck, see README.md).
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = [c.name for c in table.columns]
    getter = operator.itemgetter(*columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with raw.cursor() as cur, cur.copy(statement) as copy:
        # JSON values go in as Python objects: psycopg's json dumper serializes them (with
        # json.dumps, as SQLAlchemy does); a pre-serialized str would be stored as a JSON string.
        copy.set_types(_copy_types(table))
        for row in rows:
            copy.write_row(getter(row))


def _copy_types(table: Table) -> list[str]:
    """PostgreSQL type names of ``table``'s columns, for a binary COPY (varchar is sent as text)."""
    names = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, JSON):
            names.append("json")
        elif isinstance(kind, Boolean):
            names.append("bool")
        elif isinstance(kind, BigInteger):
            names.append("int8")
        elif isinstance(kind, Integer):
            names.append("int4")
        elif isinstance(kind, DateTime):
            names.append("timestamptz" if kind.timezone else "timestamp")
        elif isinstance(kind, String):  # String, Text
            names.append("text")
        else:
            raise TypeError(f"{table.name}.{column.name}: no binary COPY type for {kind!r}")
    return names


def _relaxed_commit(conn: Connection) -> None:
    """PostgreSQL: this transaction's COMMIT returns before its WAL reaches the disk.

    Exactly-once holds: rows and cursor still commit atomically, and a server crash can only lose
    the newest whole transactions, rows and cursor together, which the indexer then ingests again
    from the chain (https://www.postgresql.org/docs/current/wal-async-commit.html). A backfill
    commits hundreds of batches, so not waiting for each flush matters.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Store:
    """All reads and writes of one chain's indexed data.

    :param engine: the shared database (migrated to head).
    :param chain: the source's chain key (``evm:31337``...).
    :param reorg_limit: how many recent block headers to keep for ancestor search.
    """

    def __init__(self, engine: Engine, chain: str, reorg_limit: int = 64) -> None:
        self.engine = engine
        self.chain = chain
        self.reorg_limit = reorg_limit

    # -- cursor -----------------------------------------------------------------------------------
    def cursor(self) -> Cursor | None:
        """The stored cursor, or None before the first run."""
        with self.engine.connect() as conn:
            return self._read_cursor(conn)

    def _read_cursor(self, conn: Connection, lock: bool = False) -> Cursor | None:
        table = T["indexer_cursors"]
        query = select(table).where(table.c.chain == self.chain)
        if lock:
            query = query.with_for_update()  # PostgreSQL row lock; SQLite's write lock covers it
        row = conn.execute(query).first()
        if row is None:
            return None
        return Cursor(row.chain, row.position, row.block_hash, row.head, row.halted)

    def ensure_cursor(self, start_block: int) -> Cursor:
        """The cursor, created just before ``start_block`` if there is none.

        The follower calls this before every batch, so the common case is a plain read: a row lock
        here would make each call a write transaction whose commit waits for a WAL flush. Locking
        is :meth:`write_batch`'s job (it re-reads the cursor ``FOR UPDATE``).
        """
        with self.engine.connect() as conn:
            found = self._read_cursor(conn)
        if found is not None:
            return found
        with self.engine.begin() as conn:
            found = self._read_cursor(conn, lock=True)
            if found is not None:
                return found
            conn.execute(
                insert(T["indexer_cursors"]).values(
                    chain=self.chain,
                    position=start_block - 1,
                    block_hash=None,
                    head=None,
                    halted=None,
                    updated_at=datetime.now(UTC),
                )
            )
        log.info("new cursor for %s before block %s", self.chain, start_block)
        return Cursor(self.chain, start_block - 1, None, None, None)

    def record_head(self, head: int) -> None:
        """Remember the source's head (for the lag metric) without touching the position."""
        self._set_cursor_fields(head=head, updated_at=datetime.now(UTC))

    def record_halt(self, reason: str | None) -> None:
        """Store why the indexer halted (None clears it), for ``agihub indexer status``."""
        self._set_cursor_fields(halted=reason, updated_at=datetime.now(UTC))

    def _set_cursor_fields(self, **values: Any) -> None:
        table = T["indexer_cursors"]
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.chain == self.chain).values(**values))

    def stored_hash(self, number: int) -> str | None:
        """Hash of block ``number`` as indexed, if it is still in the kept window."""
        table = T["chain_blocks"]
        with self.engine.connect() as conn:
            return conn.execute(
                select(table.c.hash).where(table.c.chain == self.chain, table.c.number == number)
            ).scalar_one_or_none()

    def _claim(self, conn: Connection, expected: int) -> None:
        found = self._read_cursor(conn, lock=True)
        if found is None or found.position != expected:
            at = None if found is None else found.position
            raise CursorConflict(
                f"cursor of {self.chain} is at {at}, expected {expected}: another indexer is running "
                f"on this chain and database; stop one of them"
            )

    # -- forward ----------------------------------------------------------------------------------
    def write_batch(self, batch: Batch, head: int | None = None) -> bool:
        """Write ``batch`` and move the cursor to its end in one transaction.

        Returns False (writing nothing) when the cursor already covers the batch.
        Raises :class:`CursorConflict` when the batch does not start right after the cursor.
        """
        with self.engine.begin() as conn:
            _relaxed_commit(conn)
            current = self._read_cursor(conn, lock=True)
            if current is None:
                raise CursorConflict(f"no cursor for {self.chain}: call ensure_cursor first")
            if batch.end <= current.position:
                return False
            if batch.start != current.position + 1:
                raise CursorConflict(
                    f"batch {batch.start}..{batch.end} does not follow the cursor of {self.chain} at "
                    f"{current.position}"
                )
            state, fresh = self._load_state(conn, batch)
            projector = Projector(**state).apply(batch.events)
            try:
                self._insert_history(conn, projector.rows)
                for table in projection.STATE_TABLES:
                    self._replace_state(conn, table, projector.state_rows(table), fresh[table])
            except _INTEGRITY_ERRORS as exc:  # e.g. an order id pulled twice: the chain data is wrong
                reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                raise MalformedEvent(
                    f"batch {batch.start}..{batch.end} repeats a unique key: {reason}"
                ) from None
            self._store_blocks(conn, batch)
            self._move_cursor(conn, batch.end, batch.last_hash, head)
        return True

    def _load_state(
        self, conn: Connection, batch: Batch
    ) -> tuple[dict[str, dict[Any, Row]], dict[str, set[Any]]]:
        """Stored rows of the entities the batch touches, and the keys the batch itself creates.

        An order or contribution whose first event in the batch is its creation (ids are never
        reused) cannot be stored yet: it is neither read nor deleted, which spares a backfill most
        of its state queries.
        """
        wanted: dict[str, set[Any]] = {"orders": set(), "relays": set(), "contributions": set()}
        fresh: dict[str, set[Any]] = {"orders": set(), "relays": set(), "contributions": set()}
        for event in batch.events:
            order_id, contribution_id, relay = projection.entity_keys(event)
            for table, key in (("orders", order_id), ("contributions", contribution_id), ("relays", relay)):
                if key is None or key in wanted[table] or key in fresh[table]:
                    continue
                if event.name in _CREATIONS:
                    fresh[table].add(key)
                else:
                    wanted[table].add(key)
        return {table: self._state_rows(conn, table, keys) for table, keys in wanted.items()}, fresh

    def _state_rows(self, conn: Connection, table: str, keys: Iterable[Any]) -> dict[Any, Row]:
        tab, key_col = T[table], _STATE_KEYS[table]
        out: dict[Any, Row] = {}
        for chunk in _chunks(sorted(keys)):
            query = select(tab).where(tab.c.chain == self.chain, tab.c[key_col].in_(chunk))
            for row in conn.execute(query).mappings():
                out[row[key_col]] = dict(row)
        return out

    def _insert_history(self, conn: Connection, rows: dict[str, list[Row]]) -> None:
        for table in projection.POSITION_TABLES:
            bulk_insert(conn, T[table], rows.get(table, []))
        bulk_insert(conn, T["epochs"], rows.get("epochs", []))
        if rows.get("models"):
            self._insert_new_models(conn, rows["models"])

    def _insert_new_models(self, conn: Connection, rows: list[Row]) -> None:
        # A model root registered twice keeps its first registration (its lineage does not change).
        first: dict[str, Row] = {}
        for row in rows:
            first.setdefault(row["model_root"], row)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(T["models"]).on_conflict_do_nothing(index_elements=["chain", "model_root"])
        conn.execute(statement, list(first.values()))

    def _replace_state(
        self, conn: Connection, table: str, rows: list[Row], fresh: set[Any] | None = None
    ) -> None:
        if not rows:
            return
        tab, key_col = T[table], _STATE_KEYS[table]
        stale = [row[key_col] for row in rows if not fresh or row[key_col] not in fresh]
        for chunk in _chunks(stale):
            conn.execute(delete(tab).where(tab.c.chain == self.chain, tab.c[key_col].in_(chunk)))
        bulk_insert(conn, tab, rows)

    def _store_blocks(self, conn: Connection, batch: Batch) -> None:
        if not batch.blocks:
            return
        # Only the reorg window is kept: older headers are never compared again.
        keep_from = batch.end - self.reorg_limit
        table = T["chain_blocks"]
        rows = [
            {
                "chain": self.chain,
                "number": b.number,
                "hash": b.hash,
                "parent_hash": b.parent_hash,
                "timestamp": b.timestamp,
            }
            for b in batch.blocks
            if b.number >= keep_from
        ]
        conn.execute(insert(table), rows)
        conn.execute(delete(table).where(table.c.chain == self.chain, table.c.number < keep_from))

    def _move_cursor(self, conn: Connection, position: int, block_hash: str | None, head: int | None) -> None:
        table = T["indexer_cursors"]
        values: dict[str, Any] = {
            "position": position,
            "block_hash": block_hash,
            "updated_at": datetime.now(UTC),
        }
        if head is not None:
            values["head"] = head
        conn.execute(update(table).where(table.c.chain == self.chain).values(**values))

    # -- rollback ---------------------------------------------------------------------------------
    def rollback_to(self, ancestor: int, expected: int) -> None:
        """Undo everything above block ``ancestor`` (the cursor must be at ``expected``), atomically."""
        with self.engine.begin() as conn:
            self._claim(conn, expected)
            touched = self._touched_above(conn, ancestor)
            for table in projection.POSITION_TABLES:
                tab = T[table]
                conn.execute(delete(tab).where(tab.c.chain == self.chain, tab.c.block_number > ancestor))
            for table in projection.CREATED_TABLES:
                tab = T[table]
                conn.execute(delete(tab).where(tab.c.chain == self.chain, tab.c.block_number > ancestor))
            blocks = T["chain_blocks"]
            conn.execute(delete(blocks).where(blocks.c.chain == self.chain, blocks.c.number > ancestor))
            for table, keys in touched.items():
                self._refold(conn, table, keys)
            ancestor_hash = conn.execute(
                select(blocks.c.hash).where(blocks.c.chain == self.chain, blocks.c.number == ancestor)
            ).scalar_one_or_none()
            self._move_cursor(conn, ancestor, ancestor_hash, None)
        log.warning("rolled %s back from block %s to common ancestor %s", self.chain, expected, ancestor)

    def _touched_above(self, conn: Connection, ancestor: int) -> dict[str, set[Any]]:
        events = T["chain_events"]
        query = select(events.c.order_id, events.c.contribution_id, events.c.relay).where(
            events.c.chain == self.chain, events.c.block_number > ancestor
        )
        touched: dict[str, set[Any]] = {"orders": set(), "relays": set(), "contributions": set()}
        for order_id, contribution_id, relay in conn.execute(query):
            for table, key in (("orders", order_id), ("contributions", contribution_id), ("relays", relay)):
                if key is not None:
                    touched[table].add(key)
        return touched

    def _refold(self, conn: Connection, table: str, keys: set[Any]) -> None:
        """Rebuild the state rows of ``keys`` from the events that remain (history rows discarded)."""
        if not keys:
            return
        tab, events = T[table], T["chain_events"]
        key_col, event_col = _STATE_KEYS[table], _EVENT_KEYS[table]
        projector = Projector()
        for chunk in _chunks(sorted(keys)):
            conn.execute(delete(tab).where(tab.c.chain == self.chain, tab.c[key_col].in_(chunk)))
            query = (
                select(events)
                .where(events.c.chain == self.chain, events.c[event_col].in_(chunk))
                .order_by(events.c.block_number, events.c.log_index)
            )
            projector.apply(projection.event_from_row(row) for row in conn.execute(query))
        rows = projector.state_rows(table)
        if rows:
            conn.execute(insert(tab), rows)


def delete_chain(engine: Engine, chain: str) -> None:
    """Remove every indexed row and the cursor of ``chain`` (a fresh re-index starts from scratch)."""
    with engine.begin() as conn:
        for name in (
            *projection.POSITION_TABLES,
            *projection.CREATED_TABLES,
            *projection.STATE_TABLES,
            "chain_blocks",
            "indexer_cursors",
        ):
            conn.execute(delete(T[name]).where(T[name].c.chain == chain))


__all__ = ["Cursor", "Store", "delete_chain"]
