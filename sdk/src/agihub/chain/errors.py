"""Typed exceptions for contract calls: one class per contract error of the catalogue.

::

    ChainError (agihub.errors)
    ├── ContractError              the contract rejected the call; .name / .code from the catalogue
    │   ├── ZeroAmount             E_ZERO_AMOUNT
    │   ├── NoRelays               E_NO_RELAYS
    │   ├── ...                    one class per name in agihub.chain.catalog.ERRORS
    │   ├── NothingToWithdraw      E_NOTHING_TO_WITHDRAW
    │   ├── BadLength              E_BAD_LENGTH (Aptos only)
    │   └── UnknownContractError   a revert the catalogue does not name (bare revert, out of gas)
    ├── ChainConnectionError       the node could not be reached or answered garbage
    ├── TransactionRejected        the node refused the transaction (funds, nonce, gas), no revert
    └── ChainInputError            the SDK refused arguments before sending (wrong length, negative)

:func:`error_from_name` is the one function that maps a revert reason, an error name or a numeric
code (Move abort codes included) to its exception class.
"""

from __future__ import annotations

from agihub.chain.catalog import EVM_REVERT_PREFIX
from agihub.errors import ChainError

__all__ = [  # noqa: RUF022 - catalogue order, then the helpers
    "ZeroAmount",
    "NoRelays",
    "TooManyRelays",
    "DuplicateRelay",
    "RelayNotRegistered",
    "AlreadyRegistered",
    "BadPubkey",
    "BadEndpoint",
    "BadWindow",
    "BadValue",
    "UnknownOrder",
    "NotBuyer",
    "NotListedRelay",
    "NotTaker",
    "WrongState",
    "DeadlinePassed",
    "NotDue",
    "BadReveal",
    "Overflow",
    "NotAdmin",
    "NotPendingAdmin",
    "FeeTooHigh",
    "BadQuorum",
    "NotValidator",
    "AlreadyValidator",
    "UnknownContribution",
    "AlreadyCommitted",
    "NoCommit",
    "AlreadyRevealed",
    "EpochClosed",
    "EpochNotOver",
    "EpochOpen",
    "NotFinal",
    "AlreadyClaimed",
    "NotContributor",
    "NothingToWithdraw",
    "BadLength",
    "ChainConnectionError",
    "ChainInputError",
    "ContractError",
    "TransactionRejected",
    "UnknownContractError",
    "error_class",
    "error_from_name",
]


class ContractError(ChainError):
    """The contract rejected the call with a catalogued error (``name``, ``code``)."""

    name: str = ""
    code: int = 0

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or f"{self.name} (code {self.code})")


class UnknownContractError(ContractError):
    """A revert without a catalogued reason (bare revert, out of gas, invalid opcode)."""

    name = "E_UNKNOWN"
    code = 0


class ChainConnectionError(ChainError):
    """The chain node could not be reached or answered something unexpected."""


class TransactionRejected(ChainError):
    """The node refused the transaction before executing it (insufficient funds, nonce, gas)."""


class ChainInputError(ChainError):
    """The SDK refused the arguments before sending them (e.g. a bytes32 that is not 32 bytes)."""


class ZeroAmount(ContractError):
    """E_ZERO_AMOUNT: an amount that must be positive is zero (cost, the raise sum, down+cost+tip)."""

    name = "E_ZERO_AMOUNT"
    code = 1


class NoRelays(ContractError):
    """E_NO_RELAYS: the relay list is empty."""

    name = "E_NO_RELAYS"
    code = 2


class TooManyRelays(ContractError):
    """E_TOO_MANY_RELAYS: the relay list has more than MAX_RELAYS entries."""

    name = "E_TOO_MANY_RELAYS"
    code = 3


class DuplicateRelay(ContractError):
    """E_DUPLICATE_RELAY: the relay list names a relay twice."""

    name = "E_DUPLICATE_RELAY"
    code = 4


class RelayNotRegistered(ContractError):
    """E_RELAY_NOT_REGISTERED: a relay is not (or no longer) registered."""

    name = "E_RELAY_NOT_REGISTERED"
    code = 5


class AlreadyRegistered(ContractError):
    """E_ALREADY_REGISTERED: the caller is already a registered relay."""

    name = "E_ALREADY_REGISTERED"
    code = 6


class BadPubkey(ContractError):
    """E_BAD_PUBKEY: the nostr public key is zero."""

    name = "E_BAD_PUBKEY"
    code = 7


class BadEndpoint(ContractError):
    """E_BAD_ENDPOINT: the endpoint is empty or longer than 256 bytes."""

    name = "E_BAD_ENDPOINT"
    code = 8


class BadWindow(ContractError):
    """E_BAD_WINDOW: a window is zero or longer than MAX_WINDOW."""

    name = "E_BAD_WINDOW"
    code = 9


class BadValue(ContractError):
    """E_BAD_VALUE: the native value sent differs from the sum of the amounts."""

    name = "E_BAD_VALUE"
    code = 10


class UnknownOrder(ContractError):
    """E_UNKNOWN_ORDER: no order has this id."""

    name = "E_UNKNOWN_ORDER"
    code = 11


class NotBuyer(ContractError):
    """E_NOT_BUYER: the caller is not the order's buyer."""

    name = "E_NOT_BUYER"
    code = 12


class NotListedRelay(ContractError):
    """E_NOT_LISTED_RELAY: the caller is not one of the order's relays, or the relay list differs."""

    name = "E_NOT_LISTED_RELAY"
    code = 13


