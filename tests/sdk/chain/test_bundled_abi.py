"""The market ABI the SDK ships (``agihub/chain/market_abi.json``) is the compiler's, and clients use it
without the compiler."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agihub.chain import evm_deploy
from agihub.chain.evm_deploy import ABI_PATH, WRITE_ABI_COMMAND, abi_text, bundled_abi, compile_market
from tests.sdk.chain.test_evm_conformance import hardhat_url  # noqa: F401 - session fixture

REPO = Path(__file__).resolve().parents[3]


def test_bundled_abi_equals_the_compilers() -> None:
    """A stale bundle fails here with the command that regenerates it."""
    compiled = compile_market(REPO / "contracts" / "evm" / "market.vy")
    assert bundled_abi() == compiled.abi, (
        f"{ABI_PATH} differs from the ABI of contracts/evm/market.vy; regenerate it: {WRITE_ABI_COMMAND}"
    )
    assert ABI_PATH.read_text(encoding="utf-8") == abi_text(compiled.abi), (
        f"{ABI_PATH} is not in its generated form; regenerate it: {WRITE_ABI_COMMAND}"
    )


def test_bundled_abi_ships_as_package_data() -> None:
    """setuptools' package-data of the SDK covers the file, so a wheel carries it."""
    import tomllib

    config = tomllib.loads((REPO / "sdk" / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["agihub"]
    relative = ABI_PATH.relative_to(REPO / "sdk" / "src" / "agihub")
    assert any(relative.match(p) or Path("x", relative).match(p) for p in patterns), patterns


@pytest.mark.node
def test_client_from_an_rpc_url_never_imports_vyper(hardhat_url: str) -> None:  # noqa: F811 - fixture
    """A Client made from an RPC URL reads a deployed market in a process where vyper cannot be imported."""
    from eth_account import Account

    from agihub.chain.evm import connect
    from agihub.chain.evm_deploy import deploy_market

    w3 = connect(hardhat_url)
    admin = Account.create()
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": admin.address, "value": 10**19})
    w3.eth.wait_for_transaction_receipt(tx)
    market = deploy_market(w3, admin, 3600, compile_market(REPO / "contracts" / "evm" / "market.vy"))
    script = f"""
import builtins, sys
real = builtins.__import__
def guarded(name, *args, **kwargs):
    if name == "vyper" or name.startswith("vyper."):
        raise ImportError("vyper is blocked in this test")
    return real(name, *args, **kwargs)
builtins.__import__ = guarded
from agihub import Client
client = Client({hardhat_url!r}, market={market!r}, account={"0x" + bytes(admin.key).hex()!r})
print(client.address, client.relay_info().registered, client.chain.now() > 0, "vyper" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [admin.address, "False", "True", "False"]


def test_write_abi_cli(tmp_path: Path) -> None:
    """The generator writes the compiler's ABI; no flag or a missing source exit non-zero."""
    dest = tmp_path / "abi.json"
    assert evm_deploy.main(["--write-abi", "--out", str(dest)]) == 0
    assert json.loads(dest.read_text()) == bundled_abi()
    assert evm_deploy.main([]) == 2  # nothing asked: help, non-zero
    bad = tmp_path / "missing.vy"
    assert evm_deploy.main(["--write-abi", "--source", str(bad), "--out", str(tmp_path / "x.json")]) != 0


def test_missing_or_broken_bundle_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agihub.errors import ConfigError

    monkeypatch.setattr(evm_deploy, "ABI_PATH", tmp_path / "gone.json")
    evm_deploy._bundled_abi_text.cache_clear()
    try:
        with pytest.raises(ConfigError, match="--write-abi"):
            bundled_abi()
        (tmp_path / "gone.json").write_text("{not json")
        evm_deploy._bundled_abi_text.cache_clear()
        with pytest.raises(ConfigError, match=r"not JSON.*--write-abi"):
            bundled_abi()
    finally:
        evm_deploy._bundled_abi_text.cache_clear()
