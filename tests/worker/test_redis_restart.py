"""Redis restarted under load (a server that keeps nothing on disk): no accepted task is lost.

The test runs its own redis-server on a free port, so restarting it disturbs no one else. Tasks are
accepted into the outbox (``task_records``) before they are sent; the restart empties every queue,
and the workers' reclaim loop sends again whatever was not finished.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from agihub_services.dev.ports import free_port
from agihub_services.queue import make_producer, submit
from agihub_worker import catalog
from tests.sdk.transfer.transfer_kit import RunningRelay, relay_fleet

from .conftest import StartWorker, engine_for, wait_for_tasks
from .transfer_fixtures import package_dir, relay_spec


class PrivateRedis:
    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen([*argv, "--dir", str(self.folder)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (CI machines have it)")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process and server.process.poll() is None:
            server.kill()


@pytest.fixture
def broker_url(private_redis: PrivateRedis) -> str:
    return f"redis://127.0.0.1:{private_redis.port}/0"


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    with relay_fleet(tmp_path_factory.mktemp("fleet"), 6) as relays:
        yield relays


def test_redis_restart_under_load_loses_no_accepted_task(
    start_worker: StartWorker, private_redis: PrivateRedis, fleet: list[RunningRelay], tmp_path: Path
) -> None:
    worker = start_worker("w", lease_s="3", reclaim_interval_s="0.5", relay_timeout_s="5")
    engine, producer = engine_for(worker), make_producer(worker.settings)
    spec = relay_spec([r.http_url for r in fleet])
    try:
        tasks = []
        for i in range(8):
            _, package, root = package_dir(tmp_path, seed=300 + i)
            catalog.register_package(engine, package)
            tasks.append(
                submit(
                    engine,
                    producer,
                    "agihub.transfer.publish",
                    {"model_root": root, "relays": spec},
                    grace_s=3,
                )
            )
        private_redis.kill()  # every queued message is gone with it
        private_redis.start()
        records = wait_for_tasks(engine, tasks, timeout=240)
        assert [r.state for r in records.values()] == ["SUCCESS"] * len(tasks)
        resent = [r for r in records.values() if (r.payload or {}).get("resent")]
        assert resent, "the restart lost queued messages, and the outbox brought them back"
    finally:
        producer.close()
        engine.dispose()
