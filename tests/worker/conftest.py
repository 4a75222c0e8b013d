"""A real Celery worker process for tests: started on the given broker and database, stopped after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agihub_services.config import CommonSettings
from agihub_services.db import migrate


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    settings: CommonSettings
    log: Path


@pytest.fixture
def worker_process(database_url: str, broker_url: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
    env.update(
        AGIHUB_DATA_DIR=str(data_dir),
        AGIHUB_DATABASE_URL=database_url,
        AGIHUB_BROKER_URL=broker_url,
        AGIHUB_WORKER_EXTRA_TASK_MODULES='["tests.worker.poison_tasks"]',
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    migrate.upgrade(database_url)
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "agihub.cli.main", "worker", "run", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    settings = CommonSettings(
        AGIHUB_DATA_DIR=data_dir,
        AGIHUB_DATABASE_URL=database_url,  # type: ignore[call-arg]
        AGIHUB_BROKER_URL=broker_url,
    )
    try:
        yield WorkerProcess(process, settings, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
