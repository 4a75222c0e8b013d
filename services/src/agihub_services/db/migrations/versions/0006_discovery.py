"""Discovery: model-version announcements (kind 31337) and relay offers (kind 31338) read from relays.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copies of the column shapes in schema.py as of this revision.
HEX64 = 64
DECIMAL = 78


def _hex(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(HEX64), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "discovery_model_versions",
        _hex("publisher"),
        _hex("model_root"),
        _hex("event_id"),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _hex("parent_root", nullable=True),
        sa.Column("size", sa.String(DECIMAL), nullable=True),
        sa.Column("shards", sa.String(DECIMAL), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("relay_url", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("publisher", "model_root", name="pk_discovery_model_versions"),
    )
    op.create_index(
        "ix_discovery_model_versions_root", "discovery_model_versions", ["model_root", "created_at"]
    )
    op.create_table(
        "discovery_relay_offers",
        _hex("pubkey"),
        _hex("event_id"),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("price", sa.String(DECIMAL), nullable=True),
        sa.Column("relay_url", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pubkey", name="pk_discovery_relay_offers"),
    )
    op.create_table(
        "discovery_offer_models",
        _hex("pubkey"),
        _hex("model_root"),
        sa.PrimaryKeyConstraint("pubkey", "model_root", name="pk_discovery_offer_models"),
    )
    op.create_index("ix_discovery_offer_models_root", "discovery_offer_models", ["model_root"])


def downgrade() -> None:
    op.drop_index("ix_discovery_offer_models_root", table_name="discovery_offer_models")
    op.drop_table("discovery_offer_models")
    op.drop_table("discovery_relay_offers")
    op.drop_index("ix_discovery_model_versions_root", table_name="discovery_model_versions")
    op.drop_table("discovery_model_versions")
