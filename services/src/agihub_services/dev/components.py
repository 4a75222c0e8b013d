"""The processes of the dev stack: how each starts and how its health is probed."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from agihub_services.dev.settings import DevSettings


@dataclass(frozen=True)
class Component:
    """One supervised process."""

    name: str
    argv: list[str]
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


def stack_env(settings: DevSettings) -> dict[str, str]:
    """Environment every child gets: the resolved shared settings, so all agree on one database and broker."""
    env = dict(os.environ)
    env.update(
        {
            "AGIHUB_DATA_DIR": str(settings.data_dir),
            "AGIHUB_DATABASE_URL": settings.effective_database_url,
            "AGIHUB_BROKER_URL": settings.effective_broker_url,
            "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def components(settings: DevSettings) -> list[Component]:
    """Chain node, workers and API, in start order."""
    node = shutil.which("node") or "node"
    hardhat = settings.evm_node_dir / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
    chain = Component(
        "chain",
        [
            node,
            str(hardhat),
            "--config",
            str(settings.evm_node_dir / "hardhat.config.cjs"),
            "node",
            "--hostname",
            settings.host,
            "--port",
            str(settings.chain_port),
        ],
        url=f"http://{settings.host}:{settings.chain_port}",
        cwd=str(settings.evm_node_dir),  # hardhat refuses to run outside its own project folder
    )
    cli = [sys.executable, "-m", "agihub.cli.main"]
    workers = [
        Component(
            f"worker-{i}",
            [
                *cli,
                "worker",
                "run",
                "--concurrency",
                str(settings.worker_concurrency),
                "--hostname",
                f"dev{i}@%h",
            ],
        )
        for i in range(1, settings.workers + 1)
    ]
    api = Component(
        "api",
        [*cli, "api", "run", "--host", settings.host, "--port", str(settings.api_port)],
        url=f"http://{settings.host}:{settings.api_port}",
    )
    return [chain, *workers, api]


def probe_chain(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """``eth_chainId`` and ``eth_blockNumber`` over JSON-RPC; raises OSError when unreachable."""
    chain_id = _rpc(url, "eth_chainId", timeout)
    block = _rpc(url, "eth_blockNumber", timeout)
    return {"chain_id": int(chain_id, 16), "block": int(block, 16)}


def _rpc(url: str, method: str, timeout: float) -> str:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.load(resp)
    if "error" in reply:
        raise OSError(f"{method}: {reply['error']}")
    return reply["result"]


def probe_api(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """``GET /health``; returns its body, raises OSError when unreachable or unhealthy."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        raise OSError(f"/health answered {exc.code}: {exc.read()[:200]!r}") from None
