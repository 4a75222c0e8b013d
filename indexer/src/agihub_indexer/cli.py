"""``agihub indexer run|status``: thin adapters over :mod:`agihub_indexer.runtime` and ``status``."""

from __future__ import annotations

import json
import logging
import signal
import threading

import typer

from agihub_indexer import status as status_mod
from agihub_indexer.runtime import make_follower, require_schema
from agihub_indexer.settings import IndexerSettings
from agihub_services.config import CommonSettings, apply_env_file, load_settings
from agihub_services.db.engine import check_reachable, make_engine, redact

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    """Add the ``indexer`` command group to the ``agihub`` CLI."""
    indexer_app = typer.Typer(help="Chain events into the shared database.", no_args_is_help=True)

    @indexer_app.command("run")
    def run(
        until_caught_up: bool = typer.Option(
            False, "--until-caught-up", help="exit once the confirmed head is indexed instead of following"
        ),
    ) -> None:
        """Backfill from AGIHUB_INDEXER_START_BLOCK (or the cursor), then follow the head."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        apply_env_file()
        settings = load_settings(IndexerSettings)
        url = settings.effective_database_url
        check_reachable(url)
        require_schema(url)
        engine = make_engine(url)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        follower = make_follower(settings, engine, stop=stop)
        log.info("indexing %s from %s into %s", settings.chain, settings.rpc_url, redact(url))
        try:
            progress = follower.run(stop, until_caught_up=until_caught_up)
        finally:
            follower.close()
            follower.source.close()
            engine.dispose()
        typer.echo(f"indexed up to {progress.position} (head {progress.head}, lag {progress.lag})")

    @indexer_app.command("status")
    def status(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """Per chain: indexed position, node head, lag, and why it halted (if it did)."""
        apply_env_file()
        # Status only reads the database: it needs none of the run settings (node, market address).
        url = load_settings(CommonSettings).effective_database_url
        check_reachable(url)
        engine = make_engine(url)
        try:
            rows = status_mod.chain_status(engine)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps([r.as_dict() for r in rows]))
            return
        if not rows:
            typer.echo("no chain indexed yet")
        for r in rows:
            line = f"{r.chain}: position={r.position} head={r.head} lag={r.lag}"
            typer.echo(line + (f" HALTED: {r.halted}" if r.halted else ""))

    app.add_typer(indexer_app, name="indexer")
