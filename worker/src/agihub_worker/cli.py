"""``agihub worker run``: start a Celery worker on the configured broker."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    worker_app = typer.Typer(help="Celery workers that move shards and compute scores.", no_args_is_help=True)

    @worker_app.command("run")
    def run(
        concurrency: int = typer.Option(None, help="worker processes (AGIHUB_WORKER_CONCURRENCY)"),
        loglevel: str = typer.Option("INFO", help="log level"),
        hostname: str = typer.Option(None, help="worker node name (default celery@<host>)"),
    ) -> None:
        """Run a worker consuming every agihub queue until stopped (SIGTERM: warm shutdown)."""
        from agihub_services.config import apply_env_file

        apply_env_file()
        from agihub_services.queue import QUEUES
        from agihub_worker.app import app as celery_app
        from agihub_worker.app import settings

        argv = [
            "worker",
            f"--loglevel={loglevel}",
            f"--queues={','.join(QUEUES)}",
            f"--concurrency={concurrency or settings.concurrency}",
            "--without-gossip",
            "--without-mingle",
        ]
        if hostname:
            argv.append(f"--hostname={hostname}")
        celery_app.worker_main(argv)

    app.add_typer(worker_app, name="worker")
