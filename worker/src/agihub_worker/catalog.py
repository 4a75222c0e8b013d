"""What the workers know about packages they look after: manifests, shard placements, audit
challenges and outcomes, and the relays on offer. Plain functions over the shared database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agihub.errors import StorageError
from agihub.storage.manifest import SignedManifest, parse_manifest
from agihub.transfer import Challenge, RelayTarget
from agihub_services.db.engine import session_scope
from agihub_services.db.schema import AuditChallenge, AuditResult, Relay, ShardPlacement, StoredPackage
from agihub_services.packages import healthy_placements, register_package

__all__ = ["register_package"]

HEALTHY, LOST = "healthy", "lost"


class UnknownPackageError(StorageError):
    """No package with this model root has been registered with the workers."""


class NoRelaysError(StorageError):
    """No relay is on offer: none was named and none is registered on chain with an endpoint."""


def _insert(engine: Engine):  # type: ignore[no-untyped-def]
    return pg_insert if engine.dialect.name == "postgresql" else sqlite_insert


def package(engine: Engine, model_root: str) -> tuple[SignedManifest, Path | None]:
    with session_scope(engine) as session:
        row = session.get(StoredPackage, model_root)
        if row is None:
            raise UnknownPackageError(
                f"model {model_root[:16]}… is not registered with the workers; run `agihub publish PACKAGE_DIR` first"
            )
        return parse_manifest(row.manifest.encode()), Path(row.source_dir) if row.source_dir else None


def offered_relays(engine: Engine) -> list[RelayTarget]:
    """Relays registered on chain with an endpoint; the operator is the registering address."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Relay.address, Relay.endpoint).where(
                Relay.registered.is_(True), Relay.endpoint.is_not(None)
            )
        ).all()
    relays = [RelayTarget(endpoint, address) for address, endpoint in rows if endpoint]
    if not relays:
        raise NoRelaysError("no relays are registered on chain with an endpoint; name relays explicitly")
    return relays


def holders(engine: Engine, model_root: str) -> dict[int, list[RelayTarget]]:
    """Healthy placements: shard index → relays holding it."""
    out: dict[int, list[RelayTarget]] = {}
    for index, url, operator in healthy_placements(engine, model_root):
        out.setdefault(index, []).append(RelayTarget(url, operator))
    return out


def lost_relays(engine: Engine, model_root: str) -> frozenset[str]:
    """Relays that lost a shard of this model: never chosen again for it."""
    with session_scope(engine) as session:
        return frozenset(
            session.scalars(
                select(ShardPlacement.relay_url).where(
                    ShardPlacement.model_root == model_root, ShardPlacement.state == LOST
                )
            ).all()
        )


def record_placements(engine: Engine, model_root: str, placed: dict[int, list[RelayTarget]]) -> None:
    """Upsert healthy placements (idempotent: one row per model, shard and relay)."""
    now = datetime.now(UTC)
    rows = [
        {
            "model_root": model_root,
            "shard_index": i,
            "relay_url": r.url,
            "operator": r.operator,
            "state": HEALTHY,
            "placed_at": now,
        }
        for i, relays in placed.items()
        for r in relays
    ]
    if not rows:
        return
    stmt = _insert(engine)(ShardPlacement).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["model_root", "shard_index", "relay_url"], set_={"state": HEALTHY, "placed_at": now}
    )
    with session_scope(engine) as session:
        session.execute(stmt)


def mark(engine: Engine, model_root: str, index: int, url: str, state: str) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(ShardPlacement)
            .where(
                ShardPlacement.model_root == model_root,
                ShardPlacement.shard_index == index,
                ShardPlacement.relay_url == url,
            )
            .values(state=state, checked_at=datetime.now(UTC))
        )


def unused_challenges(engine: Engine, model_root: str, index: int) -> int:
    with session_scope(engine) as session:
        return len(
            session.scalars(
                select(AuditChallenge.id).where(
                    AuditChallenge.model_root == model_root,
                    AuditChallenge.shard_index == index,
                    AuditChallenge.used_at.is_(None),
                )
            ).all()
        )


def add_challenges(engine: Engine, model_root: str, index: int, challenges: Sequence[Challenge]) -> None:
    with session_scope(engine) as session:
        session.add_all(
            AuditChallenge(
                model_root=model_root, shard_index=index, offset=c.offset, length=c.length, sha256=c.sha256
            )
            for c in challenges
        )


def take_challenges(engine: Engine, model_root: str, index: int, count: int) -> list[Challenge]:
    """Mark up to ``count`` unused challenges of a shard used and return them (never handed out twice)."""
    now = datetime.now(UTC)
    taken: list[Challenge] = []
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditChallenge)
            .where(
                AuditChallenge.model_root == model_root,
                AuditChallenge.shard_index == index,
                AuditChallenge.used_at.is_(None),
            )
            .order_by(AuditChallenge.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.used_at = now
            taken.append(Challenge(row.offset, row.length, row.sha256))
    return taken


def record_audit(engine: Engine, model_root: str, index: int, url: str, outcome: str, detail: str) -> None:
    with session_scope(engine) as session:
        session.add(
            AuditResult(
                model_root=model_root,
                shard_index=index,
                relay_url=url,
                outcome=outcome,
                detail=detail,
                checked_at=datetime.now(UTC),
            )
        )
