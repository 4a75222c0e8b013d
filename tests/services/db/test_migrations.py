"""The shared schema's migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.db.schema import Base


def test_upgrade_to_head_is_idempotent_and_matches_the_declared_schema(database_url: str) -> None:
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)  # a second run changes nothing
    assert migrate.current_revision(database_url) == migrate.head_revision()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"schema.py and the migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url, "head")
    from alembic import command

    command.downgrade(migrate.alembic_config(database_url), "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
