"""Event storage in SQL (SQLite by default, PostgreSQL in production).

NIP-01 storage rules: regular events are kept; ephemeral events are never stored; replaceable events
keep only the newest per ``(pubkey, kind)`` and addressable ones per ``(pubkey, kind, d)``, where the
lower id wins a tie on ``created_at``. The methods are synchronous (the websocket handler calls them
in a worker thread) and each save is one transaction, so a failed save leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import Engine, and_, delete, event, func, insert, select
from sqlalchemy.sql import Select

from agihub.errors import StorageError
from agihub.nostr import kinds
from agihub.nostr.event import Event
from agihub_services.db.schema import TAG_VALUE_MAX, RelayEvent, RelayEventTag
from agihub_services.relay.filters import Filter

log = logging.getLogger(__name__)

_events = RelayEvent.__table__
_tags = RelayEventTag.__table__


@dataclass(frozen=True)
class SaveResult:
    """Outcome of :meth:`EventStore.save`: ``stored`` is False for duplicates and stale versions."""

    stored: bool
    message: str = ""


class EventStore:
    """Saves and queries events; one instance per relay process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Replacing an event is read-then-write; one writer at a time keeps "newest wins" exact on
        # PostgreSQL too (a relay is one process; SQLite serializes writers anyway).
        self._write_lock = threading.Lock()
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_fast_commit)

    def save(self, ev: Event) -> SaveResult:
        """Store ``ev`` unless it is a duplicate or older than the stored version it would replace."""
        return self.save_many([ev])[0]

    def save_many(self, events: list[Event]) -> list[SaveResult]:
        """Save a batch in one transaction (one commit for many events: the ingest fast path).

        Results are in input order and identical to saving the events one by one in that order.
        """
        with self._write_lock, self.engine.begin() as conn:
            ids = [ev.id for ev in events]
            seen = set(conn.execute(select(_events.c.id).where(_events.c.id.in_(ids))).scalars())
            pending = _Pending()
            results = [self._save_one(conn, ev, seen, pending) for ev in events]
            pending.flush(conn)
        return results

    def _save_one(self, conn, ev: Event, seen: set[str], pending: _Pending) -> SaveResult:  # type: ignore[no-untyped-def]
        if kinds.is_ephemeral(ev.kind):
            return SaveResult(False, "ephemeral: not stored")
        if ev.id in seen:
            return SaveResult(False, "duplicate: already have this event")
        d_tag = _replace_key(ev)
        if d_tag is not None:
            pending.flush(conn)  # earlier events of this batch may be the versions it replaces
            if self._replace(conn, ev, d_tag):
                return SaveResult(False, "duplicate: a newer version of this event is stored")
        seen.add(ev.id)
        pending.add(ev, d_tag)
        return SaveResult(True)

    @staticmethod
    def _replace(conn, ev: Event, d_tag: str) -> bool:  # type: ignore[no-untyped-def]
        """Delete the versions ``ev`` replaces; True if a stored version is newer (nothing deleted)."""
        key = and_(_events.c.pubkey == ev.pubkey, _events.c.kind == ev.kind, _events.c.d_tag == d_tag)
        current = conn.execute(select(_events.c.id, _events.c.created_at).where(key)).all()
        for old_id, old_created in current:
            if (old_created, _neg(old_id)) >= (ev.created_at, _neg(ev.id)):
                return True
        old_ids = [row[0] for row in current]
        if old_ids:
            conn.execute(delete(_tags).where(_tags.c.event_id.in_(old_ids)))
            conn.execute(delete(_events).where(_events.c.id.in_(old_ids)))
        return False

    def query(self, filters: list[Filter]) -> list[str]:
        """Stored events matching any filter, newest first, as raw JSON; each filter obeys its limit."""
        seen: dict[str, tuple[int, str]] = {}
        with self.engine.connect() as conn:
            for flt in filters:
                if flt.limit == 0:
                    continue
                for event_id, created_at, raw in _limited(conn, flt):
                    seen[event_id] = (created_at, raw)
        ordered = sorted(seen.items(), key=lambda item: (-item[1][0], item[0]))
        return [raw for _, (_, raw) in ordered]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_events)).scalar_one())


