"""Task leases: the shared database knows which worker runs which task, and re-sends lost work.

Celery's late acknowledgement redelivers a message whose pool process died, but not every loss is
visible to the broker: kombu's filesystem transport deletes a message when it hands it out, a whole
worker machine may vanish, and a Redis server without persistence forgets its queues when it
restarts. So every task is also a row in ``task_records`` (the outbox, written by
:func:`agihub_services.queue.submit` before the message is sent) with a lease: the process running it renews ``lease_until`` while it
works; when a lease runs out with the task unfinished, :func:`reclaim` (run by every worker every
few seconds) sends the task again under the same id. A delivery of a task that already succeeded,
or that a live process holds, is acknowledged without running, so the task body runs to completion
once; tasks are idempotent, which covers the window between a side effect and its record.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import TaskRecord

log = logging.getLogger(__name__)

RUN, DONE, HELD = "run", "done", "held"
UNFINISHED = ("PENDING", "STARTED", "RETRY")


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_here(owner: str | None) -> bool:
    """Whether ``owner`` is a live process on this host (False when it is on another host)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(frozen=True)
class Claim:
    action: str  # run | done | held
    attempts: int
    result: dict[str, Any] | None = None


def claim(engine: Engine, task_id: str, name: str, payload: dict[str, Any], lease_s: float) -> Claim:
    """Take the lease of ``task_id`` for this process and count the delivery, unless the task already
    succeeded (``done``) or a live process holds an unexpired lease on it (``held``)."""
    now, me = datetime.now(UTC), owner_name()
    with session_scope(engine) as session:
        record = session.get(TaskRecord, task_id, with_for_update=engine.dialect.name == "postgresql")
        if record is None:
            record = TaskRecord(
                task_id=task_id, name=name, state="PENDING", done=0, total=0, attempts=0, created_at=now
            )
            session.add(record)
        if record.state == "SUCCESS":
            return Claim(DONE, record.attempts, record.result)
        lease = _aware(record.lease_until)
        held_elsewhere = record.owner not in (None, me) and record.state == "STARTED"
        if held_elsewhere and lease is not None and lease > now and not _stale_here(record.owner):
            return Claim(HELD, record.attempts)
        record.attempts += 1
        record.state, record.owner = "STARTED", me
        record.lease_until = now + timedelta(seconds=lease_s)
        record.payload = record.payload or payload
        record.updated_at = now
        return Claim(RUN, record.attempts)


def _stale_here(owner: str | None) -> bool:
    """The owner ran on this host and its process is gone: no need to wait for its lease."""
    if not owner:
        return False
    host, _, _ = owner.rpartition(":")
    return host == socket.gethostname() and not _alive_here(owner)


def renew(engine: Engine, task_id: str, lease_s: float) -> bool:
    """Extend this process's lease; False if another process took the task over."""
    with session_scope(engine) as session:
        result = session.execute(
            update(TaskRecord)
            .where(TaskRecord.task_id == task_id, TaskRecord.owner == owner_name())
            .values(lease_until=datetime.now(UTC) + timedelta(seconds=lease_s))
        )
        return bool(result.rowcount)


@contextmanager
def kept(engine: Engine, task_id: str, lease_s: float) -> Iterator[None]:
    """Renew the lease every third of its length while the body runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(lease_s / 3):
            try:
                renew(engine, task_id, lease_s)
            except Exception:  # a database blip must not kill the task; the next beat retries
                log.exception("lease renewal of %s failed", task_id)

    beat = threading.Thread(target=loop, name=f"lease-{task_id[:8]}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()


def release(
    engine: Engine,
    task_id: str,
    state: str,
    *,
    result: Any = None,
    error: str | None = None,
    hold_s: float | None = None,
) -> None:
    """Record the outcome. ``hold_s`` keeps a lease for a task that will come back (a retry's countdown)."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        record = session.get(TaskRecord, task_id)
        if record is None:
            return
        record.state, record.result, record.error = state, result, error
        record.owner = None
        record.lease_until = now + timedelta(seconds=hold_s) if hold_s is not None else None
        record.updated_at = now


def expired(engine: Engine, now: datetime | None = None) -> list[TaskRecord]:
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        rows = session.scalars(
            select(TaskRecord).where(
                TaskRecord.state.in_(UNFINISHED),
                TaskRecord.lease_until < now,
                TaskRecord.payload.is_not(None),
            )
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def reclaim(engine: Engine, producer: Any, lease_s: float) -> list[str]:
    """Send again every unfinished task whose lease ran out. Several workers may run this at once:
    a compare-and-set on ``lease_until`` lets exactly one of them re-send each task.

    A task that merely waits behind a busy queue looks the same as a lost one, so each re-send of
    a task doubles its next wait (up to 256 leases): a lost message comes back within one lease, and
    a long queue gets a bounded number of duplicates, which workers drop unrun (see :func:`claim`).
    """
    sent = []
    for record in expired(engine):
        payload = dict(record.payload or {})
        resent = int(payload.get("resent", 0)) + 1
        payload["resent"] = resent
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            won = session.execute(
                update(TaskRecord)
                .where(TaskRecord.task_id == record.task_id, TaskRecord.lease_until == record.lease_until)
                .values(
                    lease_until=now + timedelta(seconds=lease_s * 2 ** min(resent, 8)),
                    owner=None,
                    state="PENDING",
                    payload=payload,
                )
            ).rowcount
        if not won:
            continue
        producer.send_task(
            record.name,
            args=payload.get("args", []),
            kwargs=payload.get("kwargs", {}),
            task_id=record.task_id,
        )
        log.warning(
            "re-sent task %s %s (re-send %d): its lease ran out unfinished",
            record.name,
            record.task_id,
            resent,
        )
        sent.append(record.task_id)
    return sent
