"""``agihub discovery run``: keep the shared database's model cards and relay offers current."""

from __future__ import annotations

import asyncio
import logging

import typer
from websockets.exceptions import WebSocketException

from agihub.discovery import DiscoveryError
from agihub.errors import ConfigError
from agihub_services.config import apply_env_file, load_settings
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.discovery.follower import follow_all, sync_once
from agihub_services.discovery.settings import DiscoverySettings
from agihub_services.discovery.store import DiscoveryStore


def register(app: typer.Typer) -> None:
    """Add the ``discovery`` command group to the agihub CLI."""
    discovery_app = typer.Typer(help="Model cards and relay offers from relays into the database.")

    @discovery_app.command("run")
    def run(
        relay: list[str] = typer.Option(
            None, help="relay ws(s):// URL; repeatable (AGIHUB_DISCOVERY_RELAYS)"
        ),
        once: bool = typer.Option(False, help="read what the relays store now, then exit"),
    ) -> None:
        """Subscribe to the relays' model versions (31337) and offers (31338) and store them."""
        apply_env_file()
        settings = load_settings(DiscoverySettings, **({"relays": relay} if relay else {}))
        if not settings.relays:
            raise ConfigError("AGIHUB_DISCOVERY_RELAYS is empty: give a JSON list of relay ws:// URLs")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        migrate.upgrade(settings.effective_database_url)
        engine = make_engine(settings.effective_database_url)
        store = DiscoveryStore(engine)
        try:
            if once:
                asyncio.run(_once(settings, store))
            else:
                asyncio.run(
                    follow_all(
                        settings.relays, store, timeout=settings.timeout_s, max_backoff=settings.max_backoff_s
                    )
                )
        finally:
            engine.dispose()

    app.add_typer(discovery_app, name="discovery")


async def _once(settings: DiscoverySettings, store: DiscoveryStore) -> None:
    failed = 0
    for url in settings.relays:
        try:
            written = await sync_once(url, store, settings.timeout_s)
        except (DiscoveryError, OSError, TimeoutError, WebSocketException) as exc:
            failed += 1
            typer.echo(f"{url}: failed: {exc}", err=True)
            continue
        typer.echo(f"{url}: {written} row(s) written")
    if failed:
        raise typer.Exit(1)