class NotTaker(ContractError):
    """E_NOT_TAKER: the caller is not the relay that took the order."""

    name = "E_NOT_TAKER"
    code = 14


class WrongState(ContractError):
    """E_WRONG_STATE: the order is not in a state that allows this call."""

    name = "E_WRONG_STATE"
    code = 15


class DeadlinePassed(ContractError):
    """E_DEADLINE_PASSED: the deadline of the current state has passed."""

    name = "E_DEADLINE_PASSED"
    code = 16


class NotDue(ContractError):
    """E_NOT_DUE: settle was called before the current deadline passed."""

    name = "E_NOT_DUE"
    code = 17


class BadReveal(ContractError):
    """E_BAD_REVEAL: the opening (key/score and salt) does not match the commitment, or it is zero."""

    name = "E_BAD_REVEAL"
    code = 18


class Overflow(ContractError):
    """E_OVERFLOW: an amount or score would exceed what the contract stores (EVM: 2**85-1, u64 score)."""

    name = "E_OVERFLOW"
    code = 19


class NotAdmin(ContractError):
    """E_NOT_ADMIN: the caller is not the admin."""

    name = "E_NOT_ADMIN"
    code = 20


class NotPendingAdmin(ContractError):
    """E_NOT_PENDING_ADMIN: the caller is not the pending admin."""

    name = "E_NOT_PENDING_ADMIN"
    code = 21


class FeeTooHigh(ContractError):
    """E_FEE_TOO_HIGH: the fee is above FEE_CAP_BPS."""

    name = "E_FEE_TOO_HIGH"
    code = 22


class BadQuorum(ContractError):
    """E_BAD_QUORUM: the quorum is zero."""

    name = "E_BAD_QUORUM"
    code = 23


class NotValidator(ContractError):
    """E_NOT_VALIDATOR: the caller (or the address removed) is not a validator."""

    name = "E_NOT_VALIDATOR"
    code = 24


class AlreadyValidator(ContractError):
    """E_ALREADY_VALIDATOR: the address is already a validator."""

    name = "E_ALREADY_VALIDATOR"
    code = 25


class UnknownContribution(ContractError):
    """E_UNKNOWN_CONTRIBUTION: no contribution has this id."""

    name = "E_UNKNOWN_CONTRIBUTION"
    code = 26


class AlreadyCommitted(ContractError):
    """E_ALREADY_COMMITTED: this validator already committed a score for the contribution."""

    name = "E_ALREADY_COMMITTED"
    code = 27


class NoCommit(ContractError):
    """E_NO_COMMIT: this validator has not committed a score for the contribution."""

    name = "E_NO_COMMIT"
    code = 28


class AlreadyRevealed(ContractError):
    """E_ALREADY_REVEALED: this validator already revealed its score."""

    name = "E_ALREADY_REVEALED"
    code = 29


class EpochClosed(ContractError):
    """E_EPOCH_CLOSED: the contribution's epoch is closed."""

    name = "E_EPOCH_CLOSED"
    code = 30


class EpochNotOver(ContractError):
    """E_EPOCH_NOT_OVER: the current epoch has not lasted epoch_length yet."""

    name = "E_EPOCH_NOT_OVER"
    code = 31


class EpochOpen(ContractError):
    """E_EPOCH_OPEN: the contribution's epoch is not closed yet."""

    name = "E_EPOCH_OPEN"
    code = 32


class NotFinal(ContractError):
    """E_NOT_FINAL: the contribution's score is not final."""

    name = "E_NOT_FINAL"
    code = 33


class AlreadyClaimed(ContractError):
    """E_ALREADY_CLAIMED: the reward was already claimed."""

    name = "E_ALREADY_CLAIMED"
    code = 34


class NotContributor(ContractError):
    """E_NOT_CONTRIBUTOR: the caller is not the contributor."""

    name = "E_NOT_CONTRIBUTOR"
    code = 35


class NothingToWithdraw(ContractError):
    """E_NOTHING_TO_WITHDRAW: the caller has no credits."""

    name = "E_NOTHING_TO_WITHDRAW"
    code = 36


class BadLength(ContractError):
    """E_BAD_LENGTH: a 32-byte value (root, key, salt, commitment) has another length."""

    name = "E_BAD_LENGTH"
    code = 37


_CLASSES: tuple[type[ContractError], ...] = tuple(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, ContractError) and cls.code > 0
)
_BY_NAME: dict[str, type[ContractError]] = {cls.name: cls for cls in _CLASSES}
_BY_CODE: dict[int, type[ContractError]] = {cls.code: cls for cls in _CLASSES}

# Move aborts carry ``category << 16 | reason``; the reason is the catalogue code.
_MOVE_REASON_MASK = 0xFFFF


def error_class(name_or_code: str | int) -> type[ContractError]:
    """The exception class for ``"E_NOT_BUYER"``, ``"market: E_NOT_BUYER"``, ``12`` or ``0x5000C``.

    Unknown names and codes give :class:`UnknownContractError`.
    """
    if isinstance(name_or_code, int):
        return _BY_CODE.get(name_or_code & _MOVE_REASON_MASK, UnknownContractError)
    text = name_or_code.strip()
    text = text.removeprefix(EVM_REVERT_PREFIX).strip()
    return _BY_NAME.get(text, UnknownContractError)


def error_from_name(name_or_code: str | int, detail: str | None = None) -> ContractError:
    """An exception instance for a contract error name, revert reason or numeric code."""
    cls = error_class(name_or_code)
    label = cls.name if cls is not UnknownContractError else str(name_or_code)
    message = f"{label} (code {cls.code})" + (f": {detail}" if detail else "")
    return cls(message)
