"""``GET /contributions`` (filtered, newest first) and ``GET /contributions/{chain}/{id}`` with its scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from agihub_services.api import pagination, schemas
from agihub_services.api.deps import EngineDep
from agihub_services.api.errors import ApiProblem
from agihub_services.db.schema import ContributionRow, ScoreRecord

router = APIRouter(prefix="/contributions", tags=["contributions"], responses=schemas.ERROR_RESPONSES)

_KEY_TYPES = (int, str, int)  # (created_block, chain, contribution_id), newest first


def contribution_model(row: ContributionRow) -> schemas.Contribution:
    """The API view of a ``contributions`` row."""
    return schemas.Contribution.model_validate(row, from_attributes=True)


@router.get("", response_model=schemas.Page[schemas.Contribution])
def list_contributions(
    engine: EngineDep,
    chain: schemas.ChainQuery = None,
    contributor: schemas.AddressQuery = None,
    model: schemas.HashQuery = None,
    epoch: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    final: Annotated[bool | None, Query(description="only contributions whose score is (not) final")] = None,
    limit: pagination.LimitQuery = pagination.DEFAULT_PAGE_SIZE,
    cursor: pagination.CursorQuery = None,
) -> schemas.Page[schemas.Contribution]:
    """Contributions matching every given filter, newest first, with their score and reward."""
    filters = {"chain": chain, "contributor": contributor, "model": model, "epoch": epoch, "final": final}
    digest = pagination.filter_digest(filters)
    columns = {
        "chain": ContributionRow.chain,
        "contributor": ContributionRow.contributor,
        "model": ContributionRow.model_root,
        "epoch": ContributionRow.epoch,
        "final": ContributionRow.final,
    }
    query = select(ContributionRow).order_by(
        ContributionRow.created_block.desc(),
        ContributionRow.chain.desc(),
        ContributionRow.contribution_id.desc(),
    )
    for name, column in columns.items():
        if filters[name] is not None:
            query = query.where(column == filters[name])
    if cursor is not None:
        key = tuple_(ContributionRow.created_block, ContributionRow.chain, ContributionRow.contribution_id)
        query = query.where(key < tuple_(*pagination.decode_cursor(cursor, digest, _KEY_TYPES)))
    with Session(engine) as session:
        rows = list(session.scalars(query.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = pagination.encode_cursor((last.created_block, last.chain, last.contribution_id), digest)
    return schemas.Page[schemas.Contribution](
        items=[contribution_model(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{chain}/{contribution_id}",
    response_model=schemas.ContributionDetail,
)
def get_contribution(
    engine: EngineDep, chain: schemas.ChainPath, contribution_id: schemas.IdPath
) -> schemas.ContributionDetail:
    """One contribution with every validator commit, reveal and the final score, oldest first."""
    with Session(engine) as session:
        row = session.get(ContributionRow, (chain, contribution_id))
        if row is None:
            raise ApiProblem(404, "not_found", f"no contribution {contribution_id} on {chain}")
        scores = session.scalars(
            select(ScoreRecord)
            .where(ScoreRecord.chain == chain, ScoreRecord.contribution_id == contribution_id)
            .order_by(ScoreRecord.block_number, ScoreRecord.log_index)
        ).all()
        return schemas.ContributionDetail(
            **contribution_model(row).model_dump(),
            scores=[schemas.Score.model_validate(s, from_attributes=True) for s in scores],
        )