class BatchWriter:
    """Funnels concurrent saves into :meth:`EventStore.save_many` batches, one commit per batch.

    While one batch is being written in a worker thread the next one accumulates, so under load the
    commit cost is shared by many events; an idle relay still writes each event at once.
    """

    def __init__(self, store: EventStore, max_batch: int = 256) -> None:
        self.store, self.max_batch = store, max_batch
        self._queue: asyncio.Queue[tuple[Event, asyncio.Future[SaveResult]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def save(self, ev: Event) -> SaveResult:
        """Queue ``ev`` and wait until its batch is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[SaveResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((ev, future))
        return await future

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await anyio.to_thread.run_sync(self.store.save_many, [ev for ev, _ in batch])
            except Exception as exc:
                log.exception("saving a batch of %d events failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(StorageError(f"could not store the event: {exc}"))
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


class _Pending:
    """Rows of a batch not yet sent to the database (sent in two executemany calls)."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.tags: list[dict[str, str]] = []

    def add(self, ev: Event, d_tag: str | None) -> None:
        self.events.append(
            {
                "id": ev.id,
                "pubkey": ev.pubkey,
                "created_at": ev.created_at,
                "kind": ev.kind,
                "d_tag": d_tag,
                "raw": ev.to_json(),
            }
        )
        self.tags.extend(_tag_rows(ev))

    def flush(self, conn) -> None:  # type: ignore[no-untyped-def]
        if self.events:
            conn.execute(insert(_events), self.events)
        if self.tags:
            conn.execute(insert(_tags), self.tags)
        self.events, self.tags = [], []


def _sqlite_fast_commit(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # In WAL mode synchronous=NORMAL cannot corrupt the database; a power cut may lose the last
    # commits, which a relay tolerates (clients re-publish). It is ~10x faster than FULL per event.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _neg(event_id: str) -> int:
    # On equal created_at the LOWER id wins (NIP-01), so compare on the negated id.
    return -int(event_id, 16)


def _replace_key(ev: Event) -> str | None:
    if kinds.is_addressable(ev.kind):
        return ev.d_tag
    if kinds.is_replaceable(ev.kind):
        return ""
    return None


def _tag_rows(ev: Event) -> list[dict[str, str]]:
    rows, seen = [], set()
    for tag in ev.tags:
        if len(tag) < 2 or len(tag[0]) != 1 or not tag[0].isalpha() or len(tag[1]) > TAG_VALUE_MAX:
            continue
        key = (tag[0], tag[1])
        if key not in seen:
            seen.add(key)
            rows.append({"event_id": ev.id, "name": tag[0], "value": tag[1]})
    return rows


def _limited(conn, flt: Filter) -> list:  # type: ignore[no-untyped-def]
    """The ``limit`` newest matches, lowest id first among events sharing the oldest timestamp.

    Sorting by ``created_at`` alone lets the database walk an index with no sort step; the id
    tie-break NIP-01 asks for only matters at the cut-off timestamp, so only those rows are re-read.
    """
    rows = conn.execute(_select(flt).order_by(_events.c.created_at.desc()).limit(flt.limit)).all()
    if flt.limit is None or len(rows) < flt.limit:
        return rows
    edge = rows[-1][1]
    above = [row for row in rows if row[1] > edge]
    at_edge = _select(flt).where(_events.c.created_at == edge).order_by(_events.c.id)
    return above + conn.execute(at_edge.limit(flt.limit - len(above))).all()


def _select(flt: Filter) -> Select:
    stmt = select(_events.c.id, _events.c.created_at, _events.c.raw)
    if flt.ids:
        stmt = stmt.where(_events.c.id.in_(sorted(flt.ids)))
    if flt.authors:
        stmt = stmt.where(_events.c.pubkey.in_(sorted(flt.authors)))
    if flt.kinds:
        stmt = stmt.where(_events.c.kind.in_(sorted(flt.kinds)))
    if flt.since is not None:
        stmt = stmt.where(_events.c.created_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(_events.c.created_at <= flt.until)
    for name, values in sorted(flt.tags.items()):
        # EXISTS probes the tag table's primary key per candidate row, newest first, and stops at
        # the limit; an IN (subquery) would materialize every event carrying a common tag first.
        tagged = (
            select(_tags.c.event_id)
            .where(_tags.c.event_id == _events.c.id, _tags.c.name == name, _tags.c.value.in_(sorted(values)))
            .exists()
        )
        stmt = stmt.where(tagged)
    return stmt
