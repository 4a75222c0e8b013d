"""The canonical order-escrow surface as data: constants, states, entry functions, views, events, errors.

Both contracts (``contracts/evm/market.vy`` and ``contracts/move/``) implement exactly this surface;
tests compare each compiled ABI / module against it, so this module is the single source of truth
for names, parameter order and numeric error codes. See ``contracts/README.md`` for the prose table.

Parameter and field *kinds* are chain-neutral; :data:`EVM_ABI_TYPES` maps them to Solidity ABI types
(Move uses ``u64``/``u8``/``address``/``vector<u8>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

MAX_RELAYS = 8
FEE_CAP_BPS = 1000
BPS_DENOMINATOR = 10_000
MAX_WINDOW = 30 * 24 * 3600
MAX_ENDPOINT_BYTES = 256


class OrderState(IntEnum):
    """Order states; values are identical on both chains. Terminal: COMPLETED, CANCELLED, EXPIRED."""

    NONE = 0
    OPEN = 1
    TAKEN = 2
    ACKED = 3
    COMPLETED = 4
    CANCELLED = 5
    EXPIRED = 6

    @property
    def terminal(self) -> bool:
        """True for the three states an order never leaves."""
        return self >= OrderState.COMPLETED


# Chain-neutral kinds -> Solidity ABI type used by the Vyper contract.
EVM_ABI_TYPES: dict[str, str] = {
    "bytes32": "bytes32",
    "address": "address",
    "address_list": "address[]",
    "string": "string",
    "uint": "uint256",
    "bool": "bool",
}

BOTH = ("aptos", "evm")


@dataclass(frozen=True)
class Param:
    """One parameter of an entry function or one field of an event.

    ``chains`` names the chains that carry it; ``take_order``'s relay list exists only on the EVM
    (it is passed in calldata and checked against the hash stored at ``pull``, see DESIGN.md).
    ``indexed`` marks an EVM event topic.
    """

    name: str
    kind: str
    chains: tuple[str, ...] = BOTH
    indexed: bool = False


@dataclass(frozen=True)
class EntryFunction:
    """A state-changing contract function; ``caller`` describes who may call it."""

    name: str
    params: tuple[Param, ...]
    caller: str
    payable: bool = False

    def params_for(self, chain: str) -> tuple[Param, ...]:
        """The parameters this function takes on ``chain`` ("aptos" or "evm")."""
        return tuple(p for p in self.params if chain in p.chains)


@dataclass(frozen=True)
class View:
    """A read-only function."""

    name: str
    params: tuple[Param, ...]


@dataclass(frozen=True)
class Event:
    """An event with its fields in emission order."""

    name: str
    fields: tuple[Param, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        """Field names in order."""
        return tuple(f.name for f in self.fields)


def _p(name: str, kind: str = "uint", **kw: object) -> Param:
    return Param(name, kind, **kw)  # type: ignore[arg-type]


_ORDER_ID = _p("order_id")
_CONTRIB_ID = _p("contribution_id")

ENTRY_FUNCTIONS: tuple[EntryFunction, ...] = (
    EntryFunction("register_relay", (_p("nostr_pubkey", "bytes32"), _p("endpoint", "string")), "relay"),
    EntryFunction("update_relay", (_p("nostr_pubkey", "bytes32"), _p("endpoint", "string")), "relay"),
    EntryFunction("deregister_relay", (), "relay"),
    EntryFunction(
        "pull",
        (
            _p("model_root", "bytes32"),
            _p("relays", "address_list"),
            _p("down"),
            _p("cost"),
            _p("tip"),
            _p("take_window_s"),
            _p("ack_window_s"),
            _p("reveal_window_s"),
        ),
        "buyer",
        payable=True,
    ),
    EntryFunction("raise_payment", (_ORDER_ID, _p("down"), _p("cost"), _p("tip")), "buyer", payable=True),
    EntryFunction("cancel", (_ORDER_ID,), "buyer"),
    EntryFunction(
        "take_order",
        (_ORDER_ID, _p("key_commit", "bytes32"), _p("relays", "address_list", chains=("evm",))),
        "listed relay",
    ),
    EntryFunction("confirm_received", (_ORDER_ID, _p("delivery_root", "bytes32")), "buyer"),
    EntryFunction("reveal_key", (_ORDER_ID, _p("key", "bytes32"), _p("salt", "bytes32")), "taker"),
    EntryFunction("settle", (_ORDER_ID,), "anyone"),
    EntryFunction("withdraw", (), "anyone with credits"),
    EntryFunction("transfer_admin", (_p("new_admin", "address"),), "admin"),
    EntryFunction("accept_admin", (), "pending admin"),
    EntryFunction("set_fee", (_p("bps"),), "admin"),
    EntryFunction("add_validator", (_p("validator", "address"),), "admin"),
    EntryFunction("remove_validator", (_p("validator", "address"),), "admin"),
    EntryFunction("set_quorum", (_p("quorum"),), "admin"),
    EntryFunction(
        "register_contribution", (_p("model_root", "bytes32"), _p("parent_root", "bytes32")), "contributor"
    ),
    EntryFunction("commit_score", (_CONTRIB_ID, _p("commitment", "bytes32")), "validator"),
    EntryFunction("reveal_score", (_CONTRIB_ID, _p("score"), _p("salt", "bytes32")), "validator"),
    EntryFunction("close_epoch", (), "anyone"),
    EntryFunction("claim_reward", (_CONTRIB_ID,), "contributor"),
)

VIEWS: tuple[View, ...] = (
    View("get_order", (_ORDER_ID,)),
    View("relay_info", (_p("relay", "address"),)),
    View("credits", (_p("account", "address"),)),
    View("fee_bps", ()),
    View("reward_pool", ()),
    View("current_epoch", ()),
    View("epoch_result", (_p("epoch"),)),
    View("contribution", (_CONTRIB_ID,)),
    View("is_validator", (_p("account", "address"),)),
    View("quorum", ()),
    View("admin", ()),
    View("pending_admin", ()),
    View("next_order_id", ()),
)


def _ev(name: str, *fields: Param) -> Event:
    return Event(name, fields)


def _ix(name: str, kind: str = "uint") -> Param:
    return Param(name, kind, indexed=True)


EVENTS: tuple[Event, ...] = (
    _ev("RelayRegistered", _ix("relay", "address"), _p("nostr_pubkey", "bytes32"), _p("endpoint", "string")),
    _ev("RelayUpdated", _ix("relay", "address"), _p("nostr_pubkey", "bytes32"), _p("endpoint", "string")),
    _ev("RelayDeregistered", _ix("relay", "address")),
    _ev(
        "OrderPulled",
        _ix("order_id"),
        _ix("buyer", "address"),
        _p("model_root", "bytes32"),
        _p("relays", "address_list"),
        _p("down"),
        _p("cost"),
        _p("tip"),
        _p("take_deadline"),
        _p("ack_window"),
        _p("reveal_window"),
    ),
    _ev(
        "PaymentRaised",
        _ix("order_id"),
        _p("down"),
        _p("cost"),
        _p("tip"),
        _p("new_down"),
        _p("new_cost"),
        _p("new_tip"),
    ),
    _ev("OrderCancelled", _ix("order_id"), _p("refund")),
    _ev(
        "OrderTaken",
        _ix("order_id"),
        _ix("relay", "address"),
        _p("key_commit", "bytes32"),
        _p("ack_deadline"),
        _p("down_paid"),
    ),
    _ev("OrderConfirmed", _ix("order_id"), _p("delivery_root", "bytes32"), _p("reveal_deadline")),
    _ev(
        "KeyRevealed",
        _ix("order_id"),
        _ix("relay", "address"),
        _p("key", "bytes32"),
        _p("salt", "bytes32"),
        _p("relay_amount"),
        _p("fee"),
    ),
    _ev("OrderSettled", _ix("order_id"), _p("from_state"), _p("refund")),
    _ev("Withdrawn", _ix("account", "address"), _p("amount")),
    _ev("AdminChanged", _ix("old_admin", "address"), _ix("new_admin", "address")),
    _ev("FeeChanged", _p("bps")),
    _ev("ValidatorAdded", _ix("validator", "address")),
    _ev("ValidatorRemoved", _ix("validator", "address")),
    _ev("QuorumChanged", _p("quorum")),
    _ev(
        "ContributionRegistered",
        _ix("contribution_id"),
        _ix("contributor", "address"),
        _p("model_root", "bytes32"),
        _p("parent_root", "bytes32"),
        _p("epoch"),
    ),
    _ev("ScoreCommitted", _ix("contribution_id"), _ix("validator", "address"), _p("commitment", "bytes32")),
    _ev("ScoreRevealed", _ix("contribution_id"), _ix("validator", "address"), _p("score")),
    _ev("ScoreFinalized", _ix("contribution_id"), _p("score"), _p("epoch")),
    _ev("EpochClosed", _ix("epoch"), _p("pool"), _p("total_score")),
    _ev("RewardClaimed", _ix("contribution_id"), _ix("contributor", "address"), _p("amount")),
)

# Error names in catalogue order; the numeric code of ERRORS[i] is i + 1 on both chains
# (Move: the reason part of the abort code; EVM: the revert string is "market: <NAME>").
ERRORS: tuple[str, ...] = (
    "E_ZERO_AMOUNT",
    "E_NO_RELAYS",
    "E_TOO_MANY_RELAYS",
    "E_DUPLICATE_RELAY",
    "E_RELAY_NOT_REGISTERED",
    "E_ALREADY_REGISTERED",
    "E_BAD_PUBKEY",
    "E_BAD_ENDPOINT",
    "E_BAD_WINDOW",
    "E_BAD_VALUE",
    "E_UNKNOWN_ORDER",
    "E_NOT_BUYER",
    "E_NOT_LISTED_RELAY",
    "E_NOT_TAKER",
    "E_WRONG_STATE",
    "E_DEADLINE_PASSED",
    "E_NOT_DUE",
    "E_BAD_REVEAL",
    "E_OVERFLOW",
    "E_NOT_ADMIN",
    "E_NOT_PENDING_ADMIN",
    "E_FEE_TOO_HIGH",
    "E_BAD_QUORUM",
    "E_NOT_VALIDATOR",
    "E_ALREADY_VALIDATOR",
    "E_UNKNOWN_CONTRIBUTION",
    "E_ALREADY_COMMITTED",
    "E_NO_COMMIT",
    "E_ALREADY_REVEALED",
    "E_EPOCH_CLOSED",
    "E_EPOCH_NOT_OVER",
    "E_EPOCH_OPEN",
    "E_NOT_FINAL",
    "E_ALREADY_CLAIMED",
    "E_NOT_CONTRIBUTOR",
    "E_NOTHING_TO_WITHDRAW",
    "E_BAD_LENGTH",
)

# Errors one chain can never raise, kept so that codes stay identical on both:
# E_BAD_VALUE checks msg.value (Aptos withdraws the coins itself); E_BAD_LENGTH checks that a
# vector<u8> is 32 bytes (the EVM ABI's bytes32 already guarantees it).
NEVER_RAISED: dict[str, frozenset[str]] = {
    "evm": frozenset({"E_BAD_LENGTH"}),
    "aptos": frozenset({"E_BAD_VALUE"}),
}

ERROR_CODES: dict[str, int] = {name: i + 1 for i, name in enumerate(ERRORS)}
EVM_REVERT_PREFIX = "market: "

ENTRY_BY_NAME: dict[str, EntryFunction] = {f.name: f for f in ENTRY_FUNCTIONS}
EVENT_BY_NAME: dict[str, Event] = {e.name: e for e in EVENTS}
VIEW_BY_NAME: dict[str, View] = {v.name: v for v in VIEWS}


def evm_abi_type(kind: str) -> str:
    """The Solidity ABI type of a chain-neutral kind."""
    return EVM_ABI_TYPES[kind]
