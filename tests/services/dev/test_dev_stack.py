"""``agihub dev`` end to end: real chain node, workers and API processes; clean stop; clear refusals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agihub_services.dev.ports import free_port, free_port_pair

EVM_DIR = Path(__file__).resolve().parents[3] / "contracts" / "evm"
needs_node = pytest.mark.skipif(
    not (EVM_DIR / "node_modules" / "hardhat").is_dir(), reason="hardhat not installed: run `make install`"
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
    env.update(
        AGIHUB_DATA_DIR=str(tmp_path / "data"),
        AGIHUB_DEV_CHAIN_PORT=str(free_port()),
        AGIHUB_DEV_API_PORT=str(free_port()),
        AGIHUB_DEV_RELAY_BASE_PORT=str(free_port_pair()),
        **extra,
    )
    return env


def _agihub(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agihub.cli.main", *args],
        env=env,
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


class Stack:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.out = tmp_path / "dev.out"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agihub.cli.main", "dev"],
            env=env,
            cwd=tmp_path,
            stdout=self.out.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.out.read_text()
            if "ready:" in text:
                return
            if self.process.poll() is not None:
                pytest.fail(f"agihub dev exited early:\n{text}")
            time.sleep(0.5)
        pytest.fail(f"agihub dev not ready in {timeout}s:\n{self.out.read_text()}")

    def state(self) -> dict:
        return json.loads((self.tmp_path / "data" / "dev" / "state.json").read_text())

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[type[Stack]]:
    started: list[Stack] = []

    def make(env: dict[str, str]) -> Stack:
        stack = Stack(tmp_path, env)
        started.append(stack)
        return stack

    yield make  # type: ignore[misc]
    for stack in started:
        stack.kill()


def _run_and_stop(stack: Stack) -> None:
    stack.wait_ready()
    pids = [c["pid"] for c in stack.state()["components"].values()]
    status = _agihub("dev", "status", "--json", env=stack.env, cwd=stack.tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    components = {c["name"]: c for c in json.loads(status.stdout)}
    assert set(components) == {
        "supervisor",
        "database",
        "chain",
        "worker-1",
        "relay-1",
        "relay-2",
        "discovery",
        "indexer",
        "api",
    }
    assert all(c["healthy"] for c in components.values())
    assert json.loads(components["chain"]["detail"])["chain_id"] == 31337

    stack.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert stack.process.wait(timeout=60) == 0
    time.sleep(0.5)
    assert [p for p in pids if _alive(p)] == [], "orphan processes left behind"
    assert not (stack.tmp_path / "data" / "dev" / "state.json").exists()
    after = _agihub("dev", "status", env=stack.env, cwd=stack.tmp_path)
    assert after.returncode == 1 and "not running" in after.stdout


@needs_node
def test_embedded_stack_starts_reports_health_and_stops_cleanly(tmp_path: Path, stack_factory) -> None:
    _run_and_stop(stack_factory(_env(tmp_path)))


@needs_node
def test_same_command_runs_on_postgres_and_redis(
    tmp_path: Path, stack_factory, postgres_url: str, redis_url: str
) -> None:
    stack = stack_factory(_env(tmp_path, AGIHUB_DATABASE_URL=postgres_url, AGIHUB_BROKER_URL=redis_url))
    _run_and_stop(stack)
    assert "postgresql" in stack.out.read_text()


def _refused(tmp_path: Path, env: dict[str, str]) -> str:
    result = _agihub("dev", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert not (tmp_path / "data" / "dev" / "state.json").exists()
    assert not (tmp_path / "data" / "logs").exists(), "a component was started before the refusal"
    return lines[0]


@needs_node
def test_port_in_use_names_the_setting(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["AGIHUB_DEV_API_PORT"])))
        busy.listen()
        line = _refused(tmp_path, env)
    assert "AGIHUB_DEV_API_PORT" in line and "in use" in line


@needs_node
def test_unreachable_database_names_the_setting(tmp_path: Path) -> None:
    line = _refused(tmp_path, _env(tmp_path, AGIHUB_DATABASE_URL=f"postgresql://127.0.0.1:{free_port()}/x"))
    assert "AGIHUB_DATABASE_URL" in line and "cannot reach database" in line


@needs_node
def test_unreachable_broker_names_the_setting(tmp_path: Path) -> None:
    line = _refused(tmp_path, _env(tmp_path, AGIHUB_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"))
    assert "AGIHUB_BROKER_URL" in line and "cannot reach broker" in line


def test_malformed_env_file_names_the_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AGIHUB_DEV_API_PORT=8001\nthis is not a setting\n")
    line = _refused(tmp_path, _env(tmp_path))
    assert "malformed line 2" in line and ".env" in line


def test_production_flag_refuses_the_dev_stack(tmp_path: Path) -> None:
    line = _refused(tmp_path, _env(tmp_path, AGIHUB_PRODUCTION="1"))
    assert "AGIHUB_PRODUCTION" in line
