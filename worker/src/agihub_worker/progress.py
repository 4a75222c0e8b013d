"""Progress of a long task in its ``task_records`` row (bytes done of total, and a detail map), read
by the API (``GET /tasks/{id}``) and the CLI (``agihub task status``). Writes are throttled."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, update

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import TaskRecord

Reporter = Callable[..., None]


def reporter(engine: Engine, task_id: str | None, every_s: float = 0.5) -> Reporter:
    """``report(done, total, **detail)``; a no-op when the task runs outside a worker."""
    last = [0.0]

    def report(done: int, total: int, *, force: bool = False, **detail: Any) -> None:
        now = time.monotonic()
        if task_id is None or (not force and now - last[0] < every_s and done < total):
            return
        last[0] = now
        with session_scope(engine) as session:
            session.execute(
                update(TaskRecord)
                .where(TaskRecord.task_id == task_id)
                .values(done=done, total=total, detail=detail)
            )

    return report
