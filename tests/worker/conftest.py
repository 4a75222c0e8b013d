"""Real Celery worker processes for tests: started on the given broker and database, stopped after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agihub_services.config import CommonSettings
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine, session_scope
from agihub_services.db.schema import TaskRecord

REPO = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    settings: CommonSettings
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children (a machine losing power)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(database_url: str, broker_url: str, tmp_path: Path) -> Iterator[StartWorker]:
    """``start_worker(name, concurrency=1, **AGIHUB_WORKER_env)``; every worker is stopped afterwards."""
    data_dir = tmp_path / "data"
    migrate.upgrade(database_url)
    started: list[WorkerProcess] = []

    def start(name: str = "w1", concurrency: int = 1, **worker_env: str) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
        env.update(
            AGIHUB_DATA_DIR=str(data_dir),
            AGIHUB_DATABASE_URL=database_url,
            AGIHUB_BROKER_URL=broker_url,
            AGIHUB_WORKER_EXTRA_TASK_MODULES='["tests.worker.poison_tasks"]',
            PYTHONPATH=str(REPO),
        )
        env.update({f"AGIHUB_WORKER_{k.upper()}": str(v) for k, v in worker_env.items()})
        log = tmp_path / f"worker-{name}.log"
        argv = [sys.executable, "-m", "agihub.cli.main", "worker", "run", "--concurrency", str(concurrency)]
        argv += ["--hostname", f"{name}@%h"]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        settings = CommonSettings(
            AGIHUB_DATA_DIR=data_dir,
            AGIHUB_DATABASE_URL=database_url,  # type: ignore[call-arg]
            AGIHUB_BROKER_URL=broker_url,
        )
        worker = WorkerProcess(process, settings, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def worker_process(start_worker: StartWorker) -> WorkerProcess:
    return start_worker()


def wait_for_tasks(engine: Engine, task_ids: list[str], timeout: float = 180) -> dict[str, TaskRecord]:
    """Poll ``task_records`` until every task is finished (SUCCESS, FAILURE or DEAD_LETTER)."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine) as session:
            rows = {t: session.get(TaskRecord, t) for t in task_ids}
            for row in rows.values():
                if row is not None:
                    session.expunge(row)
        if all(r is not None and r.state in ("SUCCESS", "FAILURE", "DEAD_LETTER") for r in rows.values()):
            return rows  # type: ignore[return-value]
        if time.monotonic() > deadline:
            states = {t[:8]: (r.state if r else None) for t, r in rows.items()}
            raise AssertionError(f"tasks did not finish in {timeout:g} s: {states}")
        time.sleep(0.3)


def engine_for(worker: WorkerProcess) -> Engine:
    return make_engine(worker.settings.effective_database_url)
