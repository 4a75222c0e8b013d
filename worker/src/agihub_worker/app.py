"""The Celery application.

Start a worker with ``agihub worker run`` (or ``celery -A agihub_worker.app worker``).
"""

from __future__ import annotations

import logging
import threading
from functools import cache

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown
from sqlalchemy import Engine

from agihub_services.config import load_settings
from agihub_services.db.engine import make_engine
from agihub_services.queue import celery_config
from agihub_worker.settings import WorkerSettings


def make_app(settings: WorkerSettings) -> Celery:
    """A worker app configured exactly like the producers (see ``agihub_services.queue``)."""
    modules = ["agihub_worker.tasks", *settings.extra_task_modules]
    celery = Celery("agihub", include=modules, task_cls="agihub_worker.reliability:ReliableTask")
    celery.conf.update(celery_config(settings))
    celery.conf.worker_concurrency = settings.concurrency
    return celery


settings = load_settings(WorkerSettings)
app = make_app(settings)


@cache
def engine() -> Engine:
    """One engine per worker process (created after fork, see below)."""
    return make_engine(settings.effective_database_url)


@worker_process_init.connect
def _reset_engine(**_: object) -> None:
    # Connections must never be shared across a fork: drop anything inherited from the parent.
    engine.cache_clear()


log = logging.getLogger(__name__)
_stop_reclaim = threading.Event()


@worker_ready.connect
def _start_reclaimer(**_: object) -> None:
    """Each worker node looks for tasks whose lease ran out (see :mod:`agihub_worker.leases`)."""
    from agihub_worker.leases import reclaim

    def loop() -> None:
        while not _stop_reclaim.wait(settings.reclaim_interval_s):
            try:
                reclaim(engine(), app, settings.lease_s)
            except Exception:  # the database may be briefly away; try again next round
                log.exception("reclaiming expired task leases failed")

    threading.Thread(target=loop, name="agihub-reclaimer", daemon=True).start()


@worker_shutdown.connect
def _stop_reclaimer(**_: object) -> None:
    _stop_reclaim.set()
