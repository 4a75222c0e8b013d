"""``agihub api run``: serve the marketplace API with uvicorn."""

from __future__ import annotations

import typer

from agihub_services.api.settings import ApiSettings
from agihub_services.config import apply_env_file, load_settings


def register(app: typer.Typer) -> None:
    api_app = typer.Typer(help="The marketplace API.", no_args_is_help=True)

    @api_app.command("run")
    def run(
        host: str = typer.Option(None, help="bind address (AGIHUB_API_HOST)"),
        port: int = typer.Option(None, help="port (AGIHUB_API_PORT)"),
    ) -> None:
        """Serve the API (migrate the database first with `agihub db upgrade`)."""
        import uvicorn

        from agihub_services.api.app import create_app

        apply_env_file()
        overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        settings = load_settings(ApiSettings, **overrides)
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")

    app.add_typer(api_app, name="api")
