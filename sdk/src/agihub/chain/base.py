"""The chain-neutral interface to the order-escrow contract and its typed results.

A :class:`Chain` is bound to one signing account on one deployed market. Every entry function of
:mod:`agihub.chain.catalog` is a method that signs, submits, waits for inclusion and returns a
:class:`Receipt` with the decoded events; a rejected call raises the
:class:`~agihub.chain.errors.ContractError` subclass named by the contract. Views return the models
below. Backends: :mod:`agihub.chain.evm` (Vyper contract, web3) and :mod:`agihub.chain.aptos` (Move).

Conventions shared by all backends:

* ``bytes32`` values are :class:`bytes` of length 32; amounts, ids and seconds are :class:`int`.
* Addresses are :class:`str` in the backend's canonical spelling (EVM: EIP-55 checksum; Aptos:
  ``0x`` + 64 lowercase hex), so ``order.buyer == buyer_chain.address`` holds.
* Events are :class:`ChainEvent` with the catalogue's field names, whatever the chain called them.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agihub.chain.catalog import EVENT_BY_NAME, OrderState
from agihub.chain.errors import ChainInputError

__all__ = [
    "Chain",
    "ChainEvent",
    "Contribution",
    "EpochInfo",
    "EpochResult",
    "Order",
    "Receipt",
    "RelayInfo",
    "decode_event",
    "require_bytes32",
    "require_uint",
]

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1


@dataclass(frozen=True)
class Order:
    """An order as the chain reports it.

    ``deadline`` is the deadline of the current state (take, ack or reveal); 0 once terminal.
    Terminal orders are cleaned up on chain: only ``order_id``, ``state`` and ``buyer`` remain
    meaningful, amounts read 0 and ``taker``/``key_commit`` are None.
    ``relays`` and ``model_root`` are fixed at ``pull`` (the EVM backend reads them from the
    ``OrderPulled`` event because the contract stores only their hash).
    """

    order_id: int
    state: OrderState
    buyer: str
    model_root: bytes
    relays: tuple[str, ...]
    down: int
    cost: int
    tip: int
    deadline: int
    ack_window: int
    reveal_window: int
    taker: str | None = None
    key_commit: bytes | None = None


@dataclass(frozen=True)
class RelayInfo:
    """Registry entry of a relay; ``registered`` is False after ``deregister_relay`` (or never)."""

    registered: bool
    nostr_pubkey: bytes
    endpoint: str


@dataclass(frozen=True)
class Contribution:
    """A registered contribution and its scoring status."""

    contribution_id: int
    contributor: str
    model_root: bytes
    parent_root: bytes
    epoch: int
    score: int
    final: bool
    claimed: bool


@dataclass(frozen=True)
class EpochInfo:
    """The open epoch: its number, start time and length (seconds)."""

    epoch: int
    start: int
    length: int


@dataclass(frozen=True)
class EpochResult:
    """A (possibly still open) epoch's pool and total final score; pool is set when it closes."""

    epoch: int
    closed: bool
    pool: int
    total_score: int


@dataclass(frozen=True)
class ChainEvent:
    """A decoded contract event with the catalogue's field names."""

    name: str
    fields: Mapping[str, Any]
    tx_hash: str = ""
    log_index: int = 0

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


@dataclass(frozen=True)
class Receipt:
    """Outcome of an included transaction.

    ``result`` is the new id for ``pull`` (order id) and ``register_contribution`` (contribution id),
    else None.
    """

    tx_hash: str
    gas_used: int
    events: tuple[ChainEvent, ...] = field(default_factory=tuple)
    result: int | None = None

    def event(self, name: str) -> ChainEvent:
        """The single event called ``name``; KeyError if there is none or more than one."""
        found = [e for e in self.events if e.name == name]
        if len(found) != 1:
            raise KeyError(f"expected one {name} event, found {len(found)}")
        return found[0]


