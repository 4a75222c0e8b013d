"""Start a private stack, run the demo's steps against it, and stop it (also on failure)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agihub_services.demo import story
from agihub_services.dev import components as comp
from agihub_services.dev.ports import free_port, free_port_pair
from agihub_services.dev.settings import DevSettings
from agihub_services.dev.supervisor import Supervisor
from agihub_services.queue import ping_worker

Echo = Callable[[str], None]


def _check_stack(settings: DevSettings, echo: Echo) -> None:
    rpc = f"http://{settings.host}:{settings.chain_port}"
    api = f"http://{settings.host}:{settings.api_port}"
    chain = comp.probe_chain(rpc)
    health = comp.probe_api(api)
    echo(
        f"chain node {rpc} (chain id {chain['chain_id']}); api {api}/health -> {health['status']}, "
        f"schema {health['database']['revision']}"
    )
    started = time.perf_counter()
    reply = ping_worker(settings, timeout=30)
    echo(
        f"a task went producer -> filesystem broker -> worker {reply['instance']} -> {reply['database']} "
        f"in {(time.perf_counter() - started) * 1000:.0f} ms"
    )


def run(echo: Echo) -> None:
    with tempfile.TemporaryDirectory(prefix="agihub-demo-") as tmp:
        root = Path(tmp)
        settings = DevSettings(  # type: ignore[call-arg]
            AGIHUB_DATA_DIR=root / "stack",
            AGIHUB_DATABASE_URL="",
            AGIHUB_BROKER_URL="",
            chain_port=free_port(),
            api_port=free_port(),
            relay_base_port=free_port_pair(),
        )
        supervisor = Supervisor(settings, echo=lambda line: echo(f"    {line}"))
        echo(f"agihub demo: embedded stack in {root}")
        supervisor.acquire_lock()
        try:
            supervisor.start()
            indent: Echo = lambda line: echo(f"    {line}")  # noqa: E731
            steps = [
                (
                    "the local stack is up: chain node, database, worker, two relay nodes, discovery, indexer, API",
                    None,
                ),
                *story.STEPS,
            ]
            relay_urls = {
                name: f"http://{settings.host}:{port}"
                for name, port in zip(story.PLACEMENT, settings.relay_ports(), strict=True)
            }
            plot = story.Story(
                facts={
                    "market": supervisor.market,
                    "database_url": settings.effective_database_url,
                    "stack": settings,
                },
                relay_urls=relay_urls,
                relay_homes={
                    name: settings.data_dir / "relays" / f"relay-{i}"
                    for i, name in enumerate(story.PLACEMENT, start=1)
                },
                rpc_url=f"http://{settings.host}:{settings.chain_port}",
                workdir=root,
                echo=indent,
            )
            for number, (title, fn) in enumerate(steps, start=1):
                echo(f"[{number}/{len(steps)}] {title}")
                if fn is None:
                    _check_stack(settings, indent)
                else:
                    fn(plot)
            echo("demo finished: every step ran against real processes, contracts and files")
        finally:
            supervisor.stop()
