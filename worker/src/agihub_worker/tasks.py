"""Registered tasks. Thin wrappers: adapt arguments, call the plain module, return JSON-able data.

Task names are pinned by ``tests/worker/test_task_registration.py``.
"""

from __future__ import annotations

from typing import Any

from agihub_worker import health
from agihub_worker.app import app, engine


@app.task(name="agihub.health.ping", acks_late=True)
def ping(origin: str = "unknown") -> dict[str, Any]:
    """Prove the broker → worker → database path works; records a heartbeat."""
    return health.ping(engine(), origin)
