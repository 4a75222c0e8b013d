"""``agihub dev`` (run the local stack) and ``agihub dev status`` (probe it)."""

from __future__ import annotations

import typer

from agihub_services.config import apply_env_file, load_settings
from agihub_services.dev.settings import DevSettings


def _settings() -> DevSettings:
    apply_env_file()
    return load_settings(DevSettings)


def register(app: typer.Typer) -> None:
    dev_app = typer.Typer(
        help="Run the whole stack locally (chain node, database, workers, API).", invoke_without_command=True
    )

    @dev_app.callback()
    def dev(ctx: typer.Context) -> None:
        """Start the embedded stack and supervise it until Ctrl-C.

        Uses PostgreSQL/Redis instead when AGIHUB_DATABASE_URL / AGIHUB_BROKER_URL point at them.
        """
        if ctx.invoked_subcommand is not None:
            return
        from agihub_services.dev import preflight, supervisor

        settings = _settings()
        preflight.run_all(settings)
        supervisor.run(settings, echo=lambda line: typer.echo(f"[dev] {line}"))

    @dev_app.command("status")
    def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
        """Report each component's health; exit status 1 when any is unhealthy."""
        from agihub_services.dev import status as dev_status

        statuses = dev_status.collect(_settings())
        if as_json:
            typer.echo(dev_status.as_json(statuses))
        else:
            for s in statuses:
                typer.echo(f"{s.name:<11} {'ok  ' if s.healthy else 'FAIL'} {s.detail}")
        if not all(s.healthy for s in statuses):
            raise typer.Exit(1)

    app.add_typer(dev_app, name="dev")