def _normalize_field(kind: str, value: Any, address: Any) -> Any:
    if kind == "bytes32":
        return bytes(value)
    if kind == "uint":
        return int(value)
    if kind == "address":
        return address(value)
    if kind == "address_list":
        return tuple(address(v) for v in value)
    if kind == "string":
        return value if isinstance(value, str) else bytes(value).decode("utf-8")
    return value


def decode_event(
    name: str,
    values: Mapping[str, Any],
    *,
    address: Any = str,
    tx_hash: str = "",
    log_index: int = 0,
) -> ChainEvent:
    """Build a :class:`ChainEvent` from raw field values keyed by catalogue field name.

    ``address`` normalizes addresses to the backend's canonical spelling. Unknown event names and
    missing fields raise :class:`ChainInputError` so a drifted ABI is caught, not silently dropped.
    """
    spec = EVENT_BY_NAME.get(name)
    if spec is None:
        raise ChainInputError(f"unknown event {name!r}: not in the catalogue")
    missing = [f.name for f in spec.fields if f.name not in values]
    if missing:
        raise ChainInputError(f"event {name} lacks fields {missing}")
    fields = {f.name: _normalize_field(f.kind, values[f.name], address) for f in spec.fields}
    return ChainEvent(name, fields, tx_hash, log_index)


def require_bytes32(name: str, value: bytes) -> bytes:
    """Return ``value`` if it is exactly 32 bytes, else raise :class:`ChainInputError`."""
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ChainInputError(f"{name} must be 32 bytes, got {type(value).__name__} of {len(value or b'')}")
    return bytes(value)


