"""Workers dying mid-transfer (SIGKILL), stopping gracefully (SIGTERM): every task completes, once.

Each task publishes a package to six real relays plus one that hangs (listed first, so placement
tries it): the task spends seconds inside an upload, and that is where the worker is killed.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import ShardPlacement, TaskRecord
from agihub_services.queue import make_producer, submit
from agihub_worker import catalog
from tests.sdk.transfer.transfer_kit import RunningRelay, relay_fleet

from .conftest import StartWorker, engine_for, wait_for_tasks
from .transfer_fixtures import package_dir, relay_spec, stalling_relay

FAST_RECOVERY = {"relay_timeout_s": "2", "lease_s": "3", "reclaim_interval_s": "0.5"}


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """Crash tests run on PostgreSQL, the production database (SQLite runs the lifecycle tests);
    both brokers still apply."""
    return postgres_url


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    with relay_fleet(tmp_path_factory.mktemp("fleet"), 6) as relays:
        yield relays


@pytest.fixture(scope="module")
def staller() -> Iterator[str]:
    with stalling_relay() as url:
        yield url


def _wait_started(engine: Engine, task_id: str, timeout: float = 90) -> TaskRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as session:
            row = session.get(TaskRecord, task_id)
            if row is not None and row.state == "STARTED" and row.owner:
                session.expunge(row)
                return row
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never started")


def _assert_placed_once(engine: Engine, root: str, staller: str) -> None:
    with session_scope(engine) as session:
        rows = session.execute(
            select(ShardPlacement.shard_index, ShardPlacement.relay_url).where(
                ShardPlacement.model_root == root
            )
        ).all()
    assert sorted(i for i, _ in rows) == list(range(6)), "each shard placed exactly once"
    assert all(url != staller for _, url in rows)


def test_sigkill_mid_transfer_every_task_completes_exactly_once(
    start_worker: StartWorker,
    fleet: list[RunningRelay],
    staller: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    kills = 100 if request.config.getoption("--full") else 2
    spec = relay_spec([staller] + [r.http_url for r in fleet])
    first = start_worker("victim-0", **FAST_RECOVERY)
    engine, producer = engine_for(first), make_producer(first.settings)
    tasks: dict[str, str] = {}
    try:
        victim = first
        for i in range(kills):
            victim = victim if i == 0 else start_worker(f"victim-{i}", **FAST_RECOVERY)
            _, package, root = package_dir(tmp_path, seed=100 + i)
            catalog.register_package(engine, package)
            task = submit(
                engine, producer, "agihub.transfer.publish", {"model_root": root, "relays": spec}, grace_s=3
            )
            _wait_started(engine, task)
            victim.kill()
            tasks[task] = root
        start_worker("survivor", concurrency=2, **FAST_RECOVERY)
        records = wait_for_tasks(engine, list(tasks), timeout=120 + 10 * kills)
        for task, root in tasks.items():
            assert records[task].state == "SUCCESS", records[task].error
            assert records[task].attempts >= 2, "the killed delivery and the one that finished"
            _assert_placed_once(engine, root, staller)
    finally:
        producer.close()
        engine.dispose()


def test_graceful_shutdown_finishes_the_running_task_and_runs_nothing_twice(
    start_worker: StartWorker, fleet: list[RunningRelay], staller: str, tmp_path: Path
) -> None:
    spec = relay_spec([staller] + [r.http_url for r in fleet])
    victim = start_worker("victim", **FAST_RECOVERY)
    engine, producer = engine_for(victim), make_producer(victim.settings)
    try:
        tasks = {}
        for i in range(3):
            _, package, root = package_dir(tmp_path, seed=200 + i)
            catalog.register_package(engine, package)
            tasks[
                submit(
                    engine,
                    producer,
                    "agihub.transfer.publish",
                    {"model_root": root, "relays": spec},
                    grace_s=3,
                )
            ] = root
        running = next(iter(tasks))
        _wait_started(engine, running)
        victim.process.send_signal(signal.SIGTERM)
        assert victim.process.wait(timeout=90) == 0
        with session_scope(engine) as session:
            states = dict(
                session.execute(
                    select(TaskRecord.task_id, TaskRecord.state).where(TaskRecord.task_id.in_(tasks))
                ).all()
            )
        assert states[running] == "SUCCESS", "warm shutdown lets the running task finish"
        start_worker("survivor", **FAST_RECOVERY)
        records = wait_for_tasks(engine, list(tasks), timeout=180)
        for task, root in tasks.items():
            assert records[task].state == "SUCCESS", records[task].error
            assert records[task].attempts == 1, "no task body ran twice"
            _assert_placed_once(engine, root, staller)
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(ShardPlacement)) == 18
    finally:
        producer.close()
        engine.dispose()
