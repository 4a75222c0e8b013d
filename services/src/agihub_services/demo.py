"""``agihub demo``: the end-to-end walk-through on the embedded default, printed step by step.

It starts its own stack (chain node, SQLite, filesystem broker, worker, API) in a temporary data dir on
free loopback ports, runs each step against the real components, and stops everything at the end.
Steps are added here as capabilities land; each prints who did what.
"""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agihub_services.dev import components as comp
from agihub_services.dev.settings import DevSettings
from agihub_services.dev.supervisor import Supervisor

Echo = Callable[[str], None]


@dataclass
class DemoContext:
    settings: DevSettings
    echo: Echo
    facts: dict[str, Any]

    @property
    def rpc_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.chain_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.api_port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def step_stack(ctx: DemoContext) -> None:
    chain = comp.probe_chain(ctx.rpc_url)
    ctx.echo(f"chain node  {ctx.rpc_url}  chain id {chain['chain_id']}, block {chain['block']}")
    health = comp.probe_api(ctx.api_url)
    ctx.echo(
        f"api         {ctx.api_url}/health -> {health['status']}, schema revision "
        f"{health['database']['revision']}"
    )


def step_worker(ctx: DemoContext) -> None:
    from agihub_services.queue import ping_worker

    started = time.perf_counter()
    reply = ping_worker(ctx.settings, timeout=30)
    took = (time.perf_counter() - started) * 1000
    ctx.echo(
        f"producer -> filesystem broker -> worker {reply['instance']} -> {reply['database']} "
        f"heartbeat, round trip {took:.0f} ms"
    )
    beats = comp.probe_api(ctx.api_url)["heartbeats"]
    ctx.echo(f"api sees {len(beats)} worker heartbeat(s): " + ", ".join(b["instance"] for b in beats))


STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("the local stack is up: chain node, database, worker, API", step_stack),
    ("a task travels producer -> broker -> worker -> shared database", step_worker),
]


def run(echo: Echo, data_dir: Path | None = None) -> None:
    """Start a private stack, run every step, stop the stack (also on failure)."""
    with tempfile.TemporaryDirectory(prefix="agihub-demo-") as tmp:
        settings = DevSettings(
            AGIHUB_DATA_DIR=data_dir or Path(tmp),
            chain_port=_free_port(),  # type: ignore[call-arg]
            api_port=_free_port(),
            AGIHUB_DATABASE_URL="",
            AGIHUB_BROKER_URL="",
        )
        supervisor = Supervisor(settings, echo=lambda line: echo(f"    {line}"))
        echo(f"agihub demo: embedded stack in {settings.data_dir}")
        supervisor.acquire_lock()
        try:
            supervisor.start()
            ctx = DemoContext(settings, echo=lambda line: echo(f"    {line}"), facts={})
            for number, (title, fn) in enumerate(STEPS, start=1):
                echo(f"[{number}/{len(STEPS)}] {title}")
                fn(ctx)
            echo("demo finished: every step ran against real processes")
        finally:
            supervisor.stop()
