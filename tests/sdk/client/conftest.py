"""A real stack for the client tests: a py-evm chain running the compiled market, two relay nodes
served by uvicorn, and relay 0's order agent (the services code a relay operator runs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agihub import Client
from agihub.storage import SignedManifest
from agihub_services.relay.agent import OrderAgent
from agihub_services.relay.delivery import deliveries_root
from tests.sdk.transfer.transfer_kit import relay_fleet, write_model
from tests.services.relay.conftest import RunningRelay
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
    with relay_fleet(tmp_path_factory.mktemp("relays"), 2) as relays:
        yield relays


@pytest.fixture
def stack(fleet: list[RunningRelay], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    for name in ("AGIHUB_RPC_URL", "AGIHUB_MARKET", "AGIHUB_ACCOUNT_KEY", "AGIHUB_RELAYS", "AGIHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return Stack(make_market(), fleet, tmp_path)


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
