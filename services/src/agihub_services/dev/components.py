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
    relays = [relay_component(settings, i, port) for i, port in enumerate(settings.relay_ports(), start=1)]
    discovery = Component(
        "discovery",
        [*cli, "discovery", "run"],
        env={
            "AGIHUB_DISCOVERY_RELAYS": json.dumps(
                [f"ws://{settings.host}:{p}" for p in settings.relay_ports()]
            )
        },
    )
    indexer = Component(
        "indexer",
        [*cli, "indexer", "run"],
        env={"AGIHUB_INDEXER_RPC_URL": chain.url, "AGIHUB_INDEXER_POLL_INTERVAL_S": "0.5"},
    )
    api = Component(
        "api",
        [*cli, "api", "run", "--host", settings.host, "--port", str(settings.api_port)],
        url=f"http://{settings.host}:{settings.api_port}",
    )
    return [chain, *workers, *relays, discovery, indexer, api]


def relay_component(settings: DevSettings, number: int, port: int) -> Component:
    """One relay with its own data dir (database, blobs) and its own Nostr key, kept across restarts."""
    from agihub.identity import SecretKey

    home = settings.data_dir / "relays" / f"relay-{number}"
    home.mkdir(parents=True, exist_ok=True)
    key_file = home / "nostr.key"
    if not key_file.exists():
        key_file.write_text(SecretKey.generate().raw.hex())
        key_file.chmod(0o600)
    url = f"http://{settings.host}:{port}"
    return Component(
        f"relay-{number}",
        [
            sys.executable,
            "-m",
            "agihub.cli.main",
            "relay",
            "run",
            "--host",
            settings.host,
            "--port",
            str(port),
        ],
        url=url,
        env={
            "AGIHUB_DATA_DIR": str(home),
            "AGIHUB_RELAY_NOSTR_KEY": key_file.read_text().strip(),
            "AGIHUB_RELAY_PUBLIC_URL": f"ws://{settings.host}:{port}",
            "AGIHUB_RELAY_NAME": f"agihub dev relay {number}",
        },
    )


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


def deploy_market(rpc_url: str) -> str:
    """Compile market.vy and deploy it with the dev admin account; returns its address."""
    from eth_account import Account

    from agihub.chain.evm import connect
    from agihub.chain.evm_deploy import deploy_market as deploy
    from agihub_services.dev.accounts import DEV_KEYS

    return deploy(connect(rpc_url), Account.from_key(DEV_KEYS["admin"]), epoch_length=3600)


def probe_discovery(database_url: str) -> dict[str, Any]:
    """Relay offers and model versions discovery has stored (the relays' own offers arrive first)."""
    from sqlalchemy import func, select

    from agihub_services.db.engine import make_engine
    from agihub_services.db.schema import DiscoveredModelVersion, DiscoveredRelayOffer

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            offers = conn.scalar(select(func.count()).select_from(DiscoveredRelayOffer))
            versions = conn.scalar(select(func.count()).select_from(DiscoveredModelVersion))
    finally:
        engine.dispose()
    return {"relay_offers": offers, "model_versions": versions}


def probe_indexer(database_url: str) -> dict[str, Any]:
    """The indexer's cursor: it is healthy once it has followed the chain at least once."""
    from sqlalchemy import select

    from agihub_services.db.engine import make_engine
    from agihub_services.db.schema import IndexerCursor

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(IndexerCursor.chain, IndexerCursor.position, IndexerCursor.head, IndexerCursor.halted)
            ).first()
    finally:
        engine.dispose()
    if row is None:
        raise OSError("no cursor yet")
    if row.halted:
        raise OSError(f"halted: {row.halted}")
    return {"chain": row.chain, "position": row.position, "head": row.head}


def probe_relay(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """The relay's NIP-11 document (asked for with ``Accept: application/nostr+json``)."""
    req = urllib.request.Request(url, headers={"accept": "application/nostr+json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        info = json.load(resp)
    return {"name": info.get("name"), "pubkey": str(info.get("pubkey", ""))[:16]}


def probe_api(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """``GET /health``; returns its body, raises OSError when unreachable or unhealthy."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        raise OSError(f"/health answered {exc.code}: {exc.read()[:200]!r}") from None


def validator_env(settings: DevSettings, market: str) -> dict[str, str]:
    """Workers of the dev stack score contributions as the dev "validator" account."""
    from agihub_services.dev.accounts import DEV_KEYS

    return {
        "AGIHUB_WORKER_MARKET": market,
        "AGIHUB_WORKER_RPC_URL": f"http://{settings.host}:{settings.chain_port}",
        "AGIHUB_WORKER_CHAIN_KEY": DEV_KEYS["validator"],
        "AGIHUB_WORKER_REVEAL_DELAY_S": "1",
    }
