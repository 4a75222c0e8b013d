"""Row-level snapshots of everything the indexer writes, for "equals a clean replay" assertions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from agihub_indexer import projection
from agihub_services.db.schema import Base

TABLES = (*projection.POSITION_TABLES, *projection.CREATED_TABLES, *projection.STATE_TABLES, "chain_blocks")


def _normalize(value: Any) -> Any:
    # JSON columns come back as lists/dicts on both backends; compare their canonical text.
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def dump(engine: Engine, chain: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every indexed row of ``chain``, per table, sorted; plus the cursor's position and hash."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in TABLES:
            table = Base.metadata.tables[name]
            rows = conn.execute(select(table).where(table.c.chain == chain)).all()
            out[name] = sorted((tuple(_normalize(v) for v in row) for row in rows), key=repr)
        cursors = Base.metadata.tables["indexer_cursors"]
        row = conn.execute(
            select(cursors.c.position, cursors.c.block_hash).where(cursors.c.chain == chain)
        ).first()
        out["cursor"] = [tuple(row)] if row else []
    return out


def diff(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """Tables whose rows differ, with the rows only in ``a`` and only in ``b`` (empty: identical)."""
    out = {}
    for name in sorted(set(a) | set(b)):
        left, right = a.get(name, []), b.get(name, [])
        if left != right:
            out[name] = {
                "only_left": [r for r in left if r not in right][:5],
                "only_right": [r for r in right if r not in left][:5],
                "counts": (len(left), len(right)),
            }
    return out
