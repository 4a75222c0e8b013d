"""Declared tables. Every column change needs an Alembic revision (see ``migrations/versions``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so migrations diff cleanly on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ServiceHeartbeat(Base):
    """Last sign of life of one running component instance (worker, API, indexer, relay)."""

    __tablename__ = "service_heartbeats"

    component: Mapped[str] = mapped_column(String(32), primary_key=True)
    instance: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TaskRecord(Base):
    """Progress and outcome of a long-running worker task, readable by the API and the CLI."""

    __tablename__ = "task_records"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    #: What to send again if the message is lost: ``{"args": [...], "kwargs": {...}}`` (outbox).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The worker process running it (``host:pid``) and until when its claim holds without renewal.
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    #: Progress beyond bytes: shards verified, relays failed, the phase.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# --- chain indexer (agihub_indexer) -----------------------------------------------------------------
# Rows keyed by an event position use (chain, block_number, tx_hash, log_index): on the EVM the block
# number and the log's index in the block, on Aptos the transaction version and the event's index in
# it. Amounts are uint256 on the EVM, so they are decimal strings (exact on SQLite and PostgreSQL).
# Addresses are EIP-55 (EVM) or 0x + 64 lowercase hex (Aptos); bytes32 values are 0x + 64 hex.

AMOUNT = String(78)  # the longest uint256 in decimal
HEX32 = String(66)


class IndexerCursor(Base):
    """The last position ingested per chain, committed with the rows it covers."""

    __tablename__ = "indexer_cursors"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    head: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    halted: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChainBlock(Base):
    """Headers of the most recent blocks (the reorg window): parent links and ancestor search."""

    __tablename__ = "chain_blocks"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(HEX32)
    parent_hash: Mapped[str] = mapped_column(HEX32)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class ChainEventRow(Base):
    """Every market event, decoded, with the entity it changes (for lookups and reorg re-folds)."""

    __tablename__ = "chain_events"
    __table_args__ = (
        Index("ix_chain_events_order", "chain", "order_id"),
        Index("ix_chain_events_contribution", "chain", "contribution_id"),
        Index("ix_chain_events_relay", "chain", "relay"),
    )

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_hash: Mapped[str] = mapped_column(HEX32)
    contract: Mapped[str] = mapped_column(HEX32)
    name: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    contribution_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    relay: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)


class MarketOrder(Base):
    """Current state of an order (``state`` is :class:`agihub.chain.catalog.OrderState`)."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_buyer", "chain", "buyer"),
        # API list pages: filter column, then the newest-first sort key (migration 0004).
        Index("ix_orders_created", "created_block", "chain", "order_id"),
        Index("ix_orders_buyer_created", "buyer", "created_block", "chain", "order_id"),
        Index("ix_orders_state", "state", "created_block", "chain", "order_id"),
        Index("ix_orders_model", "model_root", "created_block", "chain", "order_id"),
        Index("ix_orders_taker", "taker", "created_block", "chain", "order_id"),
        Index("ix_orders_updated", "chain", "updated_block"),
    )

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    buyer: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    model_root: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    relays: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[int] = mapped_column(Integer)
    down: Mapped[str] = mapped_column(AMOUNT)
    cost: Mapped[str] = mapped_column(AMOUNT)
    tip: Mapped[str] = mapped_column(AMOUNT)
    deadline: Mapped[int] = mapped_column(BigInteger)
    ack_window: Mapped[int] = mapped_column(BigInteger)
    reveal_window: Mapped[int] = mapped_column(BigInteger)
    taker: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    key_commit: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    delivery_root: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    refund: Mapped[str | None] = mapped_column(AMOUNT, nullable=True)
    relay_amount: Mapped[str | None] = mapped_column(AMOUNT, nullable=True)
    fee: Mapped[str | None] = mapped_column(AMOUNT, nullable=True)
    created_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class OrderEvent(Base):
    """An order's state history: one row per order event with the state it left the order in."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "chain", "order_id"),)

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(32))
    state: Mapped[int] = mapped_column(Integer)


class Payment(Base):
    """One movement of value: escrow, down payment, relay payment, fee, refund, reward, withdrawal."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_account", "chain", "account"),)

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    amount: Mapped[str] = mapped_column(AMOUNT)
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    contribution_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Relay(Base):
    """A relay's registry entry as of the indexed head."""

    __tablename__ = "relays"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(HEX32, primary_key=True)
    nostr_pubkey: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    registered: Mapped[bool] = mapped_column(Boolean)
    registered_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class RelayDelivery(Base):
    """A relay's delivery record: ``taken``, then ``delivered`` (key revealed) or ``failed`` (expired)."""

    __tablename__ = "relay_deliveries"
    __table_args__ = (
        Index("ix_relay_deliveries_relay", "chain", "relay"),
        Index("ix_relay_deliveries_order", "chain", "order_id"),
    )

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    relay: Mapped[str] = mapped_column(HEX32)
    order_id: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))