def require_uint(name: str, value: int, maximum: int = UINT256_MAX) -> int:
    """Return ``value`` if it is an int in ``0..maximum``, else raise :class:`ChainInputError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ChainInputError(f"{name} must be an integer in 0..{maximum}, got {value!r}")
    return value


class Chain(abc.ABC):
    """One signing account's handle on a deployed order-escrow market.

    Method names and parameter order follow :data:`agihub.chain.catalog.ENTRY_FUNCTIONS`.
    """

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """The signing account's address (canonical spelling)."""

    @abc.abstractmethod
    def now(self) -> int:
        """The chain's current time (timestamp of the latest block / ledger), in seconds."""

    @abc.abstractmethod
    def balance(self, account: str | None = None) -> int:
        """Native-token balance of ``account`` (default: this signer), in the smallest unit."""

    # -- relay registry ---------------------------------------------------------------------------
    @abc.abstractmethod
    def register_relay(self, nostr_pubkey: bytes, endpoint: str) -> Receipt:
        """Register the signer as a relay. Emits RelayRegistered."""

    @abc.abstractmethod
    def update_relay(self, nostr_pubkey: bytes, endpoint: str) -> Receipt:
        """Change the signer's relay key and endpoint. Emits RelayUpdated."""

    @abc.abstractmethod
    def deregister_relay(self) -> Receipt:
        """Leave the registry. Emits RelayDeregistered."""

    # -- orders -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def pull(
        self,
        model_root: bytes,
        relays: Sequence[str],
        down: int,
        cost: int,
        tip: int,
        take_window_s: int,
        ack_window_s: int,
        reveal_window_s: int,
    ) -> Receipt:
        """Open an order, escrowing ``down + cost + tip``. ``Receipt.result`` is the order id."""

    @abc.abstractmethod
    def raise_payment(self, order_id: int, down: int, cost: int, tip: int) -> Receipt:
        """Add to an order's amounts (OPEN: any; TAKEN: tip only). Emits PaymentRaised."""

    @abc.abstractmethod
    def cancel(self, order_id: int) -> Receipt:
        """Cancel an OPEN order; the buyer is credited everything. Emits OrderCancelled."""

    @abc.abstractmethod
    def take_order(self, order_id: int, key_commit: bytes) -> Receipt:
        """Take an OPEN order as one of its relays; credits ``down``. Emits OrderTaken."""

    @abc.abstractmethod
    def confirm_received(self, order_id: int, delivery_root: bytes) -> Receipt:
        """Buyer acknowledges the encrypted delivery. Emits OrderConfirmed."""

    @abc.abstractmethod
    def reveal_key(self, order_id: int, key: bytes, salt: bytes) -> Receipt:
        """Taker reveals the committed key; credits cost + tip minus the fee. Emits KeyRevealed."""

    @abc.abstractmethod
    def settle(self, order_id: int) -> Receipt:
        """Expire an order whose current deadline passed, refunding the buyer. Emits OrderSettled."""

    @abc.abstractmethod
    def withdraw(self) -> Receipt:
        """Pay out the signer's credits. Emits Withdrawn."""

    # -- admin, fee, validators -------------------------------------------------------------------
    @abc.abstractmethod
    def transfer_admin(self, new_admin: str) -> Receipt:
        """Propose ``new_admin``; it becomes admin when it calls :meth:`accept_admin`."""

    @abc.abstractmethod
    def accept_admin(self) -> Receipt:
        """Accept a pending admin transfer. Emits AdminChanged."""

    @abc.abstractmethod
    def set_fee(self, bps: int) -> Receipt:
        """Set the protocol fee in basis points (<= FEE_CAP_BPS). Emits FeeChanged."""

    @abc.abstractmethod
    def add_validator(self, validator: str) -> Receipt:
        """Admin adds a score validator. Emits ValidatorAdded."""

    @abc.abstractmethod
    def remove_validator(self, validator: str) -> Receipt:
        """Admin removes a score validator. Emits ValidatorRemoved."""

    @abc.abstractmethod
    def set_quorum(self, quorum: int) -> Receipt:
        """Admin sets how many equal reveals finalize a score. Emits QuorumChanged."""

    # -- contributions and rewards ----------------------------------------------------------------
    @abc.abstractmethod
    def register_contribution(self, model_root: bytes, parent_root: bytes) -> Receipt:
        """Register a contribution in the open epoch. ``Receipt.result`` is its id."""

    @abc.abstractmethod
    def commit_score(self, contribution_id: int, commitment: bytes) -> Receipt:
        """Validator commits to a hidden score. Emits ScoreCommitted."""

    @abc.abstractmethod
    def reveal_score(self, contribution_id: int, score: int, salt: bytes) -> Receipt:
        """Validator reveals its score; may finalize it. Emits ScoreRevealed (and ScoreFinalized)."""

    @abc.abstractmethod
    def close_epoch(self) -> Receipt:
        """Close the open epoch once it lasted its length. Emits EpochClosed."""

    @abc.abstractmethod
    def claim_reward(self, contribution_id: int) -> Receipt:
        """Contributor claims its share of a closed epoch's pool. Emits RewardClaimed."""

    # -- views ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get_order(self, order_id: int) -> Order:
        """The order with this id; raises UnknownOrder if there is none."""

    @abc.abstractmethod
    def relay_info(self, relay: str) -> RelayInfo:
        """Registry entry of ``relay``."""

    @abc.abstractmethod
    def credits(self, account: str) -> int:
        """Unclaimed credits of ``account``."""

    @abc.abstractmethod
    def fee_bps(self) -> int:
        """Current fee in basis points."""

    @abc.abstractmethod
    def reward_pool(self) -> int:
        """Fees collected in the open epoch."""

    @abc.abstractmethod
    def current_epoch(self) -> EpochInfo:
        """The open epoch."""

    @abc.abstractmethod
    def epoch_result(self, epoch: int) -> EpochResult:
        """Pool and total score of ``epoch``."""

    @abc.abstractmethod
    def contribution(self, contribution_id: int) -> Contribution:
        """A contribution; raises UnknownContribution if there is none."""

    @abc.abstractmethod
    def is_validator(self, account: str) -> bool:
        """Whether ``account`` is a validator."""

    @abc.abstractmethod
    def quorum(self) -> int:
        """Equal reveals needed to finalize a score."""

    @abc.abstractmethod
    def admin(self) -> str:
        """Current admin."""

    @abc.abstractmethod
    def pending_admin(self) -> str | None:
        """Proposed admin, or None."""

    @abc.abstractmethod
    def next_order_id(self) -> int:
        """The id the next ``pull`` will get."""
