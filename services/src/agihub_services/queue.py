"""The Celery configuration shared by the worker and every producer, and the producer side itself.

Producers (API, dev stack, CLI) enqueue tasks *by name* through :func:`make_producer`; nothing imports
the worker package. The worker builds its app from the same :func:`celery_config`, so both sides always
agree on broker, serialization and queues.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from celery import Celery
from sqlalchemy import Engine

from agihub_services.config import CommonSettings
from agihub_services.db.engine import normalize_url, session_scope
from agihub_services.db.schema import TaskRecord

#: Queues per kind of work; routing is by task-name prefix.
QUEUES = ("health", "transfer", "maintenance", "scoring")
ROUTES = {
    "agihub.health.*": {"queue": "health"},
    "agihub.transfer.*": {"queue": "transfer"},
    "agihub.maintenance.*": {"queue": "maintenance"},
    "agihub.scoring.*": {"queue": "scoring"},
}
#: No task may run longer than this; the broker's visibility timeout is kept well above it so a
#: message is never handed to a second worker while the first is still working on it.
TASK_HARD_LIMIT_S = 3600
VISIBILITY_TIMEOUT_S = 2 * TASK_HARD_LIMIT_S


def result_backend_url(settings: CommonSettings) -> str:
    """Results live in the shared database (Celery's SQLAlchemy backend)."""
    return "db+" + normalize_url(settings.effective_database_url)


def filesystem_folders(settings: CommonSettings) -> dict[str, str]:
    """Folders of kombu's filesystem transport (created on demand)."""
    base = settings.broker_folder
    folders = {
        "data_folder_in": base / "queue",
        "data_folder_out": base / "queue",
        "processed_folder": base / "processed",
        # Exchange bindings; kombu's default is ./control in the working directory.
        "control_folder": base / "control",
    }
    for folder in folders.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in folders.items()}


def celery_config(settings: CommonSettings) -> dict[str, Any]:
    """Every Celery setting that producer and worker must agree on."""
    broker = settings.effective_broker_url
    transport: dict[str, Any] = {"visibility_timeout": VISIBILITY_TIMEOUT_S}
    if broker.startswith("filesystem"):
        # The filesystem transport polls its folder; the 1 s default would dominate short tasks' latency.
        transport.update(filesystem_folders(settings), store_processed=False, polling_interval=0.1)
    return {
        "broker_url": broker,
        "result_backend": result_backend_url(settings),
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_S},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_routes": ROUTES,
        "task_default_queue": "health",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": TASK_HARD_LIMIT_S,
        "task_soft_time_limit": TASK_HARD_LIMIT_S - 60,
        "result_extended": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }


def make_producer(settings: CommonSettings) -> Celery:
    """A Celery app that only sends tasks by name and reads their results."""
    app = Celery("agihub-producer")
    app.conf.update(celery_config(settings))
    return app


#: Seconds a submitted task may wait in the broker before a worker re-sends it (see agihub_worker.leases).
DISPATCH_GRACE_S = 60.0


def submit(
    engine: Engine,
    producer: Celery,
    name: str,
    kwargs: dict[str, Any],
    *,
    grace_s: float = DISPATCH_GRACE_S,
    countdown: float = 0.0,
) -> str:
    """Record the task in ``task_records`` (the outbox), then send it; returns the task id.

    ``countdown`` delays the first run. If the message is lost before any worker claims it (a broker restarted without persistence), a
    worker re-sends it from this record once ``grace_s`` has passed, under the same id.
    """
    task_id = str(uuid4())
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(
            TaskRecord(
                task_id=task_id,
                name=name,
                state="PENDING",
                done=0,
                total=0,
                attempts=0,
                created_at=now,
                payload={"args": [], "kwargs": kwargs},
                lease_until=now + timedelta(seconds=countdown + grace_s),
            )
        )
    producer.send_task(name, kwargs=kwargs, task_id=task_id, countdown=countdown or None)
    return task_id


def ping_worker(settings: CommonSettings, timeout: float = 15.0) -> dict[str, Any]:
    """Round-trip the ``agihub.health.ping`` task through the broker and a worker."""
    app = make_producer(settings)
    try:
        result = app.send_task("agihub.health.ping", kwargs={"origin": "ping_worker"})
        return result.get(timeout=timeout)
    finally:
        app.close()
