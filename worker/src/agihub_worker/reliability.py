"""Delivery accounting for tasks: retries with backoff, and a dead-letter record for poison messages.

A message is delivered again when the process running it dies (``task_reject_on_worker_lost``) or
when a broker's visibility timeout passes. A task that kills its worker every time would loop for
ever, so every delivery is counted in ``task_records`` *before* the task body runs; once the
deliveries beyond the task's own retries exceed ``max_redeliveries``, the message is acknowledged
without running, its record is marked ``DEAD_LETTER`` and an alert is logged.
https://docs.celeryq.dev/en/stable/userguide/tasks.html#retrying
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.exceptions import Retry
from sqlalchemy import Engine, select

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import TaskRecord

log = logging.getLogger(__name__)

DEAD_LETTER = "DEAD_LETTER"
MAX_REDELIVERIES = 3


class TransientTaskError(Exception):
    """A failure worth retrying (a relay timed out, a node answered 5xx)."""


def record_delivery(engine: Engine, task_id: str, name: str) -> TaskRecord:
    """Count one more delivery of ``task_id`` (committed before the task body runs)."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        record = session.get(TaskRecord, task_id, with_for_update=engine.dialect.name == "postgresql")
        if record is None:
            record = TaskRecord(
                task_id=task_id, name=name, state="STARTED", done=0, total=0, attempts=0, created_at=now
            )
            session.add(record)
        record.attempts += 1
        record.state = "STARTED"
        record.updated_at = now
        session.flush()
        session.expunge(record)
    return record


def finish(engine: Engine, task_id: str, state: str, result: Any = None, error: str | None = None) -> None:
    with session_scope(engine) as session:
        record = session.get(TaskRecord, task_id)
        if record is None:
            return
        record.state, record.result, record.error = state, result, error
        record.updated_at = datetime.now(UTC)


def dead_letters(engine: Engine) -> list[TaskRecord]:
    """Every dead-lettered task, oldest first."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(TaskRecord).where(TaskRecord.state == DEAD_LETTER).order_by(TaskRecord.created_at)
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


class ReliableTask(Task):
    """Base class of every agihub task: counted deliveries, dead letters, bounded retries with jitter."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (TransientTaskError,)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5
    max_redeliveries = MAX_REDELIVERIES

    def engine(self) -> Engine:
        from agihub_worker.app import engine

        return engine()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if task_id is None:  # called directly, not through a worker
            return super().__call__(*args, **kwargs)
        record = record_delivery(self.engine(), task_id, self.name)
        redeliveries = record.attempts - 1 - (self.request.retries or 0)
        if redeliveries > self.max_redeliveries:
            reason = f"delivered {record.attempts} times ({redeliveries} redeliveries without finishing)"
            finish(self.engine(), task_id, DEAD_LETTER, error=reason)
            log.error("ALERT dead-letter: task %s %s %s", self.name, task_id, reason)
            return None
        try:
            result = super().__call__(*args, **kwargs)
        except (Retry, TransientTaskError) as exc:  # autoretry turns TransientTaskError into Retry
            finish(self.engine(), task_id, "RETRY", error=str(exc))
            raise
        except Exception as exc:
            finish(self.engine(), task_id, "FAILURE", error=f"{type(exc).__name__}: {exc}")
            raise
        finish(self.engine(), task_id, "SUCCESS", result=result if isinstance(result, dict) else None)
        return result
