"""AptosChain against a real Aptos localnet: publish contracts/move, then run one paid download
(register relay, pull, take, confirm, reveal, withdraw) and a failing call.

Needs the `aptos` CLI on PATH (it starts the localnet with its faucet and publishes the package);
skipped with a visible reason otherwise. Ports: 8080 (REST API), 8081 (faucet).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aptos_sdk.account import Account

from agihub.chain import errors as chain_errors
from agihub.chain.aptos import AptosChain, AptosNode, canonical_address
from agihub.chain.base import OrderState
from agihub.chain.commitment import key_commit, new_secret

pytestmark = pytest.mark.skipif(
    shutil.which("aptos") is None, reason="needs the `aptos` CLI on PATH to run a localnet"
)

REPO = Path(__file__).resolve().parents[3]
NODE_URL = "http://127.0.0.1:8080/v1"
FAUCET_URL = "http://127.0.0.1:8081"


def _wait_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2.0)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


@pytest.fixture(scope="module")
def localnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("aptos-localnet")
    proc = subprocess.Popen(
        ["aptos", "node", "run-localnet", "--with-faucet", "--force-restart", "--assume-yes"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(NODE_URL, 180)
        _wait_ready(FAUCET_URL, 60)
        yield NODE_URL
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _fund(address: str) -> None:
    response = httpx.post(f"{FAUCET_URL}/mint", params={"amount": 10**9, "address": address}, timeout=60)
    response.raise_for_status()
    # The faucet answers once its transaction is submitted; wait until the account exists.
    _wait_ready(f"{NODE_URL}/accounts/{address}", 60)


@pytest.fixture(scope="module")
def publisher(localnet: str) -> Account:
    account = Account.generate()
    address = canonical_address(account.address())
    _fund(address)
    subprocess.run(
        [
            "aptos", "move", "publish",
            "--package-dir", str(REPO / "contracts" / "move"),
            "--named-addresses", f"agihub={address}",
            "--private-key", account.private_key.hex(),
            "--sender-account", address,
            "--url", localnet.removesuffix("/v1"),
            "--assume-yes",
        ],
        check=True,
        timeout=600,
    )  # fmt: skip
    return account


def test_paid_download_on_localnet(localnet: str, publisher: Account) -> None:
    node = AptosNode(localnet)
    market = canonical_address(publisher.address())
    buyer = AptosChain(node, market, Account.generate(), poll_s=0.2)
    relay = buyer.with_account(Account.generate())
    for chain in (buyer, relay):
        _fund(chain.address)

    relay.register_relay(b"\x11" * 32, "wss://relay.local")
    order_id = buyer.pull(b"\x22" * 32, [relay.address], 100, 1000, 0, 600, 600, 600).result
    assert order_id is not None
    key, salt = new_secret(), new_secret()
    relay.take_order(order_id, key_commit(key, salt, order_id, relay.address))
    buyer.confirm_received(order_id, b"\x33" * 32)
    receipt = relay.reveal_key(order_id, key, salt)
    assert receipt.event("KeyRevealed")["key"] == key
    assert buyer.get_order(order_id).state is OrderState.COMPLETED
    assert relay.credits(relay.address) == 1100
    relay.withdraw()
    assert relay.credits(relay.address) == 0

    with pytest.raises(chain_errors.WrongState):
        buyer.cancel(order_id)
