"""Relay settings: env prefix, embedded defaults, production refusals, the NIP-11 document and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agihub.errors import ConfigError
from agihub.identity import SecretKey
from agihub_services.config import load_settings
from agihub_services.dev.ports import free_port
from agihub_services.relay.info import relay_info
from agihub_services.relay.settings import DEV_NOSTR_KEY, RelaySettings


def test_defaults_live_under_the_data_dir(isolated_env: Path) -> None:
    settings = load_settings(RelaySettings)
    data = isolated_env / "data"
    assert settings.effective_relay_database_url == f"sqlite:///{data / 'relay' / 'relay.db'}"
    assert settings.effective_blob_dir == data / "relay" / "blobs"


def test_environment_variables_use_the_relay_prefix(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGIHUB_RELAY_DATABASE_URL", "postgresql://relay@db/relay")
    monkeypatch.setenv("AGIHUB_RELAY_MAX_LIMIT", "42")
    monkeypatch.setenv("AGIHUB_RELAY_AUTH_REQUIRED", "true")
    settings = load_settings(RelaySettings)
    assert settings.effective_relay_database_url == "postgresql://relay@db/relay"
    assert settings.max_limit == 42 and settings.auth_required
    limitation = relay_info(settings, "ab" * 32)["limitation"]
    assert limitation["max_limit"] == 42 and limitation["auth_required"] is True


def test_bad_values_are_named(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_RELAY_MAX_LIMIT", "0")
    with pytest.raises(ConfigError, match="AGIHUB_RELAY_MAX_LIMIT"):
        load_settings(RelaySettings)


def test_production_refuses_the_dev_key_sqlite_and_a_loopback_url(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGIHUB_PRODUCTION", "1")
    with pytest.raises(ConfigError) as refused:
        load_settings(RelaySettings)
    for name in ("AGIHUB_RELAY_DATABASE_URL", "AGIHUB_RELAY_NOSTR_KEY", "AGIHUB_RELAY_PUBLIC_URL"):
        assert name in str(refused.value)
    monkeypatch.setenv("AGIHUB_RELAY_DATABASE_URL", "postgresql://relay@db/relay")
    monkeypatch.setenv("AGIHUB_RELAY_NOSTR_KEY", SecretKey.generate().nsec)
    monkeypatch.setenv("AGIHUB_RELAY_PUBLIC_URL", "wss://relay.example.org")
    assert load_settings(RelaySettings).production
    monkeypatch.setenv("AGIHUB_RELAY_NOSTR_KEY", DEV_NOSTR_KEY.upper())
    with pytest.raises(ConfigError, match="AGIHUB_RELAY_NOSTR_KEY"):
        load_settings(RelaySettings)


def test_order_agent_settings_keep_their_env_names_and_refuse_dev_keys_in_production(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agihub_services.dev.accounts import DEV_KEYS

    monkeypatch.setenv("AGIHUB_RELAY_RPC_URL", " http://node.example:8545 ")
    monkeypatch.setenv("AGIHUB_RELAY_MARKET", "0x" + "12" * 20)
    monkeypatch.setenv("AGIHUB_RELAY_CHAIN_KEY", DEV_KEYS["relay-a"].removeprefix("0x").upper())
    settings = load_settings(RelaySettings)
    assert settings.rpc_url == "http://node.example:8545"
    assert settings.market_address == "0x" + "12" * 20
    assert DEV_KEYS["relay-a"][2:] not in repr(settings)  # a SecretStr: never printed
    monkeypatch.setenv("AGIHUB_PRODUCTION", "1")
    monkeypatch.setenv("AGIHUB_RELAY_DATABASE_URL", "postgresql://relay@db/relay")
    monkeypatch.setenv("AGIHUB_RELAY_NOSTR_KEY", SecretKey.generate().nsec)
    monkeypatch.setenv("AGIHUB_RELAY_PUBLIC_URL", "wss://relay.example.org")
    with pytest.raises(ConfigError, match="AGIHUB_RELAY_CHAIN_KEY: a public development key"):
        load_settings(RelaySettings)
    monkeypatch.setenv("AGIHUB_RELAY_CHAIN_KEY", "0x" + "5a" * 32)
    assert load_settings(RelaySettings).chain_key.get_secret_value() == "0x" + "5a" * 32


def test_cli_registers_relay_run(isolated_env: Path) -> None:
    from agihub.cli.main import build_app

    result = CliRunner().invoke(build_app(), ["relay", "run", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.output


def test_agihub_relay_run_serves_nip11_with_one_command(isolated_env: Path) -> None:
    port = free_port()
    env = {**os.environ, "AGIHUB_RELAY_PUBLIC_URL": f"ws://127.0.0.1:{port}"}
    cmd = [str(Path(sys.executable).with_name("agihub")), "relay", "run", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        info = _wait_for_nip11(f"http://127.0.0.1:{port}/", proc)
        assert info["supported_nips"] == [1, 11, 42]
        assert (isolated_env / "data" / "relay" / "relay.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_nip11(url: str, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"relay exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            return httpx.get(url, headers={"Accept": "application/nostr+json"}).json()
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("relay did not answer within 30 s")
