"""Retries, redelivery accounting and dead letters, through real worker processes on both brokers."""

from __future__ import annotations

import time
from pathlib import Path

from agihub_services.db.engine import make_engine
from agihub_services.queue import make_producer, ping_worker
from agihub_worker.reliability import MAX_REDELIVERIES, dead_letters

from .conftest import WorkerProcess


def _wait_for_dead_letter(url: str, task_id: str, timeout: float = 120) -> int:
    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = [r for r in dead_letters(engine) if r.task_id == task_id]
            if found:
                return found[0].attempts
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise AssertionError(f"task {task_id} was never dead-lettered")


def test_poison_task_is_dead_lettered_and_the_queue_drains(worker_process: WorkerProcess) -> None:
    settings = worker_process.settings
    producer = make_producer(settings)
    try:
        poisoned = producer.send_task("agihub.test.poison")
        attempts = _wait_for_dead_letter(settings.effective_database_url, poisoned.id)
    finally:
        producer.close()
    # The first delivery plus MAX_REDELIVERIES more ran (and killed their process); the next was refused.
    assert attempts == MAX_REDELIVERIES + 2
    assert worker_process.process.poll() is None, "the worker itself must survive its pool processes dying"
    assert ping_worker(settings, timeout=60)["database"] in {"sqlite", "postgresql"}
    assert b"ALERT dead-letter" in worker_process.log.read_bytes()


def test_transient_failures_are_retried_then_succeed(worker_process: WorkerProcess, tmp_path: Path) -> None:
    settings = worker_process.settings
    producer = make_producer(settings)
    try:
        result = producer.send_task("agihub.test.flaky", args=[str(tmp_path / "marker"), 2])
        assert result.get(timeout=60) == {"attempts": 3}
    finally:
        producer.close()
    engine = make_engine(settings.effective_database_url)
    try:
        assert [r.task_id for r in dead_letters(engine)] == []
        from agihub_services.db.engine import session_scope
        from agihub_services.db.schema import TaskRecord

        with session_scope(engine) as session:
            record = session.get(TaskRecord, result.id)
            assert record is not None and record.state == "SUCCESS" and record.attempts == 3
    finally:
        engine.dispose()
