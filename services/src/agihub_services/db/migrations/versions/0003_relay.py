"""Relay node: Nostr events with their tag index, Blossom blobs and their owners.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the column shapes in schema.py as of this revision.
HEX64 = 64
TAG_VALUE_MAX = 256


def _hex(name: str) -> sa.Column:
    return sa.Column(name, sa.String(HEX64), nullable=False)


def upgrade() -> None:
    op.create_table(
        "relay_events",
        _hex("id"),
        _hex("pubkey"),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("d_tag", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relay_events"),
    )
    op.create_index("ix_relay_events_created", "relay_events", ["created_at", "id"])
    op.create_index("ix_relay_events_author", "relay_events", ["pubkey", "kind", "d_tag"])
    op.create_index("ix_relay_events_kind", "relay_events", ["kind", "created_at"])
    op.create_table(
        "relay_event_tags",
        _hex("event_id"),
        sa.Column("name", sa.String(1), nullable=False),
        sa.Column("value", sa.String(TAG_VALUE_MAX), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "name", "value", name="pk_relay_event_tags"),
    )
    op.create_index("ix_relay_event_tags_value", "relay_event_tags", ["name", "value"])
    op.create_table(
        "relay_blobs",
        _hex("sha256"),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("uploaded", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_relay_blobs"),
    )
    op.create_table(
        "relay_blob_owners",
        _hex("sha256"),
        _hex("pubkey"),
        sa.Column("uploaded", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "pubkey", name="pk_relay_blob_owners"),
    )
    op.create_index("ix_relay_blob_owners_pubkey", "relay_blob_owners", ["pubkey", "uploaded"])


def downgrade() -> None:
    op.drop_table("relay_blob_owners")
    op.drop_table("relay_blobs")
    op.drop_table("relay_event_tags")
    op.drop_table("relay_events")
