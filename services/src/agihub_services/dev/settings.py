"""Settings of the local dev stack (env prefix ``AGIHUB_DEV_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agihub_services.config import CommonSettings

# services/src/agihub_services/dev/settings.py -> repository root (editable installs, the supported dev path).
_REPO_ROOT = Path(__file__).resolve().parents[4]


class DevSettings(CommonSettings):
    """Dev stack settings.

    ``AGIHUB_DEV_CHAIN_PORT``, ``AGIHUB_DEV_API_PORT``, ``AGIHUB_DEV_WORKERS``, ``AGIHUB_DEV_RELAYS``,
    ``AGIHUB_DEV_RELAY_BASE_PORT``, ``AGIHUB_DEV_EVM_NODE_DIR``.
    """

    model_config = SettingsConfigDict(env_prefix="AGIHUB_DEV_", extra="ignore")

    host: str = "127.0.0.1"
    chain_port: int = Field(8545, ge=1, le=65535)
    api_port: int = Field(8000, ge=1, le=65535)
    #: Worker processes (each a Celery node with its own prefork pool).
    workers: int = Field(1, ge=1, le=16)
    worker_concurrency: int = Field(2, ge=1, le=64)
    #: Relay nodes (Nostr relay + blob store), on consecutive ports from ``relay_base_port``.
    relays: int = Field(2, ge=0, le=16)
    relay_base_port: int = Field(7777, ge=1, le=65535 - 16)
    #: Folder holding the hardhat install (``make install`` puts it in contracts/evm).
    evm_node_dir: Path = _REPO_ROOT / "contracts" / "evm"
    #: How long each component may take to become healthy at start.
    start_timeout_s: float = Field(60.0, gt=0)

    def relay_ports(self) -> list[int]:
        return [self.relay_base_port + i for i in range(self.relays)]

    @property
    def state_file(self) -> Path:
        return self.data_dir / "dev" / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "dev" / "lock"

    def unsafe_defaults(self) -> list[str]:
        # The dev stack is never a production deployment.
        return ["AGIHUB_PRODUCTION: `agihub dev` runs development keys and a dev chain; deploy with docker/"]
