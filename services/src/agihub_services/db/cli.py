"""``agihub db upgrade|current``: apply and inspect the shared schema's migrations."""

from __future__ import annotations

import typer

from agihub_services.config import CommonSettings, apply_env_file, load_settings
from agihub_services.db import migrate
from agihub_services.db.engine import check_reachable, redact


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="The shared database: migrations and status.", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
        """Apply migrations up to REVISION (default: the newest)."""
        apply_env_file()
        url = load_settings(CommonSettings).effective_database_url
        check_reachable(url)
        migrate.upgrade(url, revision)
        typer.echo(f"{redact(url)} at revision {migrate.current_revision(url)}")

    @db_app.command("current")
    def current() -> None:
        """Print the database's revision and the newest one shipped."""
        apply_env_file()
        url = load_settings(CommonSettings).effective_database_url
        check_reachable(url)
        typer.echo(f"current={migrate.current_revision(url)} head={migrate.head_revision()}")

    app.add_typer(db_app, name="db")
