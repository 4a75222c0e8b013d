"""``agihub publish|download|audit|repair`` hand work to the Celery workers; ``agihub task status``
shows any task's progress. Producers only: tasks are sent by name, nothing imports the worker."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import Engine

from agihub.errors import ConfigError
from agihub_services.config import CommonSettings, apply_env_file, load_settings
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine, session_scope
from agihub_services.db.schema import TaskRecord

FINISHED = ("SUCCESS", "FAILURE", "DEAD_LETTER")
WAIT = typer.Option(True, "--wait/--no-wait", help="follow the task until it finishes")
AS_JSON = typer.Option(False, "--json", help="print JSON for scripts")


def _context() -> tuple[CommonSettings, Engine]:
    apply_env_file()
    settings = load_settings(CommonSettings)
    migrate.upgrade(settings.effective_database_url)
    return settings, make_engine(settings.effective_database_url)


def _relay_spec(values: list[str]) -> list[dict[str, str]] | None:
    """``URL`` or ``URL=OPERATOR`` (the operator groups relays run by one party)."""
    spec = []
    for value in values:
        url, _, operator = value.partition("=")
        if not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise ConfigError(f"--relay {value!r}: expected URL or URL=OPERATOR with an http(s)/ws(s) URL")
        spec.append({"url": url, "operator": operator or url})
    return spec or None


def _send(name: str, kwargs: dict[str, Any]) -> tuple[str, Engine]:
    from agihub_services.queue import make_producer, submit

    settings, engine = _context()
    producer = make_producer(settings)
    try:
        return submit(engine, producer, name, kwargs), engine
    finally:
        producer.close()


def _record(engine: Engine, task_id: str) -> TaskRecord:
    with session_scope(engine) as session:
        row = session.get(TaskRecord, task_id)
        if row is None:
            raise ConfigError(f"no task {task_id} in {engine.url.render_as_string(hide_password=True)}")
        session.expunge(row)
        return row


def _show(row: TaskRecord, as_json: bool) -> None:
    view = {
        "task_id": row.task_id,
        "name": row.name,
        "state": row.state,
        "done": row.done,
        "total": row.total,
        "attempts": row.attempts,
        "detail": row.detail,
        "result": row.result,
        "error": row.error,
    }
    if as_json:
        typer.echo(json.dumps(view, default=str))
        return
    typer.echo(f"{row.name} {row.task_id}: {row.state} ({_fraction(row)}), {row.attempts} deliveries")
    if row.error:
        typer.echo(f"  error: {row.error}")
    if row.result:
        typer.echo("  " + json.dumps(row.result, default=str))


def _fraction(row: TaskRecord) -> str:
    if not row.total:
        return "no progress reported yet"
    return f"{row.done}/{row.total} ({100 * row.done / row.total:.0f}%)"


def follow(engine: Engine, task_id: str, as_json: bool, timeout: float = 3600) -> TaskRecord:
    """Poll until the task finishes; a progress line on a terminal, nothing else in JSON mode."""
    deadline = time.monotonic() + timeout
    row = _record(engine, task_id)
    while row.state not in FINISHED and time.monotonic() < deadline:
        if not as_json and sys.stderr.isatty():
            typer.echo(f"\r{row.state} {_fraction(row)} {row.detail or ''}", nl=False, err=True)
        time.sleep(0.5)
        row = _record(engine, task_id)
    if not as_json and sys.stderr.isatty():
        typer.echo("", err=True)
    return row


def _finish(engine: Engine, task_id: str, wait: bool, as_json: bool) -> None:
    if not wait:
        typer.echo(json.dumps({"task_id": task_id}) if as_json else task_id)
        return
    row = follow(engine, task_id, as_json)
    _show(row, as_json)
    if row.state != "SUCCESS":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command("publish")
    def publish(
        package_dir: Path = typer.Argument(
            ..., help="a package made by `agihub pack` (manifest.json + shards)"
        ),
        relay: list[str] = typer.Option([], help="URL or URL=OPERATOR; default: relays registered on chain"),
        happiness: int = typer.Option(
            None, help="distinct operators required (default: all offered, up to n)"
        ),
        wait: bool = WAIT,
        as_json: bool = AS_JSON,
    ) -> None:
        """Register a package with the workers and place its shards on relays."""
        from agihub_services.packages import register_package

        relays = _relay_spec(relay)  # refuse bad input before anything is recorded
        _, engine = _context()
        signed = register_package(engine, package_dir)
        kwargs = {
            "model_root": signed.manifest.model_root,
            "relays": relays,
            "happiness": happiness,
        }
        task_id, engine = _send("agihub.transfer.publish", kwargs)
        _finish(engine, task_id, wait, as_json)

    @app.command("download")
    def download(
        model_root: str = typer.Argument(..., help="64 hex characters"),
        dest: Path = typer.Argument(..., help="where the rebuilt, verified model goes"),
        wait: bool = WAIT,
        as_json: bool = AS_JSON,
    ) -> None:
        """Fetch a placed model from any k relays holding it (verified, resumable)."""
        task_id, engine = _send(
            "agihub.transfer.fetch", {"model_root": _root(model_root), "dest": str(dest.resolve())}
        )
        _finish(engine, task_id, wait, as_json)

    @app.command("audit")
    def audit(model_root: str, wait: bool = WAIT, as_json: bool = AS_JSON) -> None:
        """Challenge every relay holding a shard of the model for a random byte range."""
        task_id, engine = _send("agihub.maintenance.audit", {"model_root": _root(model_root)})
        _finish(engine, task_id, wait, as_json)

    @app.command("repair")
    def repair(
        model_root: str,
        threshold: int = typer.Option(None, help="repair when fewer distinct shards are healthy (k..n)"),
        wait: bool = WAIT,
        as_json: bool = AS_JSON,
    ) -> None:
        """Rebuild lost shards of the model and place them on other relays."""
        task_id, engine = _send(
            "agihub.maintenance.repair", {"model_root": _root(model_root), "threshold": threshold}
        )
        _finish(engine, task_id, wait, as_json)

    @app.command("plan")
    def plan(
        model_root: str,
        target: float = typer.Option(0.999, help="probability that k distinct shards arrive"),
        as_json: bool = AS_JSON,
    ) -> None:
        """Which relays to contact for a model, and the probability that k distinct shards arrive."""
        from agihub_services.db.schema import StoredPackage
        from agihub_services.packages import holdings, relay_availability, retrieval_plan

        _, engine = _context()
        root = _root(model_root)
        with session_scope(engine) as session:
            package = session.get(StoredPackage, root)
            if package is None:
                raise ConfigError(f"model {root[:16]}… has no placements; publish it first (agihub publish)")
            k, n = package.k, package.n
        chosen = retrieval_plan(engine, root, k, target)
        held = holdings(engine, root)
        availability = relay_availability(engine, held)
        if as_json:
            typer.echo(json.dumps({**chosen.to_dict(), "n": n, "availability": availability}))
            return
        typer.echo(
            f"contact m={chosen.m} of {len(held)} relays: P(k={k} of n={n} shards arrive) = {chosen.probability:.6f}"
        )
        for url in chosen.relays:
            typer.echo(f"  {url}  shards {sorted(held[url])}  availability {availability[url]:.3f}")

    task_app = typer.Typer(help="Worker tasks: progress and outcome.", no_args_is_help=True)

    @task_app.command("status")
    def status(
        task_id: str,
        follow_: bool = typer.Option(False, "--follow", help="wait until it finishes"),
        as_json: bool = AS_JSON,
    ) -> None:
        """Show a task's state, progress (done/total) and result or error."""
        _, engine = _context()
        row = follow(engine, task_id, as_json) if follow_ else _record(engine, task_id)
        _show(row, as_json)

    app.add_typer(task_app, name="task")


def _root(value: str) -> str:
    root = value.lower().removeprefix("0x")
    if len(root) != 64 or any(c not in "0123456789abcdef" for c in root):
        raise ConfigError(f"model root {value!r} must be 64 hex characters")
    return root
