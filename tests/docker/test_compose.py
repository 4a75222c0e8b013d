"""docker/compose.yaml: structure always; `docker compose config` where the compose plugin exists.

No Docker engine runs on the project's machines, so the images are never built or started here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"
ENV = {
    "POSTGRES_PASSWORD": "x",
    "AGIHUB_API_CORS_ORIGINS": '["https://a.example"]',
    "AGIHUB_WORKER_CHAIN_KEY": "0x" + "22" * 32,
    "AGIHUB_RELAY_NOSTR_KEY": "33" * 32,
    "AGIHUB_RELAY_PUBLIC_URL": "wss://relay.example",
    "PATH": "/usr/bin:/bin",
}


def test_compose_declares_the_stack() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"postgres", "redis", "evm-node", "migrate", "api", "worker", "indexer", "relay"} <= set(services)
    # The worker must be scalable with --scale worker=N: no fixed name, no published port.
    for scalable in ("worker", "relay"):
        assert "container_name" not in services[scalable] and "ports" not in services[scalable]
    for name in ("api", "worker", "indexer"):
        env = {**spec["x-python"]["environment"], **services[name].get("environment", {})}
        assert env["AGIHUB_PRODUCTION"] == "1", f"{name} must run with the production guard"
        assert env["AGIHUB_BROKER_URL"].startswith("redis://")


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="`docker compose` is not available on this machine")
def test_docker_compose_config_validates() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
