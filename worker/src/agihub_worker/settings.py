"""Settings of the Celery worker (env prefix ``AGIHUB_WORKER_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from agihub_services.config import DEV_CHAIN_KEY, KNOWN_DEV_KEYS, CommonSettings


class WorkerSettings(CommonSettings):
    """Worker settings.

    ``AGIHUB_WORKER_CONCURRENCY``; ``AGIHUB_WORKER_CHAIN_KEY``, the key validators sign score posts with.
    """

    model_config = SettingsConfigDict(env_prefix="AGIHUB_WORKER_", extra="ignore")

    concurrency: int = Field(2, ge=1, le=64)
    #: Extra modules whose tasks this worker also runs (an operator's own tasks; JSON list).
    extra_task_modules: list[str] = Field(default_factory=list)
    chain_key: SecretStr = SecretStr(DEV_CHAIN_KEY)

    def unsafe_defaults(self) -> list[str]:
        problems = super().unsafe_defaults()
        if self.chain_key.get_secret_value() in KNOWN_DEV_KEYS:
            problems.append("AGIHUB_WORKER_CHAIN_KEY: a public development key; set the validator's own key")
        return problems
