"""``agihub demo``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Run the end-to-end walk-through on the embedded default (starts and stops its own stack)."""
        from agihub_services.demo import runner

        runner.run(echo=typer.echo)
