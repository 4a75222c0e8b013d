"""Shard placement, audits, validator scores, and task leases (the worker's outbox and crash recovery).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("task_records") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(128), nullable=True))
        batch.add_column(sa.Column("lease_until", UTC_TS, nullable=True))
        batch.add_column(sa.Column("detail", sa.JSON(), nullable=True))
        batch.create_index("ix_task_records_lease_until", ["lease_until"])
    op.create_table(
        "packages",
        sa.Column("model_root", sa.String(64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("source_dir", sa.Text(), nullable=True),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("model_root", name="pk_packages"),
    )
    op.create_table(
        "shard_placements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_root", sa.String(64), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("relay_url", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("placed_at", UTC_TS, nullable=False),
        sa.Column("checked_at", UTC_TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shard_placements"),
        sa.UniqueConstraint("model_root", "shard_index", "relay_url", name="uq_shard_placements_model_root"),
    )
    op.create_index("ix_shard_placements_model_root", "shard_placements", ["model_root"])
    op.create_table(
        "audit_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_root", sa.String(64), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("used_at", UTC_TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_challenges"),
    )
    op.create_index("ix_audit_challenges_model_root", "audit_challenges", ["model_root"])
    op.create_table(
        "audit_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_root", sa.String(64), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("relay_url", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("checked_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_results"),
    )
    op.create_index("ix_audit_results_model_root", "audit_results", ["model_root"])
    op.create_table(
        "validator_scores",
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("contribution_id", sa.BigInteger(), nullable=False),
        sa.Column("validator", sa.String(66), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("score", sa.String(78), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("commit_tx", sa.String(128), nullable=True),
        sa.Column("reveal_tx", sa.String(128), nullable=True),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("chain", "contribution_id", "validator", name="pk_validator_scores"),
    )


def downgrade() -> None:
    for table in ("validator_scores", "audit_results", "audit_challenges", "shard_placements", "packages"):
        op.drop_table(table)
    with op.batch_alter_table("task_records") as batch:
        batch.drop_index("ix_task_records_lease_until")
        for column in ("detail", "lease_until", "owner", "payload"):
            batch.drop_column(column)
