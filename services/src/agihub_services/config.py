"""Settings shared by every deployable, and the production guard.

Each deployable has one ``Settings`` class with its own env prefix (``AGIHUB_API_``, ``AGIHUB_DEV_``,
``AGIHUB_WORKER_`` ...). The few settings every deployable shares have fixed names so one ``.env``
configures the whole stack: ``AGIHUB_DATABASE_URL``, ``AGIHUB_BROKER_URL``, ``AGIHUB_DATA_DIR``,
``AGIHUB_PRODUCTION``. With nothing set, the embedded default works (SQLite file, filesystem broker,
dev keys, all under the data dir); with ``AGIHUB_PRODUCTION=1`` those unsafe defaults refuse to start.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agihub.errors import ConfigError
from agihub_services.dev.accounts import DEV_KEYS

# Hardhat's well-known development accounts: public knowledge, so never acceptable in production.
DEV_CHAIN_KEY = DEV_KEYS["admin"]
KNOWN_DEV_KEYS = frozenset(DEV_KEYS.values())


def default_data_dir() -> Path:
    """``$AGIHUB_DATA_DIR`` or ``./.agihub``: everything the embedded default writes lives there."""
    return Path(".agihub").resolve()


class CommonSettings(BaseSettings):
    """Fields every deployable shares; subclasses add their own with their own prefix."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    production: bool = Field(False, validation_alias="AGIHUB_PRODUCTION")
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="AGIHUB_DATA_DIR")
    database_url: str = Field("", validation_alias="AGIHUB_DATABASE_URL")
    broker_url: str = Field("", validation_alias="AGIHUB_BROKER_URL")

    @field_validator("database_url", "broker_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    # Derived values: explicit URL wins, else the embedded default under data_dir.
    @property
    def effective_database_url(self) -> str:
        """The database URL in use: ``AGIHUB_DATABASE_URL`` or a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'agihub.db'}"

    @property
    def effective_broker_url(self) -> str:
        """The Celery broker URL in use: ``AGIHUB_BROKER_URL`` or kombu's filesystem transport."""
        return self.broker_url or "filesystem://"

    @property
    def broker_folder(self) -> Path:
        """Where the filesystem transport keeps its messages (embedded default only)."""
        return self.data_dir / "broker"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def unsafe_defaults(self) -> list[str]:
        """Names and reasons of every setting that is unsafe in production (override to add more)."""
        problems = []
        if self.effective_database_url.startswith("sqlite"):
            problems.append("AGIHUB_DATABASE_URL: SQLite is for the embedded default; use PostgreSQL")
        if self.effective_broker_url.startswith("filesystem"):
            problems.append("AGIHUB_BROKER_URL: the filesystem broker is single-machine; use Redis")
        return problems

    def check_production(self) -> None:
        """Refuse to start in production mode while any unsafe default is in effect."""
        if not self.production:
            return
        problems = self.unsafe_defaults()
        if problems:
            raise ConfigError("refusing to start with AGIHUB_PRODUCTION=1: " + "; ".join(problems))


S = TypeVar("S", bound=CommonSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build ``cls`` from the environment, turning validation errors into one ConfigError line."""
    try:
        settings = cls(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "?"
        env_name = _env_name(cls, field)
        raise ConfigError(f"bad setting {env_name}: {first['msg']}") from None
    settings.check_production()
    return settings


def _env_name(cls: type[CommonSettings], field: str) -> str:
    info = cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file strictly: every non-blank, non-comment line must be ``NAME=value``.

    python-dotenv only warns on a malformed line and goes on; a deployable that silently ignores a
    line of its configuration is worse than one that refuses to start, so this raises instead.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise ConfigError(f"malformed line {number} in {path}: expected NAME=value, got {raw!r}")
        name, value = match.groups()
        values[name] = _unquote(value, path, number)
    return values


def _unquote(value: str, path: Path, number: int) -> str:
    value = value.strip()
    if value[:1] in {"'", '"'}:
        quote = value[0]
        if len(value) < 2 or not value.endswith(quote):
            raise ConfigError(f"malformed line {number} in {path}: unterminated quoted value")
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


def apply_env_file(path: Path | None = None) -> Path | None:
    """Load ``.env`` (or ``$AGIHUB_ENV_FILE``) into ``os.environ`` without overriding what is set.

    Returns the file applied, or None when there is none.
    """
    if path is None:
        path = Path(os.environ.get("AGIHUB_ENV_FILE", ".env"))
    if not path.is_file():
        return None
    for name, value in parse_env_file(path).items():
        os.environ.setdefault(name, value)
    return path
