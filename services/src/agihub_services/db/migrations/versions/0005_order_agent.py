"""Relay order agent: one row per order naming this relay, with the relay's order key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=True)


def upgrade() -> None:
    op.create_table(
        "relay_agent_orders",
        sa.Column("market", sa.String(66), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("buyer", sa.String(66), nullable=False),
        sa.Column("model_root", sa.String(64), nullable=False),
        _text("order_key", 64),
        _text("salt", 64),
        _text("delivery_sha256", 64),
        sa.Column("plain_size", sa.BigInteger(), nullable=True),
        _text("take_tx", 66),
        _text("reveal_tx", 66),
        _text("settle_tx", 66),
        _text("down_paid", 78),
        _text("relay_paid", 78),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("market", "order_id", name="pk_relay_agent_orders"),
    )


def downgrade() -> None:
    op.drop_table("relay_agent_orders")
