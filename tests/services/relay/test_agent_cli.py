"""``agihub relay agent --once`` and ``agihub relay earnings`` against an in-process EVM."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agihub.cli.main import build_app
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.relay import agent_cli
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.settings import RelaySettings
from tests.services.relay.test_agent_kit import DOWN, Market, host_model, make_market, pack_tiny_model


@pytest.fixture
def market(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> Market:
    market = make_market()
    monkeypatch.setattr(agent_cli, "_connect", lambda url: market.w3)
    monkeypatch.setenv("AGIHUB_RELAY_RPC_URL", "http://unused.invalid")
    monkeypatch.setenv("AGIHUB_RELAY_MARKET", market.admin.contract.address)
    monkeypatch.setenv("AGIHUB_RELAY_CHAIN_KEY", market.relay.account.key.hex())
    return market


def hosted_blobs() -> BlobStore:
    settings = RelaySettings()
    migrate.upgrade(settings.effective_relay_database_url)
    engine = make_engine(settings.effective_relay_database_url)
    return BlobStore(settings.effective_blob_dir, engine, quota_bytes=1 << 30, max_blob_bytes=1 << 30)


def test_agent_once_registers_takes_and_reports_earnings(market: Market, tmp_path: Path) -> None:
    signed = pack_tiny_model(tmp_path / "model")
    host_model(hosted_blobs(), tmp_path / "model", (0, 1))
    runner = CliRunner()
    first = runner.invoke(build_app(), ["relay", "agent", "--once"])
    assert first.exit_code == 0, first.output
    assert "registered (tx 0x" in first.output
    assert market.admin.relay_info(market.relay.address).registered
    order_id = market.pull(signed.model_root)
    second = runner.invoke(build_app(), ["relay", "agent", "--once"])
    assert second.exit_code == 0, second.output
    assert "already registered" in second.output
    assert f"order {order_id}: taken" in second.output
    report = runner.invoke(build_app(), ["relay", "earnings"])
    assert report.exit_code == 0, report.output
    assert f"order {order_id}: taken down {DOWN} paid 0 wei" in report.output
    assert f"unwithdrawn credits: {DOWN} wei" in report.output


def test_a_bad_chain_key_is_a_config_error(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_RELAY_CHAIN_KEY", "not-a-key")
    result = CliRunner().invoke(build_app(), ["relay", "earnings"])
    assert result.exit_code != 0
    assert "AGIHUB_RELAY_CHAIN_KEY is not a valid private key" in str(result.exception)


@pytest.mark.parametrize("missing", ["AGIHUB_RELAY_MARKET", "AGIHUB_RELAY_CHAIN_KEY"])
def test_a_missing_market_or_key_is_named(
    market: Market, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    result = CliRunner().invoke(build_app(), ["relay", "earnings"])
    assert result.exit_code != 0
    assert f"{missing} is not set" in str(result.exception)


def test_options_override_the_settings(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_RELAY_CHAIN_KEY", "not-a-key")
    key = market.relay.account.key.hex()
    result = CliRunner().invoke(build_app(), ["relay", "earnings", "--chain-key", key])
    assert result.exit_code == 0, result.output
    assert "total earned: 0 wei" in result.output
