"""The catalogue of packages the workers look after (``packages`` table): registering one is a row
that names its signed manifest and where its files are, so tasks can refer to it by model root."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agihub.errors import ConfigError
from agihub.storage.manifest import SignedManifest, load_manifest
from agihub.storage.package import MANIFEST_NAME
from agihub_services.db.engine import session_scope
from agihub_services.db.schema import StoredPackage


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
