"""``GET /health``: database reachability and migration state, worker heartbeats, indexer lag."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import agihub
from agihub_services.api.deps import EngineDep
from agihub_services.db import migrate
from agihub_services.db.schema import IndexerCursor, ServiceHeartbeat

router = APIRouter(tags=["health"])


class DatabaseHealth(BaseModel):
    ok: bool
    revision: str | None = None
    head: str
    error: str | None = None


class Heartbeat(BaseModel):
    component: str
    instance: str
    last_seen: datetime
    age_seconds: float


class Health(BaseModel):
    status: str
    version: str
    database: DatabaseHealth
    heartbeats: list[Heartbeat]
    #: Blocks (or versions) the indexer is behind the chain head; None until an indexer reports.
    indexer_lag: int | None = None


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(engine: EngineDep, response: Response) -> Health:
    """Report whether the API can serve: 200 when the database is reachable and migrated, else 503."""
    database = DatabaseHealth(ok=False, head=migrate.head_revision())
    beats: list[Heartbeat] = []
    lag: int | None = None
    try:
        with Session(engine) as session:
            database.revision = (
                session.connection().exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            )
            beats = _heartbeats(session)
            lag = _indexer_lag(session)
        database.ok = database.revision == database.head
        if not database.ok:
            database.error = "database is not migrated to head: run `agihub db upgrade`"
    except SQLAlchemyError as exc:
        database.error = str(getattr(exc, "orig", exc)).splitlines()[0]
    if not database.ok:
        response.status_code = 503
    return Health(
        status="ok" if database.ok else "unavailable",
        version=agihub.__version__,
        database=database,
        heartbeats=beats,
        indexer_lag=lag,
    )


def _indexer_lag(session: Session) -> int | None:
    """Largest head-minus-position over the chains the indexer follows (None until it saw a head)."""
    worst = session.scalar(select(func.max(IndexerCursor.head - IndexerCursor.position)))
    return None if worst is None else max(0, int(worst))


def _heartbeats(session: Session) -> list[Heartbeat]:
    now = datetime.now(UTC)
    rows = session.scalars(select(ServiceHeartbeat).order_by(ServiceHeartbeat.component)).all()
    out = []
    for row in rows:
        seen = row.last_seen if row.last_seen.tzinfo else row.last_seen.replace(tzinfo=UTC)
        out.append(
            Heartbeat(
                component=row.component,
                instance=row.instance,
                last_seen=seen,
                age_seconds=round((now - seen).total_seconds(), 3),
            )
        )
    return out
