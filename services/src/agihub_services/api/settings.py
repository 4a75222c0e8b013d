"""Settings of the marketplace API (env prefix ``AGIHUB_API_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agihub_services.config import CommonSettings


class ApiSettings(CommonSettings):
    """API settings.

    ``AGIHUB_API_HOST``, ``AGIHUB_API_PORT``, ``AGIHUB_API_CORS_ORIGINS``, ``AGIHUB_API_MAX_BODY_BYTES``.
    """

    model_config = SettingsConfigDict(env_prefix="AGIHUB_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    #: Browser origins allowed to call the API; ``*`` is the dev default and refused in production.
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    #: Requests with a larger body are answered 413 before the body is read.
    max_body_bytes: int = Field(1_048_576, ge=1)

    def unsafe_defaults(self) -> list[str]:
        problems = super().unsafe_defaults()
        if "*" in self.cors_origins:
            problems.append("AGIHUB_API_CORS_ORIGINS: '*' allows any site; list your dApp origins")
        return problems
