"""Environment defaults of :class:`agihub.Client`, in one place. Explicit arguments always win.

=====================  ==========================================================================
variable               meaning
=====================  ==========================================================================
AGIHUB_RPC_URL         EVM JSON-RPC endpoint of the chain node (``http://127.0.0.1:8545``)
AGIHUB_MARKET          address of the deployed order-escrow market
AGIHUB_ACCOUNT_KEY     the chain account's private key (0x + 64 hex); signs transactions
AGIHUB_IDENTITY_FILE   the Nostr identity (nsec or hex file) that signs manifests and blob uploads
AGIHUB_RELAYS          comma-separated relay endpoints (``ws://host:port`` or ``http://...``)
AGIHUB_API_URL         the marketplace API (reads of scores and rewards go there when set)
AGIHUB_CLIENT_DIR      working folder for deliveries and rebuilt models (default ``./agihub-client``)
=====================  ==========================================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agihub.errors import ConfigError

ENV_RPC_URL = "AGIHUB_RPC_URL"
ENV_MARKET = "AGIHUB_MARKET"
ENV_ACCOUNT_KEY = "AGIHUB_ACCOUNT_KEY"
ENV_IDENTITY = "AGIHUB_IDENTITY_FILE"
ENV_RELAYS = "AGIHUB_RELAYS"
ENV_API_URL = "AGIHUB_API_URL"
ENV_WORKDIR = "AGIHUB_CLIENT_DIR"

DEFAULT_WORKDIR = "agihub-client"
#: Order windows (seconds) when the caller gives none: take, acknowledge, reveal.
DEFAULT_WINDOWS = (3600, 3600, 3600)
#: Seconds between two polls of the chain when following an order.
DEFAULT_POLL_S = 1.0
DEFAULT_TIMEOUT_S = 60.0

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class ClientConfig:
    """Resolved settings; ``None`` means "not configured" (the call that needs it says so)."""

    rpc_url: str | None
    market: str | None
    account_key: str | None
    identity_file: Path | None
    relays: tuple[str, ...]
    api_url: str | None
    workdir: Path


def _pick(explicit: object, env: Mapping[str, str], name: str) -> str | None:
    if explicit is not None:
        return str(explicit)
    value = env.get(name, "").strip()
    return value or None


def resolve(
    *,
    rpc_url: str | None = None,
    market: str | None = None,
    account_key: str | None = None,
    identity_file: str | os.PathLike[str] | None = None,
    relays: Sequence[str] | None = None,
    api_url: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Merge explicit arguments over the environment and check the spelling of each value."""
    env = os.environ if env is None else env
    chosen_market = _pick(market, env, ENV_MARKET)
    if chosen_market is not None and not _ADDRESS.fullmatch(chosen_market):
        raise ConfigError(
            f"market {chosen_market!r} is not an EVM address (0x + 40 hex); pass market= or fix {ENV_MARKET}"
        )
    key = _pick(account_key, env, ENV_ACCOUNT_KEY)
    if key is not None and not _KEY.fullmatch(key):
        raise ConfigError(f"the account key is not 32 bytes of hex; pass account= or fix {ENV_ACCOUNT_KEY}")
    if relays is None:
        relays = [r.strip() for r in env.get(ENV_RELAYS, "").split(",") if r.strip()]
    for relay in relays:
        if not relay.startswith(("ws://", "wss://", "http://", "https://")):
            raise ConfigError(
                f"relay {relay!r} is not a ws(s):// or http(s):// URL; fix relays= or {ENV_RELAYS}"
            )
    identity = _pick(identity_file, env, ENV_IDENTITY)
    api = _pick(api_url, env, ENV_API_URL)
    if api is not None and not api.startswith(("http://", "https://")):
        raise ConfigError(f"api_url {api!r} is not an http(s):// URL; fix api_url= or {ENV_API_URL}")
    return ClientConfig(
        rpc_url=_pick(rpc_url, env, ENV_RPC_URL),
        market=chosen_market,
        account_key=key,
        identity_file=Path(identity) if identity else None,
        relays=tuple(relays),
        api_url=api.rstrip("/") if api else None,
        workdir=Path(_pick(workdir, env, ENV_WORKDIR) or DEFAULT_WORKDIR),
    )
