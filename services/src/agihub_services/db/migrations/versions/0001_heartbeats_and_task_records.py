"""Service heartbeats and worker task records.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_heartbeats",
        sa.Column("component", sa.String(32), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("component", "instance", name="pk_service_heartbeats"),
    )
    op.create_table(
        "task_records",
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_task_records"),
    )
    op.create_index("ix_task_records_name", "task_records", ["name"])
    op.create_index("ix_task_records_state", "task_records", ["state"])


def downgrade() -> None:
    op.drop_index("ix_task_records_state", table_name="task_records")
    op.drop_index("ix_task_records_name", table_name="task_records")
    op.drop_table("task_records")
    op.drop_table("service_heartbeats")