class ContributionRow(Base):
    """A registered contribution, its final score and its reward."""

    __tablename__ = "contributions"
    __table_args__ = (Index("ix_contributions_contributor", "contributor", "created_block"),)

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    contribution_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contributor: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    model_root: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    parent_root: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    epoch: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    score: Mapped[str | None] = mapped_column(AMOUNT, nullable=True)
    final: Mapped[bool] = mapped_column(Boolean)
    claimed: Mapped[bool] = mapped_column(Boolean)
    reward: Mapped[str | None] = mapped_column(AMOUNT, nullable=True)
    created_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class ScoreRecord(Base):
    """Validator score commits and reveals, and the finalized score (``kind``)."""

    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_contribution", "chain", "contribution_id"),)

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    contribution_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    validator: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    commitment: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    score: Mapped[str | None] = mapped_column(AMOUNT, nullable=True)


class Epoch(Base):
    """A closed reward epoch: its pool and the total final score sharing it."""

    __tablename__ = "epochs"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pool: Mapped[str] = mapped_column(AMOUNT)
    total_score: Mapped[str] = mapped_column(AMOUNT)
    block_number: Mapped[int] = mapped_column(BigInteger)


class ModelLineage(Base):
    """A model root as first registered, with the parent it was derived from (its lineage)."""

    __tablename__ = "models"
    __table_args__ = (Index("ix_models_parent", "chain", "parent_root"),)

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_root: Mapped[str] = mapped_column(HEX32, primary_key=True)
    parent_root: Mapped[str] = mapped_column(HEX32)
    contribution_id: Mapped[int] = mapped_column(BigInteger)
    contributor: Mapped[str] = mapped_column(HEX32)
    block_number: Mapped[int] = mapped_column(BigInteger)


# --- relay node (agihub_services.relay): Nostr events and Blossom blobs --------------------------------
# The relay keeps its own database (AGIHUB_RELAY_DATABASE_URL) migrated with this same schema.
HEX64 = String(64)  # Nostr ids, pubkeys and sha256 hashes: bare lower-case hex, no 0x
#: Longest tag value indexed for ``#x`` filters; longer values are stored in the event but not indexed.
TAG_VALUE_MAX = 256


class RelayEvent(Base):
    """A stored Nostr event; ``raw`` is its JSON exactly as sent back to subscribers."""

    __tablename__ = "relay_events"
    __table_args__ = (
        Index("ix_relay_events_created", "created_at", "id"),
        Index("ix_relay_events_author", "pubkey", "kind", "d_tag"),
        Index("ix_relay_events_kind", "kind", "created_at"),
    )

    id: Mapped[str] = mapped_column(HEX64, primary_key=True)
    pubkey: Mapped[str] = mapped_column(HEX64)
    created_at: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[int] = mapped_column(Integer)
    #: ``d`` tag of addressable kinds (30000-39999), NULL otherwise.
    d_tag: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw: Mapped[str] = mapped_column(Text)


class RelayEventTag(Base):
    """One single-letter tag of a stored event, for ``#x`` filters (removed with its event)."""

    __tablename__ = "relay_event_tags"
    __table_args__ = (Index("ix_relay_event_tags_value", "name", "value"),)

    event_id: Mapped[str] = mapped_column(HEX64, primary_key=True)
    name: Mapped[str] = mapped_column(String(1), primary_key=True)
    value: Mapped[str] = mapped_column(String(TAG_VALUE_MAX), primary_key=True)


class RelayBlob(Base):
    """A blob held by the relay (Blossom BUD-01/02); the bytes are the file named ``sha256``."""

    __tablename__ = "relay_blobs"

    sha256: Mapped[str] = mapped_column(HEX64, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(255))
    uploaded: Mapped[int] = mapped_column(BigInteger)


class RelayBlobOwner(Base):
    """Who uploaded a blob: quotas count these rows; a blob is deleted with its last owner."""

    __tablename__ = "relay_blob_owners"
    __table_args__ = (Index("ix_relay_blob_owners_pubkey", "pubkey", "uploaded"),)

    sha256: Mapped[str] = mapped_column(HEX64, primary_key=True)
    pubkey: Mapped[str] = mapped_column(HEX64, primary_key=True)
    uploaded: Mapped[int] = mapped_column(BigInteger)


