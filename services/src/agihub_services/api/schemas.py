"""Response models of the read endpoints and the validated path/query types they take.

Amounts are decimal strings (uint256 does not fit JSON numbers); addresses are EIP-55 on the EVM and
0x + 64 lower-case hex on Aptos, exactly as the indexer stores them, so inputs are normalized to that
form before they reach SQL (an equality match then uses the index).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from eth_utils import to_checksum_address
from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, Field

ADDRESS_PATTERN = r"^0x([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
_EVM = re.compile(r"0x[0-9a-fA-F]{40}")
_APTOS = re.compile(r"0x[0-9a-fA-F]{64}")
CHAIN_PATTERN = r"^[a-z0-9]{1,16}:[A-Za-z0-9_-]{1,40}$"


def normalize_address(value: str) -> str:
    """EIP-55 for a 20-byte address, lower-case for a 32-byte one; ValueError otherwise."""
    if _EVM.fullmatch(value):
        return to_checksum_address(value)
    if _APTOS.fullmatch(value):
        return value.lower()
    raise ValueError("expected 0x + 40 hex (EVM) or 0x + 64 hex (Aptos)")


def normalize_hash(value: str) -> str:
    """A bytes32 value (model root) as 0x + 64 lower-case hex; ValueError otherwise."""
    if not _APTOS.fullmatch(value):
        raise ValueError("expected 0x + 64 hex")
    return value.lower()


# The pattern publishes the shape in the OpenAPI schema; the validator normalizes the case.
Address = Annotated[str, Field(pattern=ADDRESS_PATTERN), AfterValidator(normalize_address)]
Hash32 = Annotated[str, Field(pattern=HASH_PATTERN), AfterValidator(normalize_hash)]

NOSTR_KEY_PATTERN = r"^(0x)?[0-9a-fA-F]{64}$"


def normalize_nostr_key(value: str) -> str:
    """A Nostr pubkey as events spell it: 64 lower-case hex, no ``0x``."""
    return value.lower().removeprefix("0x")


NostrKey = Annotated[str, Field(pattern=NOSTR_KEY_PATTERN), AfterValidator(normalize_nostr_key)]
NostrKeyQuery = Annotated[NostrKey | None, Query(description="Nostr pubkey, 64 hex (0x optional)")]

ChainPath = Annotated[str, Path(pattern=CHAIN_PATTERN, description="chain id, e.g. `evm:31337`")]
ChainQuery = Annotated[
    str | None, Query(pattern=CHAIN_PATTERN, description="only this chain, e.g. `evm:31337`")
]
AddressPath = Annotated[Address, Path(description="EVM or Aptos address")]
AddressQuery = Annotated[Address | None, Query(description="EVM or Aptos address")]
HashQuery = Annotated[Hash32 | None, Query(description="0x + 64 hex")]
BlockQuery = Annotated[int | None, Query(ge=0, le=2**63 - 1)]
IdPath = Annotated[int, Path(ge=0, le=2**63 - 1)]


T = TypeVar("T")


class ErrorBody(BaseModel):
    """Every error response: a stable ``error_code`` and a message; 422 also names the ``field``."""

    error_code: str
    message: str
    field: str | None = None


#: The error responses every read router documents (FastAPI's own 422 schema is not our body).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "unknown id (`not_found`)"},
    422: {"model": ErrorBody, "description": "invalid parameter (`validation_error`, names the `field`)"},
}


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one (None: last page)."""

    items: list[T]
    next_cursor: str | None = None


class Order(BaseModel):
    chain: str
    order_id: int
    buyer: str | None
    model_root: str | None
    relays: list[str] | None
    #: :class:`agihub.chain.catalog.OrderState` value and name.
    state: int
    state_name: str
    down: str
    cost: str
    tip: str
    deadline: int
    ack_window: int
    reveal_window: int
    taker: str | None
    key_commit: str | None
    delivery_root: str | None
    refund: str | None
    relay_amount: str | None
    fee: str | None
    created_block: int
    updated_block: int


class OrderEvent(BaseModel):
    chain: str
    order_id: int
    block_number: int
    tx_hash: str
    log_index: int
    event: str
    state: int


class OrderDetail(Order):
    events: list[OrderEvent]


class DeliveryRecord(BaseModel):
    """How often a relay took an order, delivered it (key revealed) or let it time out."""

    taken: int = 0
    delivered: int = 0
    failed: int = 0


class Delivery(BaseModel):
    block_number: int
    tx_hash: str
    log_index: int
    order_id: int
    outcome: str


class OfferRef(BaseModel):
    """A relay's current offer (Nostr kind 31338, signed by the relay's key), read from relays."""

    #: The relay's Nostr pubkey (64 hex).
    pubkey: str
    endpoint: str
    #: Price per GiB in the chain's smallest unit, decimal (None: the relay names none).
    price: str | None
    created_at: int
    event_id: str


class RelayOffer(OfferRef):
    #: Roots of the models the relay holds shards of (64 hex).
    models: list[str]


class ModelCard(BaseModel):
    """A model-version announcement (Nostr kind 31337) for a root, as signed by ``publisher``.

    Anyone can announce any root: compare ``publisher`` with the key you trust.
    """

    publisher: str
    name: str
    parent_root: str | None
    #: Decimal strings, as announced.
    size: str | None
    shards: str | None
    topics: list[str]
    #: The announcement's content (the manifest metadata) when it is a JSON object, else {}.
    metadata: dict[str, Any]
    created_at: int
    event_id: str


class AnnouncedModel(ModelCard):
    """A model-version announcement read from relays, whether or not the root is registered on chain."""

    #: The announced root, 64 hex (no ``0x``, as in the event's ``d`` tag).
    model_root: str


class Relay(BaseModel):
    chain: str
    address: str
    nostr_pubkey: str | None
    endpoint: str | None
    registered: bool
    registered_block: int | None
    updated_block: int
    #: The relay's current offer, when discovery has read one signed by its registered Nostr key.
    offer: RelayOffer | None = None


class RelayDetail(Relay):
    record: DeliveryRecord
    recent_deliveries: list[Delivery]


class Model(BaseModel):
    chain: str
    model_root: str
    parent_root: str
    contribution_id: int
    contributor: str
    block_number: int
    #: Announcements of this root (kind 31337), newest first.
    cards: list[ModelCard] = []
    #: Relays whose current offer (kind 31338) names this root, by pubkey.
    offers: list[OfferRef] = []


class ModelDetail(Model):
    #: The parent's row when the parent is itself a registered model.
    parent: Model | None
    #: Versions derived from this model (its children in the lineage), oldest first.
    versions: list[Model]
    #: Relays that delivered this model to a buyer.
    relays: list[str]


class Score(BaseModel):
    block_number: int
    tx_hash: str
    log_index: int
    kind: str
    validator: str | None
    commitment: str | None
    score: str | None


class Contribution(BaseModel):
    chain: str
    contribution_id: int
    contributor: str | None
    model_root: str | None
    parent_root: str | None
    epoch: int | None
    score: str | None
    final: bool
    claimed: bool
    reward: str | None
    created_block: int
    updated_block: int


class ContributionDetail(Contribution):
    scores: list[Score]


class Earnings(BaseModel):
    """Value paid to one account, per chain and payment kind, as decimal strings."""

    account: str
    role: str
    #: chain -> payment kind -> total
    by_chain: dict[str, dict[str, str]]
    total_by_chain: dict[str, str]
