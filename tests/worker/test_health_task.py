"""The health task through a real worker process, on both brokers and both databases."""

from __future__ import annotations

import signal

from sqlalchemy import select

from agihub_services.db.engine import make_engine, session_scope
from agihub_services.db.schema import ServiceHeartbeat
from agihub_services.queue import ping_worker

from .conftest import WorkerProcess


def test_ping_round_trips_through_broker_worker_and_database(worker_process: WorkerProcess) -> None:
    reply = ping_worker(worker_process.settings, timeout=60)
    assert reply["database"] in {"sqlite", "postgresql"}
    engine = make_engine(worker_process.settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            rows = session.scalars(select(ServiceHeartbeat)).all()
        assert [(r.component, r.instance) for r in rows] == [("worker", reply["instance"])]
    finally:
        engine.dispose()


def test_sigterm_is_a_clean_warm_shutdown(worker_process: WorkerProcess) -> None:
    ping_worker(worker_process.settings, timeout=60)  # fully started
    worker_process.process.send_signal(signal.SIGTERM)
    assert worker_process.process.wait(timeout=30) == 0
    assert b"Warm shutdown" in worker_process.log.read_bytes()
