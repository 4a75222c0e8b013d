"""A real stack for the client tests: a py-evm chain running the compiled market, two relay nodes
served by uvicorn, and relay 0's order agent (the services code a relay operator runs); with the
``api`` fixture, the marketplace API over SQLite, fed the relays' signed offers by the discovery
code (``agihub discovery run --once``'s :func:`sync_once`)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from agihub import Client
from agihub.identity import SecretKey
from agihub.storage import SignedManifest
from agihub_services.dev.ports import free_port
from agihub_services.relay.agent import OrderAgent
from agihub_services.relay.delivery import deliveries_root
from tests.sdk.transfer.transfer_kit import write_model
from tests.services.relay.conftest import RunningRelay, make_settings
from tests.services.relay.test_agent_kit import Market, make_market

GWEI = 10**9


@dataclass
class Stack:
    market: Market
    relays: list[RunningRelay]
    base: Path

    @property
    def relay_urls(self) -> list[str]:
        return [r.ws_url for r in self.relays]

    def client(self, who: str = "buyer", **kwargs: object) -> Client:
        """A Client signing as ``who`` (admin, buyer, relay, other) with the two relays configured."""
        options: dict[str, object] = {"relays": self.relay_urls, "workdir": self.base / f"work-{who}"}
        options.update(kwargs)
        return Client(chain=getattr(self.market, who), **options)  # type: ignore[arg-type]

    def agent(self) -> OrderAgent:
        """Relay 0's order agent, acting for the ``relay`` account."""
        relay = self.relays[0]
        blobs = relay.server.config.app.state.blobs
        return OrderAgent(self.market.relay, blobs, deliveries_root(relay.settings))

    def model(self, name: str = "tiny", seed: int = 0) -> Path:
        return write_model(self.base / f"{name}.safetensors", seed, rows=64)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    """Two relays, each with its own Nostr key (so each signs its own offer, as in production)."""
    base = tmp_path_factory.mktemp("relays")
    with ExitStack() as running:
        relays = []
        for i in range(2):
            port = free_port()
            settings = make_settings(
                base / f"relay-{i}", public_url=f"ws://127.0.0.1:{port}", max_blob_bytes=64 << 20,
                quota_bytes=1 << 30, nostr_key=SecretKey.generate().raw.hex(),
            )  # fmt: skip
            relays.append(running.enter_context(RunningRelay(settings, port)))
        yield relays


@pytest.fixture
def stack(fleet: list[RunningRelay], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    for name in ("AGIHUB_RPC_URL", "AGIHUB_MARKET", "AGIHUB_ACCOUNT_KEY", "AGIHUB_RELAYS", "AGIHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return Stack(make_market(), fleet, tmp_path)


class ServedApi:
    """The marketplace API app served by uvicorn on a free port over a migrated SQLite database."""

    def __init__(self, base: Path) -> None:
        import uvicorn

        from agihub_services.api.app import create_app
        from agihub_services.api.settings import ApiSettings
        from agihub_services.db import migrate
        from agihub_services.dev.ports import free_port

        self.db_url = f"sqlite:///{base / 'api.db'}"
        migrate.upgrade(self.db_url)
        self.port = free_port()
        app = create_app(ApiSettings(AGIHUB_DATABASE_URL=self.db_url))  # type: ignore[call-arg]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "API did not start"
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def discover(
        self, relays: list[RunningRelay], model_root: bytes | None = None, timeout: float = 20
    ) -> None:
        """Read the relays' stored offers and announcements into the API's database (discovery's own
        code); with ``model_root``, until an offer naming it arrived (relays refresh their offer
        shortly after an upload)."""
        import httpx

        from agihub_services.db.engine import make_engine
        from agihub_services.discovery.follower import sync_once
        from agihub_services.discovery.store import DiscoveryStore

        engine = make_engine(self.db_url)
        deadline = time.monotonic() + timeout
        try:
            store = DiscoveryStore(engine)
            while True:
                for relay in relays:
                    asyncio.run(sync_once(relay.ws_url, store, 10.0))
                if model_root is None:
                    return
                page = httpx.get(
                    f"{self.url}/relays/offers", params={"model": "0x" + model_root.hex()}
                ).json()
                if page["items"]:
                    return
                assert time.monotonic() < deadline, f"no relay offered {model_root.hex()} within {timeout} s"
                time.sleep(0.1)
        finally:
            engine.dispose()

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def api(tmp_path: Path, isolated_env: Path) -> Iterator[ServedApi]:
    served = ServedApi(tmp_path)
    try:
        yield served
    finally:
        served.close()


def manifest_of(package_dir: Path) -> SignedManifest:
    from agihub.storage import load_manifest

    return load_manifest(package_dir / "manifest.json")


def hardhat_market(url: str) -> Market:
    """A fresh market deployed on the hardhat node at ``url``, with funded accounts (like make_market)."""
    from eth_account import Account

    from agihub.chain.evm import EvmChain, connect
    from agihub.chain.evm_deploy import compile_market, deploy_market

    w3 = connect(url)
    accounts = [Account.create() for _ in range(4)]
    for acct in accounts:
        tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": acct.address, "value": 10**20})
        w3.eth.wait_for_transaction_receipt(tx)
    compiled = compile_market()
    start = w3.eth.block_number
    address = deploy_market(w3, accounts[0], 3600, compiled)
    admin = EvmChain(w3, address, compiled.abi, accounts[0], start_block=start)
    market = Market(w3, admin, *(admin.with_account(a) for a in accounts[1:]))
    market.other.register_relay(b"\x09" * 32, "ws://other.example")
    return market


def hardhat_travel(market: Market, seconds: int) -> None:
    market.w3.provider.make_request("evm_increaseTime", [seconds + 1])  # type: ignore[arg-type]
    market.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
