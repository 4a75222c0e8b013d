"""Compile ``contracts/evm/market.vy`` with Vyper and deploy it through web3.

Used by the tests, the dev stack and the demo. The ABI always comes from the compiler, never from
a file in the repository, so it cannot drift from the source (a test also compares it to the
catalogue). Vyper is a build-time tool: it is imported only here, and only when compiling.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agihub.chain.errors import ChainConnectionError
from agihub.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["CompiledMarket", "compile_market", "default_market_source", "deploy_market"]

# Env override first (installed SDK, custom checkout), then the repository layout of an editable install.
SOURCE_ENV = "AGIHUB_MARKET_VY"
_REPO_SOURCE = Path(__file__).resolve().parents[4] / "contracts" / "evm" / "market.vy"


@dataclass(frozen=True)
class CompiledMarket:
    """Compiler output: ABI (list of entries), deploy bytecode (hex) and the Vyper version used."""

    abi: list[dict[str, Any]]
    bytecode: str
    vyper_version: str


def default_market_source() -> Path:
    """Path of market.vy: ``$AGIHUB_MARKET_VY`` or the repository's ``contracts/evm/market.vy``."""
    path = Path(os.environ.get(SOURCE_ENV) or _REPO_SOURCE)
    if not path.is_file():
        raise ConfigError(f"market.vy not found at {path}; set {SOURCE_ENV} to the contract source")
    return path


@functools.lru_cache(maxsize=8)
def _compile_cached(source: str, evm_version: str | None) -> CompiledMarket:
    try:
        import vyper
        from vyper.compiler.settings import Settings
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("compiling market.vy needs vyper (pip install vyper==0.4.3)") from exc
    settings = Settings(evm_version=evm_version) if evm_version else None
    out = vyper.compile_code(source, output_formats=["abi", "bytecode"], settings=settings)
    return CompiledMarket(abi=out["abi"], bytecode=out["bytecode"], vyper_version=vyper.__version__)


def compile_market(path: Path | str | None = None, evm_version: str | None = None) -> CompiledMarket:
    """Compile market.vy (cached per source text and EVM version within the process)."""
    source = Path(path) if path else default_market_source()
    return _compile_cached(source.read_text(encoding="utf-8"), evm_version)


def deploy_market(
    w3: Any,
    deployer: Any,
    epoch_length: int,
    compiled: CompiledMarket | None = None,
    timeout: float = 60.0,
) -> str:
    """Deploy a market with ``deployer`` (an eth-account ``LocalAccount``) as admin.

    Returns the contract address. ``epoch_length`` is the reward epoch in seconds.
    """
    compiled = compiled or compile_market()
    factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    tx = factory.constructor(epoch_length).build_transaction(
        {
            "from": deployer.address,
            "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = deployer.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise ChainConnectionError(f"market deployment failed in tx {tx_hash.hex()}")
    log.info("deployed market at %s (gas %s)", receipt["contractAddress"], receipt["gasUsed"])
    return str(receipt["contractAddress"])
