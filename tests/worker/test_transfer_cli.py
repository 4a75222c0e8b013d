"""`agihub publish|download|audit|task status` as a user runs them, and the API's task/placement views."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agihub_services.api.app import create_app
from agihub_services.api.settings import ApiSettings
from tests.sdk.transfer.transfer_kit import RunningRelay, relay_fleet

from .conftest import REPO, StartWorker, WorkerProcess
from .transfer_fixtures import package_dir


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def broker_url() -> str:
    return "filesystem://"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    with relay_fleet(tmp_path_factory.mktemp("fleet"), 3) as relays:
        yield relays


def agihub(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
    env.update(
        AGIHUB_DATA_DIR=str(worker.settings.data_dir),
        AGIHUB_DATABASE_URL=worker.settings.effective_database_url,
        AGIHUB_BROKER_URL=worker.settings.effective_broker_url,
        PYTHONPATH=str(REPO),
    )
    argv = [sys.executable, "-m", "agihub.cli.main", *args]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=300, cwd=worker.settings.data_dir.parent
    )


def test_cli_publish_download_audit_and_status(
    start_worker: StartWorker, fleet: list[RunningRelay], tmp_path: Path
) -> None:
    worker = start_worker("w1")
    model, package, root = package_dir(tmp_path, seed=21)
    relays = [f"--relay={r.http_url}=op-{i}" for i, r in enumerate(fleet)]
    done = agihub(worker, "publish", str(package), *relays, "--json")
    assert done.returncode == 0, done.stderr
    published = json.loads(done.stdout)
    assert published["state"] == "SUCCESS" and published["result"]["happiness"] == 3

    dest = tmp_path / "copy.safetensors"
    done = agihub(worker, "download", root, str(dest), "--json")
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == model.read_bytes()
    fetched = json.loads(done.stdout)
    assert fetched["detail"]["shards_verified"] == 3 and fetched["done"] > 0

    done = agihub(worker, "audit", root, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["result"]["outcomes"]["pass"] == 6

    # Three relays hold two shards each (k=3); each passed two audits, so its availability is
    # (2 + 9) / (2 + 10) under the planner's prior, and k shards arrive iff two relays answer.
    a = 11 / 12
    done = agihub(worker, "plan", root, "--target", "0.95", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["m"] == 3 and plan["probability"] == pytest.approx(3 * a * a * (1 - a) + a**3)
    done = agihub(worker, "plan", root)
    assert done.returncode == 1 and "even all 3 holders reach only" in done.stderr

    done = agihub(worker, "task", "status", published["task_id"], "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["state"] == "SUCCESS"

    api = create_app(ApiSettings(AGIHUB_DATABASE_URL=worker.settings.effective_database_url))  # type: ignore[call-arg]
    with TestClient(api) as client:
        task = client.get(f"/tasks/{fetched['task_id']}")
        assert task.status_code == 200 and task.json()["detail"]["shards_verified"] == 3
        placements = client.get(f"/placements/{root}").json()
        assert placements["healthy_shards"] == 6 and placements["k"] == 3
        assert {p["last_audit"] for p in placements["placements"]} == {"pass"}
        missing = client.get("/tasks/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and missing.json()["error_code"] == "not_found"
        assert client.get("/tasks/not a task").status_code == 422
        assert client.get("/placements/XYZ").status_code == 422


def test_cli_bad_input_is_one_clear_line_and_nothing_is_sent(
    start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = start_worker("w1")
    done = agihub(worker, "publish", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and "has no manifest.json" in done.stderr
    done = agihub(worker, "download", "beef", str(tmp_path / "x"))
    assert done.returncode == 1 and "must be 64 hex characters" in done.stderr
    _, package, _ = package_dir(tmp_path, seed=22)
    done = agihub(worker, "publish", str(package), "--relay=ftp://relay")
    assert done.returncode == 1 and "--relay 'ftp://relay'" in done.stderr
    done = agihub(worker, "task", "status", "no-such-task")
    assert done.returncode == 1 and "no task no-such-task" in done.stderr
