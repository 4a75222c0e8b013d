"""`agihub indexer run|status`, the lag metric and the settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from agihub.cli.main import build_app
from agihub.errors import ConfigError
from agihub_indexer import status
from agihub_indexer.settings import IndexerSettings
from agihub_indexer.store import Store
from agihub_services.config import load_settings
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from tests.indexer import synthetic
from tests.indexer.market_kit import Market

runner = CliRunner()


def test_settings_read_the_indexer_prefix(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_INDEXER_CONFIRMATIONS", "12")
    monkeypatch.setenv("AGIHUB_INDEXER_REORG_LIMIT", "32")
    settings = load_settings(IndexerSettings)
    assert (settings.confirmations, settings.reorg_limit, settings.rpc_url) == (
        12,
        32,
        "http://127.0.0.1:8545",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGIHUB_INDEXER_REORG_LIMIT", "0"),
        ("AGIHUB_INDEXER_BATCH_SIZE", "x"),
        ("AGIHUB_INDEXER_CHAIN", "solana"),
    ],
)
def test_bad_settings_name_the_variable(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, name, value
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(IndexerSettings)


def test_production_refuses_zero_confirmations_and_no_market(isolated_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGIHUB_PRODUCTION", "1")
    monkeypatch.setenv("AGIHUB_DATABASE_URL", "postgresql://db/agihub")
    monkeypatch.setenv("AGIHUB_BROKER_URL", "redis://r")
    with pytest.raises(ConfigError, match=r"CONFIRMATIONS.*MARKET_ADDRESS"):
        load_settings(IndexerSettings)
    monkeypatch.setenv("AGIHUB_INDEXER_CONFIRMATIONS", "12")
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", "0x" + "11" * 20)
    assert load_settings(IndexerSettings).confirmations == 12


def test_lag_is_none_before_any_run_and_head_minus_position_after(engine: Engine) -> None:
    assert status.lag(engine) is None
    store = Store(engine, synthetic.CHAIN)
    store.ensure_cursor(1)
    assert status.lag(engine) is None  # head not seen yet
    store.write_batch(synthetic.batch(1, 4), head=10)
    assert status.lag(engine) == 6
    other = Store(engine, "evm:1")
    other.ensure_cursor(0)
    other.record_head(100)
    assert status.lag(engine) == 101  # the worst chain


def test_lag_on_a_database_without_the_indexer_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0001")
    eng = make_engine(url)
    assert status.lag(eng) is None and status.chain_status(eng) == []
    eng.dispose()


def _cli_env(monkeypatch: pytest.MonkeyPatch, url: str, market: Market | None = None) -> None:
    monkeypatch.setenv("AGIHUB_DATABASE_URL", url)
    if market is not None:
        monkeypatch.setenv("AGIHUB_INDEXER_RPC_URL", market.url)
        monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", market.address)


@pytest.mark.node
def test_run_until_caught_up_then_status(isolated_env: Path, monkeypatch, scenario_market: Market) -> None:
    url = f"sqlite:///{isolated_env / 'cli.db'}"
    migrate.upgrade(url)
    _cli_env(monkeypatch, url, scenario_market)
    result = runner.invoke(build_app(), ["indexer", "run", "--until-caught-up"])
    assert result.exit_code == 0, result.output
    head = scenario_market.head()
    assert f"indexed up to {head}" in result.output
    shown = runner.invoke(build_app(), ["indexer", "status", "--json"])
    assert shown.exit_code == 0, shown.output
    [row] = json.loads(shown.output)
    assert (row["chain"], row["position"], row["lag"], row["halted"]) == ("evm:31337", head, 0, None)
    text = runner.invoke(build_app(), ["indexer", "status"])
    assert f"evm:31337: position={head} head={head} lag=0" in text.output


def test_run_refuses_an_unmigrated_database(isolated_env: Path, monkeypatch) -> None:
    _cli_env(monkeypatch, f"sqlite:///{isolated_env / 'empty.db'}")
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", "0x" + "11" * 20)
    result = runner.invoke(build_app(), ["indexer", "run"])
    assert result.exit_code != 0
    assert "agihub db upgrade" in str(result.exception)


def test_run_refuses_a_malformed_market_address(isolated_env: Path, monkeypatch) -> None:
    url = f"sqlite:///{isolated_env / 'm.db'}"
    migrate.upgrade(url)
    _cli_env(monkeypatch, url)
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", "0x1234")
    result = runner.invoke(build_app(), ["indexer", "run"])
    assert isinstance(result.exception, ConfigError) and "20-byte" in str(result.exception)


def test_status_with_nothing_indexed(isolated_env: Path, monkeypatch) -> None:
    url = f"sqlite:///{isolated_env / 's.db'}"
    migrate.upgrade(url)
    _cli_env(monkeypatch, url)
    result = runner.invoke(build_app(), ["indexer", "status"])
    assert result.exit_code == 0 and "no chain indexed yet" in result.output
