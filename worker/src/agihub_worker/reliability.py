"""Delivery accounting for tasks: leases, retries with backoff, and a dead-letter record.

A message is delivered again when the process running it dies (``task_reject_on_worker_lost``),
when a broker's visibility timeout passes, or when its lease in ``task_records`` runs out (see
:mod:`agihub_worker.leases`). A task that kills its worker every time would loop for ever, so every
delivery is counted *before* the task body runs; once the deliveries beyond the task's own retries
exceed ``max_redeliveries``, the message is acknowledged without running, its record is marked
``DEAD_LETTER`` and an alert is logged.
https://docs.celeryq.dev/en/stable/userguide/tasks.html#retrying
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Retry
from sqlalchemy import Engine, select

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import TaskRecord
from agihub_worker import leases

log = logging.getLogger(__name__)

DEAD_LETTER = "DEAD_LETTER"
MAX_REDELIVERIES = 3


class TransientTaskError(Exception):
    """A failure worth retrying (a relay timed out, a node answered 5xx)."""


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
    """Base class of every agihub task: leases, counted deliveries, dead letters, bounded retries."""

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

    def lease_s(self) -> float:
        from agihub_worker.app import settings

        return settings.lease_s

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if task_id is None:  # called directly, not through a worker
            return super().__call__(*args, **kwargs)
        engine, lease_s = self.engine(), self.lease_s()
        claim = leases.claim(engine, task_id, self.name, {"args": list(args), "kwargs": kwargs}, lease_s)
        if claim.action == leases.DONE:
            log.info("task %s %s already succeeded; this delivery is a duplicate", self.name, task_id)
            return claim.result
        if claim.action == leases.HELD:
            log.info(
                "task %s %s is running in another live process; dropping this delivery", self.name, task_id
            )
            return None
        redeliveries = claim.attempts - 1 - (self.request.retries or 0)
        if redeliveries > self.max_redeliveries:
            reason = f"delivered {claim.attempts} times ({redeliveries} redeliveries without finishing)"
            leases.release(engine, task_id, DEAD_LETTER, error=reason)
            log.error("ALERT dead-letter: task %s %s %s", self.name, task_id, reason)
            return None
        return self._run(engine, task_id, lease_s, args, kwargs)

    def _run(
        self, engine: Engine, task_id: str, lease_s: float, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            with leases.kept(engine, task_id, lease_s):
                result = super().__call__(*args, **kwargs)
        except (Retry, TransientTaskError) as exc:  # autoretry turns TransientTaskError into Retry
            # The retry message carries a countdown of up to retry_backoff_max: keep the lease past it.
            leases.release(engine, task_id, "RETRY", error=str(exc), hold_s=self.retry_backoff_max + lease_s)
            raise
        except Exception as exc:
            leases.release(engine, task_id, "FAILURE", error=f"{type(exc).__name__}: {exc}")
            raise
        leases.release(engine, task_id, "SUCCESS", result=result if isinstance(result, dict) else None)
        return result
