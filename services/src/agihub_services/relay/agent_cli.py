"""``agihub relay agent`` and ``agihub relay earnings``: thin adapters around :class:`OrderAgent`.

The chain account and market are :class:`RelaySettings` fields (``AGIHUB_RELAY_RPC_URL``,
``AGIHUB_RELAY_MARKET``, ``AGIHUB_RELAY_CHAIN_KEY``: the relay's EVM private key, hex); the command's
options override them. The agent shares the relay node's database and blob directory, so run it on
the relay's host.
"""

from __future__ import annotations

import logging
from typing import Any

import typer
from eth_account import Account
from web3 import Web3

from agihub.chain.evm import EvmChain, connect
from agihub.chain.evm_deploy import compile_market
from agihub.errors import ConfigError
from agihub.identity import SecretKey
from agihub_services.config import apply_env_file, load_settings
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.relay.agent import OrderAgent
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.delivery import deliveries_root
from agihub_services.relay.settings import RelaySettings

log = logging.getLogger(__name__)
WEI_PER_ETH = 10**18

RPC = typer.Option(None, help="EVM JSON-RPC URL (AGIHUB_RELAY_RPC_URL)")
MARKET = typer.Option(None, help="market contract address (AGIHUB_RELAY_MARKET)")
KEY = typer.Option(None, help="the relay's EVM private key, hex (AGIHUB_RELAY_CHAIN_KEY)")
START = typer.Option(0, help="first block to scan for orders (the market's deployment block)")


def _connect(rpc_url: str) -> Web3:
    """The chain connection (a seam: tests hand in an in-process EVM)."""
    return connect(rpc_url)


def agent_settings(
    rpc_url: str | None = None, market: str | None = None, chain_key: str | None = None
) -> RelaySettings:
    """``RelaySettings`` from the environment and ``.env``, with the command's options on top."""
    apply_env_file()
    overrides = {"rpc_url": rpc_url, "market_address": market, "chain_key": chain_key}
    settings = load_settings(RelaySettings, **{k: v for k, v in overrides.items() if v is not None})
    if not settings.market_address:
        raise ConfigError("AGIHUB_RELAY_MARKET is not set: the market contract's address (or --market)")
    if not settings.chain_key.get_secret_value():
        raise ConfigError("AGIHUB_RELAY_CHAIN_KEY is not set: the relay's EVM private key (or --chain-key)")
    return settings


def build_agent(
    rpc_url: str | None, market: str | None, chain_key: str | None, start_block: int
) -> tuple[OrderAgent, RelaySettings]:
    """An agent on the relay's own database and blob store, signing with the relay's chain key."""
    settings = agent_settings(rpc_url, market, chain_key)
    url = settings.effective_relay_database_url
    migrate.upgrade(url)
    try:
        account: Any = Account.from_key(settings.chain_key.get_secret_value())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"AGIHUB_RELAY_CHAIN_KEY is not a valid private key: {exc}") from None
    w3 = _connect(settings.rpc_url)
    chain = EvmChain(w3, settings.market_address, compile_market().abi, account, start_block=start_block)
    blobs = BlobStore(
        settings.effective_blob_dir,
        make_engine(url),
        quota_bytes=settings.quota_bytes,
        max_blob_bytes=settings.max_blob_bytes,
    )
    return OrderAgent(chain, blobs, deliveries_root(settings)), settings


def register_commands(relay_app: typer.Typer) -> None:
    """Add ``agent`` and ``earnings`` to the ``relay`` command group."""

    @relay_app.command("agent")
    def agent_command(
        rpc_url: str | None = RPC,
        market: str | None = MARKET,
        chain_key: str | None = KEY,
        start_block: int = START,
        interval: float = typer.Option(5.0, min=0.1, help="seconds between polls"),
        once: bool = typer.Option(False, help="poll once and exit"),
    ) -> None:
        """Register the relay on chain and take, deliver, reveal and settle its orders."""
        agent, settings = build_agent(rpc_url, market, chain_key, start_block)
        pubkey = SecretKey.parse(settings.nostr_key).public_key.hex
        tx = agent.register(bytes.fromhex(pubkey), settings.public_url)
        typer.echo(f"relay {agent.me} {'registered (tx ' + tx + ')' if tx else 'already registered'}")
        if once:
            for order_id, state in agent.poll().items():
                typer.echo(f"order {order_id}: {state}")
            return
        agent.run(interval)

    @relay_app.command("earnings")
    def earnings_command(
        rpc_url: str | None = RPC,
        market: str | None = MARKET,
        chain_key: str | None = KEY,
        start_block: int = START,
    ) -> None:
        """What this relay earned per order, in total, and its unwithdrawn credits."""
        agent, _ = build_agent(rpc_url, market, chain_key, start_block)
        report = agent.earnings()
        for row in report.orders:
            down, paid = int(row.down_paid or 0), int(row.relay_paid or 0)
            typer.echo(f"order {row.order_id}: {row.state} down {down} paid {paid} wei")
        typer.echo(f"total earned: {report.total} wei ({report.total / WEI_PER_ETH:.6f} ETH)")
        typer.echo(f"unwithdrawn credits: {report.credits} wei")
