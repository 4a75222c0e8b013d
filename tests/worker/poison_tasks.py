"""Tasks that exist only for the worker's fault tests (loaded via AGIHUB_WORKER_EXTRA_TASK_MODULES)."""

from __future__ import annotations

import os
from pathlib import Path

from agihub_worker.app import app
from agihub_worker.reliability import TransientTaskError


@app.task(name="agihub.test.poison")
def poison() -> None:
    """Kill the pool process running it, every time: the message comes back until it is dead-lettered."""
    os._exit(1)


@app.task(name="agihub.test.flaky", retry_backoff=False, retry_jitter=False, default_retry_delay=0)
def flaky(marker: str, failures: int) -> dict[str, int]:
    """Fail with a transient error ``failures`` times (counted in a file), then succeed."""
    path = Path(marker)
    seen = int(path.read_text()) if path.exists() else 0
    path.write_text(str(seen + 1))
    if seen < failures:
        raise TransientTaskError(f"transient failure {seen + 1}")
    return {"attempts": seen + 1}
