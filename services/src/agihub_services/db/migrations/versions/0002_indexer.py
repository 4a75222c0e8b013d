"""Chain indexer: cursor, recent block headers, decoded events and their projections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the column shapes in schema.py as of this revision (a migration must not follow
# later edits of the declared schema).
CHAIN = 64
HEX32 = 66
AMOUNT = 78


def _chain() -> sa.Column:
    return sa.Column("chain", sa.String(CHAIN), nullable=False)


def _position() -> list[sa.Column]:
    """(chain, block_number, tx_hash, log_index): the key of every row derived from one event."""
    return [
        _chain(),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(HEX32), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
    ]


def _hex(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(HEX32), nullable=nullable)


def _amount(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(AMOUNT), nullable=nullable)


def _bigint(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


POSITION_PK = ("chain", "block_number", "tx_hash", "log_index")


def _bookkeeping_tables() -> None:
    op.create_table(
        "indexer_cursors",
        _chain(),
        _bigint("position"),
        _hex("block_hash"),
        _bigint("head", nullable=True),
        sa.Column("halted", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", name="pk_indexer_cursors"),
    )
    op.create_table(
        "chain_blocks",
        _chain(),
        _bigint("number"),
        _hex("hash", nullable=False),
        _hex("parent_hash", nullable=False),
        _bigint("timestamp"),
        sa.PrimaryKeyConstraint("chain", "number", name="pk_chain_blocks"),
    )
    op.create_table(
        "chain_events",
        *_position(),
        _hex("block_hash", nullable=False),
        _hex("contract", nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        _bigint("order_id", nullable=True),
        _bigint("contribution_id", nullable=True),
        _hex("relay"),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(*POSITION_PK, name="pk_chain_events"),
    )
    op.create_index("ix_chain_events_order", "chain_events", ["chain", "order_id"])
    op.create_index("ix_chain_events_contribution", "chain_events", ["chain", "contribution_id"])
    op.create_index("ix_chain_events_relay", "chain_events", ["chain", "relay"])


def _order_tables() -> None:
    op.create_table(
        "orders",
        _chain(),
        _bigint("order_id"),
        _hex("buyer"),
        _hex("model_root"),
        sa.Column("relays", sa.JSON(), nullable=True),
        sa.Column("state", sa.Integer(), nullable=False),
        _amount("down"),
        _amount("cost"),
        _amount("tip"),
        _bigint("deadline"),
        _bigint("ack_window"),
        _bigint("reveal_window"),
        _hex("taker"),
        _hex("key_commit"),
        _hex("delivery_root"),
        _amount("refund", nullable=True),
        _amount("relay_amount", nullable=True),
        _amount("fee", nullable=True),
        _bigint("created_block"),
        _bigint("updated_block"),
        sa.PrimaryKeyConstraint("chain", "order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_buyer", "orders", ["chain", "buyer"])
    op.create_table(
        "order_events",
        *_position(),
        _bigint("order_id"),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*POSITION_PK, name="pk_order_events"),
    )
    op.create_index("ix_order_events_order", "order_events", ["chain", "order_id"])
    op.create_table(
        "payments",
        *_position(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _hex("account"),
        _amount("amount"),
        _bigint("order_id", nullable=True),
        _bigint("contribution_id", nullable=True),
        sa.PrimaryKeyConstraint(*POSITION_PK, "seq", name="pk_payments"),
    )
    op.create_index("ix_payments_account", "payments", ["chain", "account"])


def _relay_tables() -> None:
    op.create_table(
        "relays",
        _chain(),
        _hex("address", nullable=False),
        _hex("nostr_pubkey"),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        _bigint("registered_block", nullable=True),
        _bigint("updated_block"),
        sa.PrimaryKeyConstraint("chain", "address", name="pk_relays"),
    )
    op.create_table(
        "relay_deliveries",
        *_position(),
        _hex("relay", nullable=False),
        _bigint("order_id"),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint(*POSITION_PK, name="pk_relay_deliveries"),
    )
    op.create_index("ix_relay_deliveries_relay", "relay_deliveries", ["chain", "relay"])


def _contribution_tables() -> None:
    op.create_table(
        "contributions",
        _chain(),
        _bigint("contribution_id"),
        _hex("contributor"),
        _hex("model_root"),
        _hex("parent_root"),
        _bigint("epoch", nullable=True),
        _amount("score", nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("claimed", sa.Boolean(), nullable=False),
        _amount("reward", nullable=True),
        _bigint("created_block"),
        _bigint("updated_block"),
        sa.PrimaryKeyConstraint("chain", "contribution_id", name="pk_contributions"),
    )
    op.create_table(
        "scores",
        *_position(),
        _bigint("contribution_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        _hex("validator"),
        _hex("commitment"),
        _amount("score", nullable=True),
        sa.PrimaryKeyConstraint(*POSITION_PK, name="pk_scores"),
    )
    op.create_index("ix_scores_contribution", "scores", ["chain", "contribution_id"])
    op.create_table(
        "epochs",
        _chain(),
        _bigint("epoch"),
        _amount("pool"),
        _amount("total_score"),
        _bigint("block_number"),
        sa.PrimaryKeyConstraint("chain", "epoch", name="pk_epochs"),
    )
    op.create_table(
        "models",
        _chain(),
        _hex("model_root", nullable=False),
        _hex("parent_root", nullable=False),
        _bigint("contribution_id"),
        _hex("contributor", nullable=False),
        _bigint("block_number"),
        sa.PrimaryKeyConstraint("chain", "model_root", name="pk_models"),
    )
    op.create_index("ix_models_parent", "models", ["chain", "parent_root"])


def upgrade() -> None:
    _bookkeeping_tables()
    _order_tables()
    _relay_tables()
    _contribution_tables()


def downgrade() -> None:
    for table in (
        "models",
        "epochs",
        "scores",
        "contributions",
        "relay_deliveries",
        "relays",
        "payments",
        "order_events",
        "orders",
        "chain_events",
        "chain_blocks",
        "indexer_cursors",
    ):
        op.drop_table(table)  # dropping a table drops its indexes on SQLite and PostgreSQL
