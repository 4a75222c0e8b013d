"""Shared pieces of the order-agent tests (no tests here): a py-evm market, a relay node, a tiny model."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from eth_account import Account
from safetensors.numpy import save_file
from web3 import EthereumTesterProvider, Web3

from agihub.chain.evm import EvmChain
from agihub.chain.evm_deploy import compile_market, deploy_market
from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, SignedManifest, pack_model
from agihub.storage.package import shard_name
from agihub_services.relay.blobs import BlobStore

FUNDING = 10**21
GWEI = 10**9
DOWN, COST, TIP = 2_000_000 * GWEI, 10_000_000 * GWEI, 1_000_000 * GWEI
WINDOW = 600


@dataclass
class Market:
    w3: Web3
    admin: EvmChain
    buyer: EvmChain
    relay: EvmChain
    other: EvmChain

    def travel(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block at the new time."""
        tester = self.w3.provider.ethereum_tester  # type: ignore[attr-defined]
        tester.time_travel(self.w3.eth.get_block("latest")["timestamp"] + seconds + 1)
        tester.mine_blocks(1)  # so "latest" (what the agent reads as now) carries the new time

    def pull(self, model_root: bytes, relays: list[str] | None = None) -> int:
        relays = relays or [self.relay.address]
        receipt = self.buyer.pull(model_root, relays, DOWN, COST, TIP, WINDOW, WINDOW, WINDOW)
        assert receipt.result is not None
        return receipt.result

    def events(self, name: str, order_id: int) -> list:
        return list(
            getattr(self.admin.contract.events, name)().get_logs(
                from_block=0, argument_filters={"order_id": order_id}
            )
        )


def make_market() -> Market:
    """A freshly deployed market on an in-process py-evm chain with funded accounts."""
    w3 = Web3(EthereumTesterProvider())
    accounts = [Account.create() for _ in range(4)]
    for acct in accounts:
        tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": acct.address, "value": FUNDING})
        w3.eth.wait_for_transaction_receipt(tx)
    compiled = compile_market()
    address = deploy_market(w3, accounts[0], 3600, compiled)
    admin = EvmChain(w3, address, compiled.abi, accounts[0])
    market = Market(w3, admin, *(admin.with_account(a) for a in accounts[1:]))
    market.other.register_relay(b"\x09" * 32, "ws://other.example")
    return market


def pack_tiny_model(folder: Path, seed: int = 0) -> SignedManifest:
    """A small real safetensors model packed k=2 of n=4 into ``folder``."""
    rng = np.random.default_rng(seed)
    src = folder / "model.safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"w": rng.standard_normal((64, 48)).astype(np.float32)}, str(src))
    options = PackOptions(k=2, n=4, chunk_size=4096, block_size=1024)
    return pack_model(src, folder / "pkg", SecretKey.generate(), Card(name=f"tiny-{seed}"), options=options)


def put_blob(blobs: BlobStore, path: Path, owner: str = "ab" * 32) -> str:
    """Store ``path`` in the relay's blob store as an upload would; returns its sha256."""
    import hashlib

    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    temp = blobs.tmp / f"test-{digest}"
    shutil.copyfile(path, temp)
    blobs.commit(temp, digest, len(data), "application/octet-stream", owner)
    return digest


def host_model(blobs: BlobStore, folder: Path, indices: tuple[int, ...]) -> None:
    """Upload the package's manifest and the shards ``indices`` (what a publisher does)."""
    put_blob(blobs, folder / "pkg" / "manifest.json")
    for index in indices:
        put_blob(blobs, folder / "pkg" / shard_name(index))


class Crash(Exception):
    """Stands for the agent process dying at a chosen point."""


def crash_after(fn: Callable) -> Callable:
    """Wrap a chain method: the transaction is sent and mined, then the 'process dies'."""

    def wrapper(*args, **kwargs):
        fn(*args, **kwargs)
        raise Crash(fn.__name__)

    return wrapper


def crash_before(fn: Callable) -> Callable:
    """Wrap a chain method: the process dies before the transaction leaves."""

    def wrapper(*args, **kwargs):
        raise Crash(fn.__name__)

    return wrapper
