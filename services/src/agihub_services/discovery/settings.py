"""Settings of the discovery ingester (env prefix ``AGIHUB_DISCOVERY_``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from agihub_services.config import CommonSettings


class DiscoverySettings(CommonSettings):
    """Which relays to read agihub events from, and how patiently."""

    model_config = SettingsConfigDict(env_prefix="AGIHUB_DISCOVERY_", extra="ignore")

    #: Relay websocket URLs (JSON list of ``ws://``/``wss://`` URLs).
    relays: list[str] = Field(default_factory=list)
    #: Seconds allowed to connect and read one relay's stored events.
    timeout_s: float = Field(10.0, gt=0)
    #: Longest sleep between reconnects to a relay that failed (the backoff doubles up to this).
    max_backoff_s: float = Field(30.0, gt=0)

    @field_validator("relays")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        urls = [url.strip() for url in value]
        for url in urls:
            if not url.startswith(("ws://", "wss://")):
                raise ValueError(f"{url!r} is not a ws:// or wss:// URL")
        return list(dict.fromkeys(urls))

    def unsafe_defaults(self) -> list[str]:
        # Discovery needs the shared database but no broker.
        if self.effective_database_url.startswith("sqlite"):
            return ["AGIHUB_DATABASE_URL: SQLite is for the embedded default; use PostgreSQL"]
        return []
