"""``GET /tasks/{task_id}``: progress and outcome of a worker task; ``GET /placements/{model_root}``:
where a model's shards live and how their last audits went."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from agihub_services.api import schemas
from agihub_services.api.deps import EngineDep
from agihub_services.api.errors import ApiProblem
from agihub_services.db.schema import AuditResult, ShardPlacement, StoredPackage, TaskRecord

router = APIRouter(tags=["tasks"], responses=schemas.ERROR_RESPONSES)

TaskIdPath = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{8,64}$", description="the task id (a UUID)")]
RootPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="model root, 64 lower-case hex")]


class TaskProgress(BaseModel):
    """A task's state, its progress (``done`` of ``total``, bytes for transfers) and outcome."""

    task_id: str
    name: str
    state: str
    done: int
    total: int
    attempts: int
    detail: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class Placement(BaseModel):
    shard_index: int
    relay_url: str
    operator: str
    state: str
    last_audit: str | None
    last_audit_at: datetime | None


class ModelPlacements(BaseModel):
    model_root: str
    k: int
    n: int
    healthy_shards: int
    placements: list[Placement]


@router.get("/tasks/{task_id}", response_model=TaskProgress)
def get_task(engine: EngineDep, task_id: TaskIdPath) -> TaskProgress:
    """One task's progress; poll it, or follow ``agihub task status --follow``."""
    with Session(engine) as session:
        row = session.get(TaskRecord, task_id)
        if row is None:
            raise ApiProblem(404, "not_found", f"no task {task_id}")
        return TaskProgress.model_validate(row, from_attributes=True)


@router.get("/placements/{model_root}", response_model=ModelPlacements)
def get_placements(engine: EngineDep, model_root: RootPath) -> ModelPlacements:
    """Every copy of every shard of a model the workers placed, with its latest audit."""
    with Session(engine) as session:
        package = session.get(StoredPackage, model_root)
        if package is None:
            raise ApiProblem(404, "not_found", f"no placed package with model root {model_root}")
        rows = session.scalars(
            select(ShardPlacement)
            .where(ShardPlacement.model_root == model_root)
            .order_by(ShardPlacement.shard_index, ShardPlacement.id)
        ).all()
        audits = session.scalars(
            select(AuditResult).where(AuditResult.model_root == model_root).order_by(AuditResult.id)
        ).all()
        latest = {(a.shard_index, a.relay_url): a for a in audits}
        placements = [
            Placement(
                shard_index=r.shard_index,
                relay_url=r.relay_url,
                operator=r.operator,
                state=r.state,
                last_audit=latest[(r.shard_index, r.relay_url)].outcome
                if (r.shard_index, r.relay_url) in latest
                else None,
                last_audit_at=latest[(r.shard_index, r.relay_url)].checked_at
                if (r.shard_index, r.relay_url) in latest
                else None,
            )
            for r in rows
        ]
        healthy = len({p.shard_index for p in placements if p.state == "healthy"})
        return ModelPlacements(
            model_root=model_root, k=package.k, n=package.n, healthy_shards=healthy, placements=placements
        )
