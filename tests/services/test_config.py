"""Settings: prefixes, embedded defaults, the production guard and strict .env parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agihub.errors import ConfigError
from agihub_services.api.settings import ApiSettings
from agihub_services.config import CommonSettings, apply_env_file, load_settings, parse_env_file
from agihub_worker.settings import WorkerSettings


def test_embedded_defaults_need_no_configuration(isolated_env: Path) -> None:
    settings = load_settings(CommonSettings)
    assert settings.effective_database_url == f"sqlite:///{isolated_env / 'data' / 'agihub.db'}"
    assert settings.effective_broker_url == "filesystem://"
    assert not settings.production


def test_each_deployable_reads_its_own_prefix(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_API_PORT", "9123")
    monkeypatch.setenv("AGIHUB_WORKER_CONCURRENCY", "3")
    monkeypatch.setenv("AGIHUB_DATABASE_URL", "postgresql://db.example/agihub")
    api, worker = load_settings(ApiSettings), load_settings(WorkerSettings)
    assert api.port == 9123 and worker.concurrency == 3
    # The shared settings have one name for every deployable.
    assert api.effective_database_url == worker.effective_database_url == "postgresql://db.example/agihub"


def test_bad_value_names_the_environment_variable(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGIHUB_API_PORT", "eighty")
    with pytest.raises(ConfigError, match="AGIHUB_API_PORT"):
        load_settings(ApiSettings)


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (ApiSettings, ["AGIHUB_DATABASE_URL", "AGIHUB_BROKER_URL", "AGIHUB_API_CORS_ORIGINS"]),
        (WorkerSettings, ["AGIHUB_DATABASE_URL", "AGIHUB_WORKER_CHAIN_KEY"]),
    ],
)
def test_production_refuses_unsafe_defaults(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, cls: type[CommonSettings], expected: list[str]
) -> None:
    monkeypatch.setenv("AGIHUB_PRODUCTION", "1")
    with pytest.raises(ConfigError) as info:
        load_settings(cls)
    for name in expected:
        assert name in str(info.value)


def test_production_starts_when_every_default_is_replaced(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGIHUB_PRODUCTION", "true")
    monkeypatch.setenv("AGIHUB_DATABASE_URL", "postgresql://db/agihub")
    monkeypatch.setenv("AGIHUB_BROKER_URL", "redis://cache:6379/0")
    monkeypatch.setenv("AGIHUB_API_CORS_ORIGINS", '["https://app.example"]')
    monkeypatch.setenv("AGIHUB_WORKER_CHAIN_KEY", "0x" + "11" * 32)
    assert load_settings(ApiSettings).cors_origins == ["https://app.example"]
    with pytest.raises(ConfigError, match="AGIHUB_WORKER_NOSTR_KEY: a public development key"):
        load_settings(WorkerSettings)
    monkeypatch.setenv("AGIHUB_WORKER_NOSTR_KEY", "22" * 32)
    assert load_settings(WorkerSettings).production


def test_env_file_parses_quotes_comments_and_export(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# comment\n\nexport AGIHUB_API_PORT=8100\nAGIHUB_X=\"a b\"\nAGIHUB_Y=v # note\nAGIHUB_Z='q'\n"
    )
    assert parse_env_file(env) == {
        "AGIHUB_API_PORT": "8100",
        "AGIHUB_X": "a b",
        "AGIHUB_Y": "v",
        "AGIHUB_Z": "q",
    }


@pytest.mark.parametrize("line", ["AGIHUB_API_PORT 8100", "=value", 'AGIHUB_X="unterminated', "9BAD=1"])
def test_malformed_env_line_is_refused_with_its_number(tmp_path: Path, line: str) -> None:
    env = tmp_path / ".env"
    env.write_text(f"AGIHUB_OK=1\n{line}\n")
    with pytest.raises(ConfigError, match="line 2"):
        parse_env_file(env)


def test_env_file_never_overrides_the_environment(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_env / ".env").write_text("AGIHUB_API_PORT=8100\nAGIHUB_API_HOST=0.0.0.0\n")
    monkeypatch.setenv("AGIHUB_API_PORT", "8200")
    assert apply_env_file() == Path(".env")
    settings = load_settings(ApiSettings)
    assert (settings.port, settings.host) == (8200, "0.0.0.0")
