"""``agihub dev status``: probe each component of a running dev stack."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from agihub_services.db import migrate
from agihub_services.db.engine import check_reachable, redact
from agihub_services.dev import components as comp
from agihub_services.dev.settings import DevSettings


@dataclass
class ComponentStatus:
    name: str
    healthy: bool
    detail: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(settings: DevSettings) -> dict[str, Any] | None:
    """The running stack's state, or None when no live supervisor owns this data dir."""
    try:
        state = json.loads(settings.state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if _alive(int(state.get("supervisor_pid", 0))) else None


def collect(settings: DevSettings) -> list[ComponentStatus]:
    """Probe database, chain, workers and API of the stack recorded in the state file."""
    state = read_state(settings)
    if state is None:
        return [
            ComponentStatus(
                "supervisor", False, f"not running (no live `agihub dev` for {settings.data_dir})"
            )
        ]
    out = [
        ComponentStatus("supervisor", True, f"pid {state['supervisor_pid']}"),
        _database(state["database_url"]),
    ]
    for name, info in state["components"].items():
        out.append(_component(settings, name, info))
    return out


def _database(url: str) -> ComponentStatus:
    try:
        check_reachable(url)
        revision = migrate.current_revision(url)
    except Exception as exc:
        return ComponentStatus("database", False, str(exc))
    head = migrate.head_revision()
    return ComponentStatus("database", revision == head, f"{redact(url)} revision {revision} (head {head})")


def _component(settings: DevSettings, name: str, info: dict[str, Any]) -> ComponentStatus:
    if not _alive(int(info["pid"])):
        return ComponentStatus(name, False, f"process {info['pid']} is gone; see {info['log']}")
    try:
        if name == "chain":
            detail: Any = comp.probe_chain(info["url"])
        elif name == "indexer":
            detail = comp.probe_indexer(settings.effective_database_url)
        elif name == "discovery":
            detail = comp.probe_discovery(settings.effective_database_url)
        elif name.startswith("relay-"):
            detail = comp.probe_relay(info["url"])
        elif name == "api":
            body = comp.probe_api(info["url"])
            detail = {"status": body["status"], "heartbeats": len(body["heartbeats"])}
        else:
            from agihub_services.queue import ping_worker

            detail = ping_worker(settings, timeout=15.0)
    except Exception as exc:
        return ComponentStatus(name, False, f"{type(exc).__name__}: {exc}")
    return ComponentStatus(name, True, json.dumps(detail, sort_keys=True))


def as_json(statuses: list[ComponentStatus]) -> str:
    return json.dumps([asdict(s) for s in statuses], indent=2)
