"""Settings of the Celery worker (env prefix ``AGIHUB_WORKER_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from agihub_services.config import DEV_CHAIN_KEY, KNOWN_DEV_KEYS, CommonSettings

#: A well-known key (anyone can sign with it): fine for the embedded default, refused in production.
DEV_NOSTR_KEY = "0000000000000000000000000000000000000000000000000000000000000005"


class WorkerSettings(CommonSettings):
    """Worker settings.

    ``AGIHUB_WORKER_CONCURRENCY``; ``AGIHUB_WORKER_CHAIN_KEY``, the key validators sign score posts with.
    """

    model_config = SettingsConfigDict(env_prefix="AGIHUB_WORKER_", extra="ignore")

    concurrency: int = Field(2, ge=1, le=64)
    #: Extra modules whose tasks this worker also runs (an operator's own tasks; JSON list).
    extra_task_modules: list[str] = Field(default_factory=list)
    chain_key: SecretStr = SecretStr(DEV_CHAIN_KEY)
    #: Seconds a task's lease lasts without renewal (renewed every third of it while the task runs);
    #: after that an unfinished task is sent again. Short leases recover faster, long ones tolerate
    #: longer database stalls.
    lease_s: float = Field(60.0, ge=1.0, le=3600.0)
    #: How often each worker looks for tasks whose lease ran out.
    reclaim_interval_s: float = Field(10.0, ge=0.5, le=600.0)
    #: The Nostr key the worker signs blob uploads with (shards it places are owned by this key).
    nostr_key: SecretStr = SecretStr(DEV_NOSTR_KEY)
    #: Audit challenges precomputed per shard when it is placed, and bytes per challenge.
    audit_challenges: int = Field(16, ge=2, le=1024)
    audit_range_bytes: int = Field(4096, ge=64, le=1 << 20)
    #: Where shards go: ``class`` (public models spread over every relay on offer, private ones only
    #: on the relays their owner names), ``spread`` or ``owner`` for every model.
    placement_policy: Literal["class", "spread", "owner"] = "class"
    #: The chain a validator scores on: EVM JSON-RPC endpoint and market address.
    rpc_url: str = "http://127.0.0.1:8545"
    market_address: str = Field("", validation_alias="AGIHUB_WORKER_MARKET")
    #: Validation bytes scored per contribution, and seconds between commit and reveal.
    score_val_bytes: int = Field(16_384, ge=64, le=1 << 24)
    reveal_delay_s: float = Field(60.0, ge=0.0)
    #: Seconds a relay may take to answer one transfer or audit request.
    relay_timeout_s: float = Field(30.0, gt=0)

    def unsafe_defaults(self) -> list[str]:
        problems = super().unsafe_defaults()
        if self.chain_key.get_secret_value() in KNOWN_DEV_KEYS:
            problems.append("AGIHUB_WORKER_CHAIN_KEY: a public development key; set the validator's own key")
        if self.nostr_key.get_secret_value().strip().lower() == DEV_NOSTR_KEY:
            problems.append("AGIHUB_WORKER_NOSTR_KEY: a public development key; set the worker's own key")
        return problems
