"""Settings of the relay node (env prefix ``AGIHUB_RELAY_``).

The limits here are advertised in the NIP-11 document and enforced by the relay, so both read the same
fields: what a client is told is exactly what it gets.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from agihub.nostr.event import is_hex64
from agihub_services.config import KNOWN_DEV_KEYS, CommonSettings

# A well-known test key (BIP-340 test vector 0's secret key, 0x...03): anyone can sign as it, so a
# production relay must not identify itself with it.
DEV_NOSTR_KEY = "0000000000000000000000000000000000000000000000000000000000000003"


class RelaySettings(CommonSettings):
    """Relay settings; every field is ``AGIHUB_RELAY_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="AGIHUB_RELAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(7777, ge=1, le=65535)
    #: The relay's own database; empty means SQLite at ``data_dir/relay/relay.db``.
    relay_database_url: str = Field("", validation_alias="AGIHUB_RELAY_DATABASE_URL")
    #: Where blob files live; empty means ``data_dir/relay/blobs``.
    blob_dir: Path | None = None
    #: The URL clients use to reach this relay (``ws://`` or ``wss://``); NIP-42 AUTH checks it.
    public_url: str = "ws://127.0.0.1:7777"
    #: The relay's Nostr secret key (hex or nsec); it signs relay offers.
    nostr_key: str = DEV_NOSTR_KEY
    name: str = "agihub relay"
    description: str = "agihub relay: model-version announcements, relay offers and model shards"
    contact: str = ""
    #: NIP-42: refuse EVENT until the connection has authenticated.
    auth_required: bool = False

    # --- NIP-01 limits, advertised in NIP-11 ``limitation`` ---------------------------------------
    max_message_length: int = Field(131_072, ge=1024)
    max_subscriptions: int = Field(20, ge=1)
    max_filters: int = Field(10, ge=1)
    max_limit: int = Field(500, ge=1)
    default_limit: int = Field(100, ge=1)
    max_subid_length: int = Field(64, ge=1)
    max_event_tags: int = Field(100, ge=1)
    max_content_length: int = Field(65_536, ge=1)
    #: Events more than this many seconds in the future are refused.
    created_at_upper_limit: int = Field(900, ge=0)
    #: Events older than this many seconds are refused (0: no lower bound, like most relays).
    created_at_lower_limit: int = Field(0, ge=0)
    #: NIP-42 AUTH events and Blossom auth tokens must be this fresh (seconds).
    auth_window: int = Field(600, ge=1)

    # --- Blossom ----------------------------------------------------------------------------------
    max_blob_bytes: int = Field(1 << 30, ge=1)
    #: Bytes each pubkey may store (sum of the blobs it owns).
    quota_bytes: int = Field(10 << 30, ge=1)
    #: Require a kind-24242 ``get`` token to download (off: blobs are public, as BUD-01 suggests).
    auth_required_for_get: bool = False
    #: Websocket chunk streaming: bytes per binary frame.
    stream_chunk_bytes: int = Field(262_144, ge=1024)

    # --- rate limits (token buckets) --------------------------------------------------------------
    #: Messages per second each connection's address may send, with this burst.
    rate_per_address: float = Field(200.0, gt=0)
    burst_per_address: int = Field(400, ge=1)
    #: EVENTs per second each pubkey may publish, with this burst.
    rate_per_pubkey: float = Field(50.0, gt=0)
    burst_per_pubkey: int = Field(100, ge=1)

    # --- relay offer (kind 31338, signed with nostr_key; see holdings.py) --------------------------
    #: Price per GiB in the chain's smallest unit, advertised in the offer's ``price`` tag (unset: none).
    price: int | None = Field(None, ge=0)
    #: Model roots (64 hex, JSON list) offered besides those the blob store holds, e.g. shards this
    #: operator serves from another store; the relay cannot check these, so list only what you hold.
    offer_models: list[str] = Field(default_factory=list)

    # --- order agent (agihub relay agent / earnings) ----------------------------------------------
    #: EVM JSON-RPC endpoint of the chain the market lives on.
    rpc_url: str = "http://127.0.0.1:8545"
    #: The market contract's address (env ``AGIHUB_RELAY_MARKET``).
    market_address: str = Field("", validation_alias="AGIHUB_RELAY_MARKET")
    #: The relay's EVM private key (hex); the agent signs take/reveal/settle with it.
    chain_key: SecretStr = SecretStr("")

    @field_validator("relay_database_url", "rpc_url", "market_address")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        return value.strip()

    @field_validator("offer_models")
    @classmethod
    def _check_roots(cls, value: list[str]) -> list[str]:
        roots = [root.strip().lower().removeprefix("0x") for root in value]
        for root in roots:
            if not is_hex64(root):
                raise ValueError(f"{root!r} is not a model root (64 hex characters)")
        return sorted(set(roots))

    @property
    def relay_dir(self) -> Path:
        return self.data_dir / "relay"

    @property
    def effective_relay_database_url(self) -> str:
        """``AGIHUB_RELAY_DATABASE_URL`` or a SQLite file in ``data_dir/relay``."""
        return self.relay_database_url or f"sqlite:///{self.relay_dir / 'relay.db'}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.relay_dir / "blobs"

    def unsafe_defaults(self) -> list[str]:
        # The relay needs no broker and keeps its own database, so the shared checks do not apply.
        problems = []
        if self.effective_relay_database_url.startswith("sqlite"):
            problems.append("AGIHUB_RELAY_DATABASE_URL: SQLite is for the embedded default; use PostgreSQL")
        if self.nostr_key.strip().lower() == DEV_NOSTR_KEY:
            problems.append("AGIHUB_RELAY_NOSTR_KEY: the dev key is public; generate your own")
        if self.public_url.startswith("ws://127.0.0.1") or self.public_url.startswith("ws://localhost"):
            problems.append("AGIHUB_RELAY_PUBLIC_URL: set the address clients reach this relay at")
        if _normal_key(self.chain_key.get_secret_value()) in KNOWN_DEV_KEYS:
            problems.append("AGIHUB_RELAY_CHAIN_KEY: a public development key; set the relay's own key")
        return problems


def _normal_key(value: str) -> str:
    """A hex private key as ``0x`` + lower-case hex (how the dev keys are spelled)."""
    value = value.strip().lower()
    return value if value.startswith("0x") else "0x" + value
