"""The health check a worker answers: prove it can reach the broker (it got the task) and the database."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agihub_services.db.engine import session_scope
from agihub_services.db.schema import ServiceHeartbeat


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_heartbeat(engine: Engine, component: str, instance: str, detail: dict[str, Any]) -> datetime:
    """Upsert this instance's heartbeat row (idempotent: one row per component and instance)."""
    now = datetime.now(UTC)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(ServiceHeartbeat).values(
        component=component, instance=instance, last_seen=now, detail=detail
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["component", "instance"], set_={"last_seen": now, "detail": detail}
    )
    with session_scope(engine) as session:
        session.execute(stmt)
    return now


def ping(engine: Engine, origin: str) -> dict[str, Any]:
    """Record a heartbeat and describe this worker process."""
    instance = instance_name()
    seen = record_heartbeat(engine, "worker", instance, {"origin": origin})
    return {"instance": instance, "pid": os.getpid(), "database": engine.dialect.name, "at": seen.isoformat()}
