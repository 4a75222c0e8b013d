"""Entry point of the ``agihub`` command: builtin commands plus installed plugins."""

from __future__ import annotations

import importlib
import logging
import sys
from importlib.metadata import entry_points

import typer

from agihub.errors import AgihubError

log = logging.getLogger(__name__)

PLUGIN_GROUP = "agihub.cli"
# Builtin command modules of the SDK itself; each exposes ``register(app)``.
BUILTIN_MODULES: tuple[str, ...] = ("agihub.cli.storage", "agihub.cli.powoc", "agihub.cli.order")


def build_app() -> typer.Typer:
    """Assemble the command tree from builtin modules and every installed plugin."""
    app = typer.Typer(
        name="agihub",
        help="agihub: a decentralized model hub (relays, escrowed orders, model packages).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root() -> None:
        """agihub: a decentralized model hub."""

    @app.command("version")
    def version() -> None:
        """Print the SDK version."""
        from agihub import __version__

        typer.echo(__version__)

    for module_name in BUILTIN_MODULES:
        importlib.import_module(module_name).register(app)
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            typer.echo(f"warning: command group {ep.name!r} unavailable: {exc}", err=True)
            continue
        register(app)
    return app


def run(app: typer.Typer, argv: list[str] | None, prog_name: str) -> int:
    """Run a command tree; an :class:`AgihubError` becomes one line on stderr and exit status 1.

    Usage errors are reported by click itself (exit status 2).
    """
    try:
        app(args=argv, prog_name=prog_name)
    except AgihubError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``agihub`` CLI (see :func:`run`)."""
    return run(build_app(), argv, "agihub")


if __name__ == "__main__":
    sys.exit(main())
