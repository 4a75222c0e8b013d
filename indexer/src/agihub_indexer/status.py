"""Read-only view of the indexer's progress: per-chain status and the ``indexer_lag`` metric.

The marketplace API's health endpoint calls :func:`lag`; ``agihub indexer status`` prints
:func:`chain_status`. Both read only the cursor table, so they never block ingestion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from agihub_services.db.schema import IndexerCursor


@dataclass(frozen=True)
class ChainStatus:
    """One chain's ingestion state; ``lag`` is None until the node's head has been seen."""

    chain: str
    position: int
    head: int | None
    lag: int | None
    halted: str | None
    updated_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``updated_at`` as ISO 8601)."""
        out = asdict(self)
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


def chain_status(engine: Engine) -> list[ChainStatus]:
    """Status of every chain with a cursor, sorted by chain; empty if the indexer never ran."""
    table = IndexerCursor.__table__
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.chain)).all()
    except SQLAlchemyError:  # table missing: the schema predates the indexer migration
        return []
    return [
        ChainStatus(
            r.chain,
            r.position,
            r.head,
            None if r.head is None else max(0, r.head - r.position),
            r.halted,
            r.updated_at,
        )
        for r in rows
    ]


def lag(engine: Engine) -> int | None:
    """``indexer_lag``: the largest head-minus-position over all chains, None if nothing is known."""
    lags = [s.lag for s in chain_status(engine) if s.lag is not None]
    return max(lags) if lags else None
