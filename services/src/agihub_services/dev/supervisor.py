"""Start, watch and stop the dev stack's processes.

Each child runs in its own session (process group) so that stopping it also stops its children (Celery's
pool, node's helpers); on Linux the kernel also sends it SIGTERM if the supervisor dies, so a killed
supervisor leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from agihub.errors import ConfigError
from agihub_services.db import migrate
from agihub_services.dev import components as comp
from agihub_services.dev.settings import DevSettings

log = logging.getLogger(__name__)

MAX_RESTARTS = 3
STOP_GRACE_S = 15.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Running:
    component: comp.Component
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    restarts: int = 0


class Supervisor:
    """Owns the children of one ``agihub dev`` run."""

    def __init__(self, settings: DevSettings, echo: Callable[[str], None]) -> None:
        self.settings = settings
        self.echo = echo
        self.env = comp.stack_env(settings)
        self.running: dict[str, Running] = {}
        self._lock_fd: int | None = None
        self._stopping = False
        self.market = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        """One ``agihub dev`` per data dir."""
        self.settings.lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"another `agihub dev` is running with data dir {self.settings.data_dir}: "
                "stop it or set AGIHUB_DATA_DIR to another folder"
            ) from None
        self._lock_fd = fd

    def start(self) -> None:
        """Migrate the database, then start every component and wait until each is healthy."""
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        self.echo(f"database  {self.settings.effective_database_url}: migrating")
        migrate.upgrade(self.settings.effective_database_url)
        for component in comp.components(self.settings):
            if component.name == "indexer":
                component = replace(
                    component, env={**component.env, "AGIHUB_INDEXER_MARKET_ADDRESS": self.market}
                )
            if component.name.startswith("worker-"):
                component = replace(
                    component, env={**component.env, **comp.validator_env(self.settings, self.market)}
                )
            self._spawn(component)
            self._wait_healthy(component)
            if component.name == "chain":
                self.market = comp.deploy_market(component.url)
                self.echo(f"market    deployed at {self.market} by the dev admin account")
        self.write_state()

    def _spawn(self, component: comp.Component, restarts: int = 0) -> None:
        log_path = self.settings.log_dir / f"{component.name}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        process = subprocess.Popen(
            component.argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env, **component.env},
            cwd=component.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.running[component.name] = Running(component, process, log_path, log_file, restarts)
        self.echo(f"{component.name:<9} started (pid {process.pid}), log {log_path}")

    def _wait_healthy(self, component: comp.Component) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._stopping:
                raise ConfigError("interrupted while starting")
            running = self.running[component.name]
            if running.process.poll() is not None:
                raise ConfigError(
                    f"{component.name} exited with status {running.process.returncode} "
                    f"while starting; see {running.log_path}"
                )
            try:
                detail = self.probe(component)
            except Exception as exc:  # any probe failure means "not ready yet"
                last_error = str(exc) or type(exc).__name__
                time.sleep(0.5)
                continue
            self.echo(f"{component.name:<9} healthy {detail}")
            return
        raise ConfigError(
            f"{component.name} did not become healthy within {self.settings.start_timeout_s:.0f}s "
            f"({last_error}); see {self.running[component.name].log_path}"
        )

    def probe(self, component: comp.Component) -> dict[str, Any]:
        if component.name == "chain":
            return comp.probe_chain(component.url)
        if component.name.startswith("relay-"):
            return comp.probe_relay(component.url)
        if component.name == "indexer":
            return comp.probe_indexer(self.settings.effective_database_url)
        if component.name == "discovery":
            return comp.probe_discovery(self.settings.effective_database_url)
        if component.name == "api":
            body = comp.probe_api(component.url)
            return {"status": body["status"], "database": body["database"]["revision"]}
        from agihub_services.queue import ping_worker

        return ping_worker(self.settings, timeout=10.0)

    def watch(self, poll_s: float = 0.5) -> None:
        """Restart a crashed component (bounded); return when asked to stop."""
        while not self._stopping:
            for name, running in list(self.running.items()):
                code = running.process.poll()
                if code is None or self._stopping:
                    continue
                if running.restarts >= MAX_RESTARTS:
                    raise ConfigError(
                        f"{name} keeps exiting (status {code}, {running.restarts} restarts); "
                        f"see {running.log_path}"
                    )
                self.echo(f"{name:<9} exited with status {code}; restarting")
                running.log_file.close()
                self._spawn(running.component, running.restarts + 1)
                self.write_state()
            time.sleep(poll_s)

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def stop(self) -> None:
        """SIGTERM each component (reverse start order), then SIGKILL its group after a grace period.

        Only the group leader gets SIGTERM: a Celery worker then does a warm shutdown, finishing or
        returning its tasks, instead of having its pool processes killed under it.
        """
        self._stopping = True
        for running in reversed(list(self.running.values())):
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for running in self.running.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                running.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _signal_group(running.process, signal.SIGKILL)
                running.process.wait()
            # Children of the component (e.g. Celery pool) share its group; make sure none linger.
            _signal_group(running.process, signal.SIGKILL)
            running.log_file.close()
            self.echo(f"{running.component.name:<9} stopped")
        self.running.clear()
        self.settings.state_file.unlink(missing_ok=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- state for `agihub dev status` -----------------------------------------------------------
    def write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "started_at": time.time(),
            "database_url": self.settings.effective_database_url,
            "broker_url": self.settings.effective_broker_url,
            "market": self.market,
            "components": {
                name: {
                    "pid": r.process.pid,
                    "url": r.component.url,
                    "log": str(r.log_path),
                    "restarts": r.restarts,
                }
                for name, r in self.running.items()
            },
        }
        path = self.settings.state_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, path)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def run(settings: DevSettings, echo: Callable[[str], None]) -> None:
    """Start the stack and supervise it until SIGINT/SIGTERM; always stops what it started."""
    supervisor = Supervisor(settings, echo)
    supervisor.acquire_lock()
    previous = {sig: signal.signal(sig, supervisor.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        echo(
            f"ready: chain {settings.host}:{settings.chain_port}, api http://{settings.host}:{settings.api_port}"
            f", logs in {settings.log_dir}. `agihub dev status` reports health; Ctrl-C stops everything."
        )
        supervisor.watch()
    finally:
        echo("stopping")
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
