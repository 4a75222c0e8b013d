"""The Chain conformance suite on the EVM backend: py-evm in process and a hardhat JSON-RPC node."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from agihub.chain.evm import EvmChain, connect
from agihub.chain.evm_deploy import compile_market, deploy_market
from tests.sdk.chain.conformance import ChainConformance, ChainWorld

EVM_DIR = Path(__file__).resolve().parents[3] / "contracts" / "evm"
HARDHAT = EVM_DIR / "node_modules" / ".bin" / "hardhat"
EPOCH_LENGTH = 7 * 86400
FUNDING = 10**19  # hardhat accounts hold 10,000 ether; tests deploy many worlds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def hardhat_url() -> Iterator[str]:
    """A hardhat node on a free loopback port for the session; skipped if it is not installed."""
    if not HARDHAT.exists() or shutil.which("node") is None:
        pytest.skip(f"hardhat not installed ({HARDHAT}); run `npm ci` in contracts/evm")
    port = _free_port()
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    cmd = [
        str(HARDHAT),
        "--config",
        "hardhat.config.cjs",
        "node",
        "--hostname",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=EVM_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                connect(url, request_timeout=2)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    pytest.fail(f"hardhat node did not start on {url}: {err[-500:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _pyevm_travel(w3: Web3) -> Callable[[int], None]:
    tester = w3.provider.ethereum_tester

    def travel(seconds: int) -> None:
        tester.time_travel(w3.eth.get_block("latest")["timestamp"] + seconds + 1)

    return travel


def _rpc_travel(w3: Web3) -> Callable[[int], None]:
    def travel(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds + 1])
        w3.provider.make_request("evm_mine", [])

    return travel


def make_world(w3: Web3, travel: Callable[[int], None]) -> ChainWorld:
    """Fresh funded accounts and a freshly deployed market on ``w3``."""
    funder = w3.eth.accounts[0]
    accounts = [Account.create() for _ in range(9)]
    for acct in accounts:
        tx_hash = w3.eth.send_transaction({"from": funder, "to": acct.address, "value": FUNDING})
        w3.eth.wait_for_transaction_receipt(tx_hash)
    compiled = compile_market()
    market = deploy_market(w3, accounts[0], EPOCH_LENGTH, compiled)
    admin = EvmChain(w3, market, compiled.abi, accounts[0])
    chains = [admin.with_account(a) for a in accounts[1:]]
    return ChainWorld(
        admin=admin,
        buyers=chains[0:2],
        relays=chains[2:6],
        validators=chains[6:8],
        travel=travel,
        epoch_length=EPOCH_LENGTH,
        unit=10**12,
    )


@pytest.fixture(params=["pyevm", pytest.param("hardhat", marks=pytest.mark.node)])
def world(request) -> ChainWorld:
    if request.param == "pyevm":
        w3 = Web3(EthereumTesterProvider())
        return make_world(w3, _pyevm_travel(w3))
    w3 = connect(request.getfixturevalue("hardhat_url"))
    return make_world(w3, _rpc_travel(w3))


class TestEvmConformance(ChainConformance):
    """Runs every conformance test on both EVM transports."""
