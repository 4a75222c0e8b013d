"""Discovery against real relays (uvicorn on loopback): backfill, live events, reconnects, the CLI."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from agihub.errors import ConfigError
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import sign_event
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.db.schema import DiscoveredModelVersion, DiscoveredRelayOffer
from agihub_services.dev.ports import free_port
from agihub_services.discovery import cli
from agihub_services.discovery.follower import RelayProgress, follow, sync_once
from agihub_services.discovery.store import DiscoveryStore
from tests.sdk.test_discovery import publish
from tests.services.relay.conftest import RunningRelay, make_settings


@pytest.fixture
def engine(tmp_path: Path, isolated_env: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def start_relay(tmp_path: Path, name: str, port: int | None = None) -> RunningRelay:
    port = port or free_port()
    settings = make_settings(tmp_path / name, public_url=f"ws://127.0.0.1:{port}", max_limit=5)
    settings.nostr_key = SecretKey.generate().raw.hex()
    return RunningRelay(settings, port)


def restamp(key: SecretKey, event, created_at: int):  # type: ignore[no-untyped-def]
    """``event`` signed again at ``created_at``."""
    return sign_event(key, event.kind, event.content, [list(t) for t in event.tags], created_at=created_at)


def versions(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.execute(select(DiscoveredModelVersion.model_root, DiscoveredModelVersion.name)).all()
    return dict(rows)  # type: ignore[arg-type]


def offers(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.execute(select(DiscoveredRelayOffer.pubkey, DiscoveredRelayOffer.endpoint)).all()
    return dict(rows)  # type: ignore[arg-type]


async def until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.05)


def test_sync_once_reads_every_stored_announcement_and_offer(tmp_path: Path, engine: Engine) -> None:
    publisher = SecretKey.generate()
    with start_relay(tmp_path, "a") as relay:
        roots = [f"{i:064x}" for i in range(1, 8)]  # more than the relay's max_limit of 5
        announced = [kinds.model_version(publisher, r, f"m{i}") for i, r in enumerate(roots)]
        publish(
            relay.ws_url, *(restamp(publisher, ev, 1_700_000_000 + i // 2) for i, ev in enumerate(announced))
        )
        written = asyncio.run(sync_once(relay.ws_url, DiscoveryStore(engine)))
        again = asyncio.run(sync_once(relay.ws_url, DiscoveryStore(engine)))
    assert written == 8 and again == 0  # seven versions and the relay's own offer; then nothing new
    assert versions(engine) == {r: f"m{i}" for i, r in enumerate(roots)}
    relay_pubkey = SecretKey.parse(relay.settings.nostr_key).public_key.hex
    assert offers(engine) == {relay_pubkey: relay.ws_url}


def test_follow_backfills_then_takes_live_events_and_reconnects(tmp_path: Path, engine: Engine) -> None:
    port = free_port()
    store, progress = DiscoveryStore(engine), RelayProgress(f"ws://127.0.0.1:{port}")
    publisher = SecretKey.generate()

    async def scenario() -> None:
        task = asyncio.create_task(follow(progress.url, store, progress, timeout=5, max_backoff=0.3))
        await until(lambda: progress.errors >= 1)  # nothing listens yet: it retries
        with start_relay(tmp_path, "b", port) as relay:
            await asyncio.to_thread(publish, relay.ws_url, kinds.model_version(publisher, "aa" * 32, "early"))
            await until(lambda: progress.synced.is_set() and "aa" * 32 in versions(engine))
            live = kinds.model_version(publisher, "bb" * 32, "live")
            await asyncio.to_thread(publish, relay.ws_url, live)
            await until(lambda: versions(engine).get("bb" * 32) == "live")
            relay_pubkey = SecretKey.parse(relay.settings.nostr_key).public_key.hex
            await until(lambda: relay_pubkey in offers(engine))  # the relay's own offer, too
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    # Each event is written once however it arrived (backfill, or live with the overlap window).
    assert progress.connected == 1 and 2 <= progress.written <= 3


def test_cli_once_and_a_missing_relay_list(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    cli.register(app)
    monkeypatch.setenv("AGIHUB_DATABASE_URL", str(engine.url))
    with pytest.raises(ConfigError, match="AGIHUB_DISCOVERY_RELAYS is empty"):
        CliRunner().invoke(app, ["discovery", "run", "--once"], catch_exceptions=False)
    with start_relay(tmp_path, "c") as relay:
        monkeypatch.setenv("AGIHUB_DISCOVERY_RELAYS", f'["{relay.ws_url}"]')
        result = CliRunner().invoke(app, ["discovery", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert f"{relay.ws_url}: 1 row(s) written" in result.output
    down = f"ws://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["discovery", "run", "--once", "--relay", down])
    assert result.exit_code == 1 and f"{down}: failed" in result.output


def test_discovery_settings_are_documented_and_checked(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agihub_services.config import load_settings
    from agihub_services.discovery.settings import DiscoverySettings

    documented = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    for name in DiscoverySettings.model_fields:
        if name not in {"production", "data_dir", "database_url", "broker_url"}:
            assert f"AGIHUB_DISCOVERY_{name.upper()}" in documented
    monkeypatch.setenv("AGIHUB_DISCOVERY_RELAYS", '["http://relay.example"]')
    with pytest.raises(ConfigError, match="AGIHUB_DISCOVERY_RELAYS"):
        load_settings(DiscoverySettings)
    monkeypatch.setenv("AGIHUB_DISCOVERY_RELAYS", '["wss://a.example", " wss://a.example "]')
    assert load_settings(DiscoverySettings).relays == ["wss://a.example"]
    monkeypatch.setenv("AGIHUB_PRODUCTION", "1")
    with pytest.raises(ConfigError, match="AGIHUB_DATABASE_URL"):
        load_settings(DiscoverySettings)
