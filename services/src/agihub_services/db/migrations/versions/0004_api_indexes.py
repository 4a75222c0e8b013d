"""Indexes for the marketplace API's filtered, newest-first keyset pages.

Each index ends with the page's sort key (created_block, chain, id) so a filtered page is one index
range scan, however deep the cursor (see ``agihub_services.api.pagination``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_orders_created": ("orders", ["created_block", "chain", "order_id"]),
    "ix_orders_buyer_created": ("orders", ["buyer", "created_block", "chain", "order_id"]),
    "ix_orders_state": ("orders", ["state", "created_block", "chain", "order_id"]),
    "ix_orders_model": ("orders", ["model_root", "created_block", "chain", "order_id"]),
    "ix_orders_taker": ("orders", ["taker", "created_block", "chain", "order_id"]),
    "ix_orders_updated": ("orders", ["chain", "updated_block"]),
    "ix_contributions_contributor": ("contributions", ["contributor", "created_block"]),
    "ix_relay_deliveries_order": ("relay_deliveries", ["chain", "order_id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