class RelayAgentOrder(Base):
    """The relay order agent's durable view of one order naming this relay (see relay/agent.py).

    ``order_key``/``salt`` are the relay's own secret for the order: written BEFORE ``take_order`` is
    sent so a crash can never leave a commitment on chain whose key is lost. Amounts are decimal text
    because they are uint256 on chain.
    """

    __tablename__ = "relay_agent_orders"

    market: Mapped[str] = mapped_column(String(66), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    buyer: Mapped[str] = mapped_column(String(66))
    model_root: Mapped[str] = mapped_column(String(64))
    order_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    salt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivery_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    plain_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    take_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    reveal_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    settle_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    down_paid: Mapped[str | None] = mapped_column(String(78), nullable=True)
    relay_paid: Mapped[str | None] = mapped_column(String(78), nullable=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)


# --- discovery (agihub_services.discovery): agihub Nostr events read from relays ----------------------
# Model-version announcements (kind 31337) and relay offers (kind 31338) in the shared database, so the
# API can show model cards and who offers what. Keys are those of NIP-01 addressable events, and only
# the newest event per key is kept (created_at, then the lower id). Roots and pubkeys are bare hex,
# as in the events; ``raw`` is the signed event, so anyone can re-verify a row.


class DiscoveredModelVersion(Base):
    """The newest model-version announcement (kind 31337) of one publisher for one model root."""

    __tablename__ = "discovery_model_versions"
    __table_args__ = (Index("ix_discovery_model_versions_root", "model_root", "created_at"),)

    publisher: Mapped[str] = mapped_column(HEX64, primary_key=True)
    model_root: Mapped[str] = mapped_column(HEX64, primary_key=True)
    event_id: Mapped[str] = mapped_column(HEX64)
    created_at: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text)
    parent_root: Mapped[str | None] = mapped_column(HEX64, nullable=True)
    #: Decimal text: the ``size`` tag is an unbounded decimal integer.
    size: Mapped[str | None] = mapped_column(String(78), nullable=True)
    shards: Mapped[str | None] = mapped_column(String(78), nullable=True)
    topics: Mapped[list[str]] = mapped_column(JSON)
    #: The event's content: the manifest metadata (JSON text, free form).
    content: Mapped[str] = mapped_column(Text)
    #: The relay the event was last read from.
    relay_url: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class DiscoveredRelayOffer(Base):
    """A relay's newest offer (kind 31338): endpoint and price; its models are in the next table."""

    __tablename__ = "discovery_relay_offers"

    pubkey: Mapped[str] = mapped_column(HEX64, primary_key=True)
    event_id: Mapped[str] = mapped_column(HEX64)
    created_at: Mapped[int] = mapped_column(BigInteger)
    endpoint: Mapped[str] = mapped_column(Text)
    price: Mapped[str | None] = mapped_column(String(78), nullable=True)
    relay_url: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class DiscoveredOfferModel(Base):
    """One model root a relay's current offer names (replaced with the offer)."""

    __tablename__ = "discovery_offer_models"
    __table_args__ = (Index("ix_discovery_offer_models_root", "model_root"),)

    pubkey: Mapped[str] = mapped_column(HEX64, primary_key=True)
    model_root: Mapped[str] = mapped_column(HEX64, primary_key=True)


# --- shard placement (agihub_worker) ---------------------------------------------------------------
# What the workers know about the models they placed: the signed manifest, where each shard lives,
# precomputed audit challenges and every audit's outcome.


class StoredPackage(Base):
    """A model package the workers place and look after; ``source_dir`` holds its files for publish."""

    __tablename__ = "packages"

    model_root: Mapped[str] = mapped_column(String(64), primary_key=True)
    manifest: Mapped[str] = mapped_column(Text)
    source_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    k: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShardPlacement(Base):
    """One copy of one shard on one relay: ``healthy`` until an audit says ``lost``."""

    __tablename__ = "shard_placements"
    __table_args__ = (UniqueConstraint("model_root", "shard_index", "relay_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_root: Mapped[str] = mapped_column(String(64), index=True)
    shard_index: Mapped[int] = mapped_column(Integer)
    relay_url: Mapped[str] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditChallenge(Base):
    """A precomputed byte-range challenge of a shard, used at most once."""

    __tablename__ = "audit_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_root: Mapped[str] = mapped_column(String(64), index=True)
    shard_index: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditResult(Base):
    """The outcome of one audit of one placement: pass, fail or timeout."""

    __tablename__ = "audit_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_root: Mapped[str] = mapped_column(String(64), index=True)
    shard_index: Mapped[int] = mapped_column(Integer)
    relay_url: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ValidatorScore(Base):
    """A validator's score of a contribution and the salt of its commitment, stored before the
    commitment is sent so a crash never strands a commitment whose salt is lost."""

    __tablename__ = "validator_scores"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    contribution_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    validator: Mapped[str] = mapped_column(String(66), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    score: Mapped[str] = mapped_column(String(78))
    salt: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)
    commit_tx: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reveal_tx: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
