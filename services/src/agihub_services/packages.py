"""The catalogue of packages the workers look after (``packages`` table): registering one is a row
that names its signed manifest and where its files are, so tasks can refer to it by model root."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agihub.errors import ConfigError
from agihub.storage.manifest import SignedManifest, load_manifest
from agihub.storage.package import MANIFEST_NAME
from agihub.transfer.plan import RetrievalPlan, availability_from_audits, plan_retrieval
from agihub_services.db.engine import session_scope
from agihub_services.db.schema import AuditResult, ShardPlacement, StoredPackage


def register_package(engine: Engine, package_dir: str | Path) -> SignedManifest:
    """Record a packed model (its signature is checked on load); registering again updates the path."""
    source = Path(package_dir).resolve()
    if not (source / MANIFEST_NAME).is_file():
        raise ConfigError(f"{source} has no {MANIFEST_NAME}; make a package with `agihub pack` first")
    signed = load_manifest(source / MANIFEST_NAME)
    body = signed.manifest
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(StoredPackage).values(
        model_root=body.model_root,
        manifest=signed.to_bytes().decode(),
        source_dir=str(source),
        k=body.erasure.k,
        n=body.erasure.n,
        created_at=datetime.now(UTC),
    )
    with session_scope(engine) as session:
        session.execute(
            stmt.on_conflict_do_update(index_elements=["model_root"], set_={"source_dir": str(source)})
        )
    return signed


def healthy_placements(engine: Engine, model_root: str) -> list[tuple[int, str, str]]:
    """Healthy copies of a model's shards as (shard index, relay URL, operator), oldest first."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(ShardPlacement.shard_index, ShardPlacement.relay_url, ShardPlacement.operator)
            .where(ShardPlacement.model_root == model_root, ShardPlacement.state == "healthy")
            .order_by(ShardPlacement.shard_index, ShardPlacement.id)
        ).all()
    return [(index, url, operator) for index, url, operator in rows]


def holdings(engine: Engine, model_root: str) -> dict[str, set[int]]:
    """Healthy copies of a model's shards: relay URL → shard indices it holds."""
    out: dict[str, set[int]] = {}
    for index, url, _ in healthy_placements(engine, model_root):
        out.setdefault(url, set()).add(index)
    return out


def relay_availability(engine: Engine, urls: Iterable[str]) -> dict[str, float]:
    """Each relay's estimated availability from every audit of it (any model): passes against
    failures and timeouts, under the planner's prior (see :func:`agihub.transfer.plan.availability_from_audits`)."""
    wanted = list(urls)
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditResult.relay_url, AuditResult.outcome, func.count())
            .where(AuditResult.relay_url.in_(wanted))
            .group_by(AuditResult.relay_url, AuditResult.outcome)
        ).all()
    passes: dict[str, int] = dict.fromkeys(wanted, 0)
    failures: dict[str, int] = dict.fromkeys(wanted, 0)
    for url, outcome, count in rows:
        (passes if outcome == "pass" else failures)[url] += count
    return {url: availability_from_audits(passes[url], failures[url]) for url in wanted}


def retrieval_plan(engine: Engine, model_root: str, k: int, target: float) -> RetrievalPlan:
    held = holdings(engine, model_root)
    return plan_retrieval(held, relay_availability(engine, held), k, target)
