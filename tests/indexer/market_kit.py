"""A real local EVM node (hardhat) with the Vyper market deployed, and scripted market activity.

Used by the indexer tests and the indexer benchmark. Nothing here is mocked: transactions are signed
with hardhat's well-known development keys and mined by the node; reorgs use the node's
``evm_snapshot`` / ``evm_revert`` and then mine a different branch.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from web3 import Web3

from agihub.chain.commitment import key_commit, score_commit
from agihub.chain.evm import EvmChain
from agihub.chain.evm_deploy import compile_market, deploy_market

REPO = Path(__file__).resolve().parents[2]
EVM_DIR = REPO / "contracts" / "evm"
HARDHAT = EVM_DIR / "node_modules" / ".bin" / "hardhat"
MNEMONIC = "test test test test test test test test test test test junk"  # hardhat's public dev mnemonic
EPOCH_LENGTH = 3600
WINDOW = 600

Account.enable_unaudited_hdwallet_features()


def dev_accounts(count: int = 10) -> list[Any]:
    """Hardhat's funded development accounts (public keys, test chains only)."""
    return [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def hardhat_available() -> bool:
    return HARDHAT.exists()


def start_node(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start hardhat on 127.0.0.1:port and wait until it answers (hardhat must run from its folder)."""
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [
                str(HARDHAT),
                "--config",
                "hardhat.config.cjs",
                "node",
                "--hostname",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=EVM_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hardhat exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            httpx.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1
            )
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("hardhat did not answer within 60 s")


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    """One raw JSON-RPC call (for the node's test methods)."""
    answer = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=30
    )
    body = answer.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def word(i: int) -> bytes:
    return i.to_bytes(32, "big")


@dataclass
class Market:
    """A deployed market and signer handles for admin, buyers, relays and validators."""

    url: str
    w3: Web3
    address: str
    admin: EvmChain
    buyer: EvmChain
    relays: list[EvmChain]
    validator: EvmChain
    contributor: EvmChain
    secrets: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    deregistered: set[int] = field(default_factory=set)

    @classmethod
    def deploy(cls, url: str) -> Market:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
        accounts = dev_accounts(8)
        compiled = compile_market()
        address = deploy_market(w3, accounts[0], EPOCH_LENGTH, compiled)
        admin = EvmChain(w3, address, compiled.abi, accounts[0])
        return cls(
            url,
            w3,
            address,
            admin,
            buyer=admin.with_account(accounts[1]),
            relays=[admin.with_account(a) for a in accounts[2:5]],
            validator=admin.with_account(accounts[5]),
            contributor=admin.with_account(accounts[6]),
        )

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def mine(self, blocks: int = 1) -> None:
        rpc(self.url, "hardhat_mine", [hex(blocks)])

    def advance_time(self, seconds: int) -> None:
        rpc(self.url, "evm_increaseTime", [seconds])
        self.mine(1)  # the new time applies from the next block; gas estimation needs it now

    # -- scripted activity ------------------------------------------------------------------------
    def register_relays(self) -> None:
        for i, relay in enumerate(self.relays):
            relay.register_relay(word(100 + i), f"wss://relay{i}.example")

    def pull(self, seed: int) -> int:
        addresses = [r.address for i, r in enumerate(self.relays) if i not in self.deregistered]
        receipt = self.buyer.pull(
            word(seed), addresses, 1000 + seed, 5000 + seed, seed % 7, WINDOW, WINDOW, WINDOW
        )
        assert receipt.result is not None
        return receipt.result

    def take(self, order_id: int, relay_index: int = 0) -> None:
        relay = self.relays[relay_index]
        key, salt = os.urandom(32), os.urandom(32)
        self.secrets[order_id] = (key, salt)
        relay.take_order(order_id, key_commit(key, salt, order_id, relay.address))

    def complete(self, order_id: int, relay_index: int = 0) -> None:
        self.buyer.confirm_received(order_id, word(order_id + 7))
        key, salt = self.secrets[order_id]
        self.relays[relay_index].reveal_key(order_id, key, salt)

    def order_round(self, seed: int) -> None:
        """One order through a seed-chosen path: completed, cancelled, raised, or left open."""
        order_id = self.pull(seed)
        path = seed % 4
        if path == 0:
            self.take(order_id, seed % 2)  # relay 2 deregisters at the end of full_scenario
            self.complete(order_id, seed % 2)
        elif path == 1:
            self.buyer.cancel(order_id)
        elif path == 2:
            self.buyer.raise_payment(order_id, 1, 2, 3)
            self.take(order_id, 1)

    def full_scenario(self) -> None:
        """Every event type of the catalogue at least once."""
        self.register_relays()
        self.relays[2].update_relay(word(999), "wss://moved.example")
        self.admin.set_fee(100)
        self.admin.add_validator(self.validator.address)
        self.admin.set_quorum(1)
        for seed in range(4):
            self.order_round(seed)
        expiring = self.pull(50)
        self.take(expiring, 0)
        self.advance_time(WINDOW + 5)
        self.admin.settle(expiring)  # TAKEN -> EXPIRED: a failed delivery for relay 0
        self._contribution_cycle()
        self.relays[0].withdraw()
        self.relays[2].deregister_relay()
        self.deregistered.add(2)
        self.admin.remove_validator(self.validator.address)
        self.admin.transfer_admin(self.buyer.address)
        self.buyer.accept_admin()

    def _contribution_cycle(self) -> None:
        receipt = self.contributor.register_contribution(word(1), word(0))
        cid = receipt.result
        assert cid is not None
        salt = os.urandom(32)
        self.validator.commit_score(cid, score_commit(42, salt, cid, self.validator.address))
        self.validator.reveal_score(cid, 42, salt)
        self.advance_time(EPOCH_LENGTH + 1)
        self.admin.close_epoch()
        self.contributor.claim_reward(cid)
