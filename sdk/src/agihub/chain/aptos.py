"""Aptos backend of :class:`agihub.chain.base.Chain`: the Move package in contracts/move.

Three layers, each usable on its own:

* pure encoders/decoders — :func:`entry_function_payload` builds the BCS entry-function payload
  (aptos-sdk ``EntryFunction``), :func:`view_request` the JSON body of ``POST /v1/view``,
  :func:`parse_events` / :func:`error_from_vm_status` read the node's transaction JSON;
* :class:`AptosNode` — a thin synchronous client of the fullnode REST API (``/v1``): ledger info,
  sequence numbers, BCS submission, waiting by hash, view calls. Any ``httpx`` transport can be
  plugged in;
* :class:`AptosChain` — the protocol: one Ed25519 signer on one published market, paying in
  ``coin_type``.

Transactions are signed locally (aptos-sdk ``Account``); the key never leaves the process. A failed
transaction's ``vm_status`` ("Move abort in 0x…::market: E_NOT_BUYER(0x5000c): …") becomes the
typed exception of :mod:`agihub.chain.errors`. REST API reference: https://aptos.dev/en/build/apis.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from aptos_sdk.account import Account
from aptos_sdk.account_address import AccountAddress
from aptos_sdk.bcs import Serializer
from aptos_sdk.transactions import (
    EntryFunction,
    ModuleId,
    RawTransaction,
    SignedTransaction,
    TransactionArgument,
    TransactionPayload,
)
from aptos_sdk.type_tag import StructTag, TypeTag

from agihub.chain.base import (
    UINT64_MAX,
    Chain,
    ChainEvent,
    Contribution,
    EpochInfo,
    EpochResult,
    Order,
    Receipt,
    RelayInfo,
    decode_event,
    require_bytes32,
    require_uint,
)
from agihub.chain.catalog import ENTRY_BY_NAME, EVENT_BY_NAME, MAX_ENDPOINT_BYTES, MAX_RELAYS, OrderState
from agihub.chain.errors import (
    BadEndpoint,
    ChainConnectionError,
    ChainInputError,
    ContractError,
    NoRelays,
    TooManyRelays,
    UnknownOrder,
    error_from_name,
)

log = logging.getLogger(__name__)

__all__ = [
    "APTOS_COIN",
    "COIN_GENERIC_FUNCTIONS",
    "COIN_GENERIC_VIEWS",
    "AptosChain",
    "AptosNode",
    "canonical_address",
    "entry_function_payload",
    "error_from_vm_status",
    "order_from_view",
    "parse_events",
    "view_request",
]

APTOS_COIN = "0x1::aptos_coin::AptosCoin"
MARKET_MODULE = "market"
EVENTS_MODULE = "events"

# Functions of agihub::market taking `<CoinType>`; checked against the Move sources by
# tests/contracts/move/test_move_cross_check.py.
COIN_GENERIC_FUNCTIONS = frozenset(
    {
        "pull",
        "raise_payment",
        "cancel",
        "take_order",
        "confirm_received",
        "reveal_key",
        "settle",
        "withdraw",
        "register_contribution",
        "commit_score",
        "reveal_score",
        "close_epoch",
        "claim_reward",
    }
)
COIN_GENERIC_VIEWS = frozenset(
    {"get_order", "credits", "reward_pool", "current_epoch", "epoch_result", "contribution", "vault_balance"}
)

_ZERO_ADDRESS = "0x" + "00" * 32
_ADDRESS_RE = re.compile(r"0[xX][0-9a-fA-F]{1,64}")
# "Move abort in 0x1::market: E_NOT_BUYER(0x5000c): text" or, without an error map, "...: 0x5000c"
_ABORT_RE = re.compile(
    r"Move abort in (?P<address>0x[0-9a-fA-F]+)::(?P<module>\w+): "
    r"(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)\((?P<code>0x[0-9a-fA-F]+)\)|(?P<bare>0x[0-9a-fA-F]+|\d+))"
)


# ------------------------------------------------------------------------------------------------
# addresses and arguments


def canonical_address(address: str | AccountAddress) -> str:
    """``0x`` + 64 lowercase hex digits; ChainInputError if ``address`` is not an Aptos address.

    Accepts the short (``0x1``) and long forms of AIP-40, with either case.
    """
    if isinstance(address, AccountAddress):
        return "0x" + address.address.hex()
    if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address):
        raise ChainInputError(f"{address!r} is not an Aptos address (0x + 1..64 hex digits)")
    return "0x" + address[2:].lower().rjust(64, "0")


def _account_address(address: str) -> AccountAddress:
    return AccountAddress(bytes.fromhex(canonical_address(address)[2:]))


def _u64(name: str, value: int) -> int:
    return require_uint(name, value, UINT64_MAX)


def _address_list(name: str, values: Sequence[str]) -> list[AccountAddress]:
    if isinstance(values, str | bytes):
        raise ChainInputError(f"{name} must be a sequence of addresses, not one string")
    return [_account_address(v) for v in values]


def _endpoint(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ChainInputError(f"{name} must be a str")
    if len(value.encode("utf-8")) > MAX_ENDPOINT_BYTES:
        raise BadEndpoint(f"E_BAD_ENDPOINT (code {BadEndpoint.code}): endpoint must be <= 256 bytes")
    return value


def _serialize_addresses(serializer: Serializer, values: list[AccountAddress]) -> None:
    serializer.sequence(values, Serializer.struct)


# Catalogue kind -> (validate/convert, BCS encoder). The Move types are u64, vector<u8> (32 bytes),
# address, vector<address> and std::string::String.
_ARG_ENCODERS: dict[str, tuple[Callable[[str, Any], Any], Callable[[Serializer, Any], None]]] = {
    "uint": (_u64, Serializer.u64),
    "bytes32": (require_bytes32, Serializer.to_bytes),
    "address": (lambda _name, v: _account_address(v), Serializer.struct),
    "address_list": (_address_list, _serialize_addresses),
    "string": (_endpoint, Serializer.str),
}


def _type_tag(type_name: str) -> TypeTag:
    try:
        return TypeTag(StructTag.from_str(type_name))
    except (IndexError, ValueError, RuntimeError) as exc:  # aptos-sdk raises all three
        raise ChainInputError(f"{type_name!r} is not a Move struct type such as {APTOS_COIN}") from exc


def entry_function_payload(
    market: str, function: str, args: Sequence[Any], coin_type: str = APTOS_COIN
) -> TransactionPayload:
    """The BCS payload calling ``<market>::market::<function>`` with ``args`` in catalogue order.

    Arguments are validated and encoded by their catalogue kind; ``<coin_type>`` is passed as the
    type argument to the functions in :data:`COIN_GENERIC_FUNCTIONS`. Raises ChainInputError for an
    unknown function, a wrong argument count or an argument of the wrong shape.
    """
    spec = ENTRY_BY_NAME.get(function)
    if spec is None:
        raise ChainInputError(f"{function!r} is not an entry function of the market")
    params = spec.params_for("aptos")
    if len(args) != len(params):
        raise ChainInputError(f"{function} takes {len(params)} arguments, got {len(args)}")
    encoded = []
    for param, value in zip(params, args, strict=True):
        convert, encoder = _ARG_ENCODERS[param.kind]
        encoded.append(TransactionArgument(convert(param.name, value), encoder))
    ty_args = [_type_tag(coin_type)] if function in COIN_GENERIC_FUNCTIONS else []
    module = ModuleId(_account_address(market), MARKET_MODULE)
    return TransactionPayload(EntryFunction(module, function, ty_args, [arg.encode() for arg in encoded]))


def _json_arg(value: Any) -> Any:
    # The REST API takes u64 as decimal strings and vector<u8> as 0x-hex strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(_u64("argument", value))
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return canonical_address(value)


def view_request(
    market: str, function: str, args: Sequence[Any], coin_type: str = APTOS_COIN
) -> dict[str, Any]:
    """JSON body of ``POST /v1/view`` for ``<market>::market::<function>``."""
    return {
        "function": f"{canonical_address(market)}::{MARKET_MODULE}::{function}",
        "type_arguments": [coin_type] if function in COIN_GENERIC_VIEWS else [],
        "arguments": [_json_arg(a) for a in args],
    }


# ------------------------------------------------------------------------------------------------
# responses


def _hex_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainConnectionError(f"expected a 0x-hex string from the node, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ChainConnectionError(f"node sent malformed hex {value!r}") from exc


def _event_values(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Event JSON (u64 as strings, vector<u8> as hex) -> values decode_event accepts."""
    values: dict[str, Any] = {}
    for spec in EVENT_BY_NAME[name].fields:
        if spec.name not in data:
            continue  # decode_event reports the missing field
        raw = data[spec.name]
        values[spec.name] = _hex_bytes(raw) if spec.kind == "bytes32" else raw
    return values


def parse_events(tx: Mapping[str, Any], market: str) -> tuple[ChainEvent, ...]:
    """The market's events in a committed transaction's JSON (``events`` array).

    Events of other modules (coin, fungible asset, gas fee) are skipped; an event of the market's
    ``events`` module that the catalogue does not know raises ChainInputError (a drifted package).
    """
    prefix = f"{canonical_address(market)}::{EVENTS_MODULE}::"
    tx_hash = str(tx.get("hash", ""))
    events = []
    for index, event in enumerate(tx.get("events") or ()):
        event_type = str(event.get("type", ""))
        address, _, rest = event_type.partition("::")
        try:
            full_type = f"{canonical_address(address)}::{rest}"
        except ChainInputError:
            continue
        if not full_type.startswith(prefix):
            continue
        name = full_type[len(prefix) :]
        if name not in EVENT_BY_NAME:
            raise ChainInputError(f"unknown event {name!r}: not in the catalogue")
        values = _event_values(name, event.get("data") or {})
        events.append(decode_event(name, values, address=canonical_address, tx_hash=tx_hash, log_index=index))
    return tuple(events)


def error_from_vm_status(vm_status: str, market: str | None = None) -> ContractError:
    """The typed exception of a failed transaction's (or view's) VM status.

    An abort in the market module maps by error name, else by the abort code's reason; aborts in
    other modules (for example ``0x1::coin`` on an insufficient balance) and non-abort failures
    (out of gas, ...) give UnknownContractError carrying the status text.
    """
    match = _ABORT_RE.search(vm_status)
    if match is None:
        return error_from_name("E_UNKNOWN", detail=vm_status)
    in_market = match["module"] == MARKET_MODULE and (
        market is None or canonical_address(match["address"]) == canonical_address(market)
    )
    if not in_market:
        return error_from_name("E_UNKNOWN", detail=vm_status)
    if match["name"]:
        error = error_from_name(match["name"], detail=vm_status)
        if error.code:
            return error
        return error_from_name(int(match["code"], 16), detail=vm_status)
    return error_from_name(int(match["bare"], 0), detail=vm_status)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ChainConnectionError(f"expected an integer from the node, got {value!r}") from exc


_DEADLINE_INDEX = {OrderState.OPEN: 10, OrderState.TAKEN: 13, OrderState.ACKED: 14}


def order_from_view(order_id: int, values: Sequence[Any]) -> Order:
    """An :class:`Order` from ``get_order``'s 15 return values; UnknownOrder for state NONE."""
    if len(values) != 15:
        raise ChainConnectionError(f"get_order returned {len(values)} values, expected 15")
    try:
        state = OrderState(_int(values[0]))
    except ValueError as exc:
        raise ChainConnectionError(f"get_order returned unknown state {values[0]!r}") from exc
    if state is OrderState.NONE:
        raise UnknownOrder(f"E_UNKNOWN_ORDER (code {UnknownOrder.code}): no order {order_id}")
    taker = canonical_address(values[4])
    key_commit = _hex_bytes(values[5])
    index = _DEADLINE_INDEX.get(state)
    return Order(
        order_id=order_id,
        state=state,
        buyer=canonical_address(values[1]),
        model_root=_hex_bytes(values[2]),
        relays=tuple(canonical_address(r) for r in values[3]),
        down=_int(values[7]),
        cost=_int(values[8]),
        tip=_int(values[9]),
        deadline=_int(values[index]) if index is not None else 0,
        ack_window=_int(values[11]),
        reveal_window=_int(values[12]),
        taker=None if taker == _ZERO_ADDRESS else taker,
        key_commit=key_commit or None,
    )


# ------------------------------------------------------------------------------------------------
# the node


class AptosNode:
    """A synchronous client of one fullnode's REST API.

    :param url: the API root, e.g. ``http://127.0.0.1:8080/v1``.
    :param transport: an ``httpx`` transport (default: real HTTP).
    :param timeout_s: per-request timeout.
    """

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, transport=transport, timeout=timeout_s)
        self._chain_id: int | None = None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ChainConnectionError(f"Aptos node {self.url} unreachable: {exc}") from exc

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ChainConnectionError(
                f"Aptos node answered {response.status_code} with non-JSON: {response.text[:200]!r}"
            ) from exc

    def _checked(self, response: httpx.Response, what: str) -> Any:
        body = self._json(response)
        if response.status_code >= 500:
            raise ChainConnectionError(f"{what}: node error {response.status_code}: {body}")
        if response.status_code >= 400:
            message = body.get("message", "") if isinstance(body, dict) else str(body)
            raise error_from_vm_status(f"{what} rejected ({response.status_code}): {message}")
        return body

    def ledger_info(self) -> dict[str, Any]:
        """``GET /v1``: chain id, ledger version and timestamp (microseconds)."""
        return self._checked(self._request("GET", ""), "ledger info")

    def chain_id(self) -> int:
        """The chain id (cached after the first call)."""
        if self._chain_id is None:
            self._chain_id = _int(self.ledger_info()["chain_id"])
        return self._chain_id

    def sequence_number(self, address: str) -> int:
        """Next sequence number of ``address`` (``GET /v1/accounts/{address}``)."""
        body = self._checked(self._request("GET", f"/accounts/{canonical_address(address)}"), "account")
        return _int(body["sequence_number"])

    def submit(self, signed: SignedTransaction) -> str:
        """``POST /v1/transactions`` with the BCS-signed transaction; returns its hash."""
        response = self._request(
            "POST",
            "/transactions",
            content=signed.bytes(),
            headers={"Content-Type": "application/x.aptos.signed_transaction+bcs"},
        )
        body = self._checked(response, "transaction")
        return str(body["hash"])

    def wait(self, tx_hash: str, timeout_s: float, poll_s: float) -> dict[str, Any]:
        """Poll ``GET /v1/transactions/by_hash`` until the transaction is committed."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = self._request("GET", f"/transactions/by_hash/{tx_hash}")
            # 404: not in the mempool's view yet; "pending_transaction": not committed yet.
            if response.status_code != 404:
                body = self._checked(response, "transaction lookup")
                if body.get("type") != "pending_transaction":
                    return body
            if time.monotonic() >= deadline:
                raise ChainConnectionError(f"transaction {tx_hash} not committed within {timeout_s}s")
            time.sleep(poll_s)

    def view(self, request: dict[str, Any]) -> list[Any]:
        """``POST /v1/view``; the function's return values as JSON."""
        body = self._checked(self._request("POST", "/view", json=request), f"view {request['function']}")
        if not isinstance(body, list):
            raise ChainConnectionError(f"view {request['function']} returned {body!r}, expected a list")
        return body


# ------------------------------------------------------------------------------------------------
# the chain


class AptosChain(Chain):
    """One Ed25519 signer on one published agihub market, paying in ``coin_type``.

    :param node: the fullnode client.
    :param market: address the package was published at (the ``agihub`` named address).
    :param account: aptos-sdk ``Account`` that signs.
    :param coin_type: the coin orders are paid in.
    :param max_gas_amount: gas limit of every transaction.
    :param gas_unit_price: gas price (octas per unit) of every transaction.
    :param expiration_ttl_s: seconds a signed transaction stays valid.
    :param wait_timeout_s: how long to wait for inclusion.
    :param poll_s: pause between inclusion polls.
    """

    def __init__(
        self,
        node: AptosNode,
        market: str,
        account: Account,
        *,
        coin_type: str = APTOS_COIN,
        max_gas_amount: int = 200_000,
        gas_unit_price: int = 100,
        expiration_ttl_s: int = 600,
        wait_timeout_s: float = 60.0,
        poll_s: float = 0.5,
    ):
        self.node = node
        self.market = canonical_address(market)
        self.account = account
        _type_tag(coin_type)  # refuse a malformed coin type at construction, not at first call
        self.coin_type = coin_type
        self.max_gas_amount = max_gas_amount
        self.gas_unit_price = gas_unit_price
        self.expiration_ttl_s = expiration_ttl_s
        self.wait_timeout_s = wait_timeout_s
        self.poll_s = poll_s

    def with_account(self, account: Account) -> AptosChain:
        """A handle on the same market and node signing with ``account``."""
        return AptosChain(
            self.node,
            self.market,
            account,
            coin_type=self.coin_type,
            max_gas_amount=self.max_gas_amount,
            gas_unit_price=self.gas_unit_price,
            expiration_ttl_s=self.expiration_ttl_s,
            wait_timeout_s=self.wait_timeout_s,
            poll_s=self.poll_s,
        )

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return canonical_address(self.account.address())

    def now(self) -> int:
        return _int(self.node.ledger_info()["ledger_timestamp"]) // 1_000_000

    def balance(self, account: str | None = None) -> int:
        request = {
            "function": "0x1::coin::balance",
            "type_arguments": [self.coin_type],
            "arguments": [canonical_address(account or self.address)],
        }
        return _int(self.node.view(request)[0])

    def sign(self, function: str, *args: Any) -> SignedTransaction:
        """The signed transaction calling ``function`` (exposed for inspection and tests)."""
        payload = entry_function_payload(self.market, function, args, self.coin_type)
        raw = RawTransaction(
            self.account.address(),
            self.node.sequence_number(self.address),
            payload,
            self.max_gas_amount,
            self.gas_unit_price,
            int(time.time()) + self.expiration_ttl_s,
            self.node.chain_id(),
        )
        return SignedTransaction(raw, self.account.sign_transaction(raw))

    def _send(self, function: str, *args: Any, result: tuple[str, str] | None = None) -> Receipt:
        signed = self.sign(function, *args)
        tx_hash = self.node.submit(signed)
        tx = self.node.wait(tx_hash, self.wait_timeout_s, self.poll_s)
        if not tx.get("success", False):
            raise error_from_vm_status(str(tx.get("vm_status", "")), self.market)
        events = parse_events(tx, self.market)
        value = None
        if result is not None:
            found = [e for e in events if e.name == result[0]]
            if len(found) != 1:
                raise ChainConnectionError(f"{function} committed without exactly one {result[0]} event")
            value = int(found[0][result[1]])
        log.debug("%s committed at version %s, gas %s", function, tx.get("version"), tx.get("gas_used"))
        return Receipt(str(tx.get("hash", tx_hash)), _int(tx.get("gas_used", 0)), events, value)

    def _view(self, function: str, *args: Any) -> list[Any]:
        try:
            return self.node.view(view_request(self.market, function, args, self.coin_type))
        except ContractError as exc:
            # A view that aborts reports the abort in the error message; re-map with the market known.
            raise error_from_vm_status(str(exc), self.market) from exc

    # -- relay registry ---------------------------------------------------------------------------
    def register_relay(self, nostr_pubkey: bytes, endpoint: str) -> Receipt:
        return self._send("register_relay", nostr_pubkey, endpoint)

    def update_relay(self, nostr_pubkey: bytes, endpoint: str) -> Receipt:
        return self._send("update_relay", nostr_pubkey, endpoint)

    def deregister_relay(self) -> Receipt:
        return self._send("deregister_relay")

    # -- orders -----------------------------------------------------------------------------------
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
        if not isinstance(relays, str) and len(relays) == 0:
            raise NoRelays(f"E_NO_RELAYS (code {NoRelays.code})")
        if not isinstance(relays, str) and len(relays) > MAX_RELAYS:
            raise TooManyRelays(
                f"E_TOO_MANY_RELAYS (code {TooManyRelays.code}): {len(relays)} > {MAX_RELAYS}"
            )
        return self._send(
            "pull",
            model_root,
            relays,
            down,
            cost,
            tip,
            take_window_s,
            ack_window_s,
            reveal_window_s,
            result=("OrderPulled", "order_id"),
        )

    def raise_payment(self, order_id: int, down: int, cost: int, tip: int) -> Receipt:
        return self._send("raise_payment", order_id, down, cost, tip)

    def cancel(self, order_id: int) -> Receipt:
        return self._send("cancel", order_id)

    def take_order(self, order_id: int, key_commit: bytes) -> Receipt:
        return self._send("take_order", order_id, key_commit)

    def confirm_received(self, order_id: int, delivery_root: bytes) -> Receipt:
        return self._send("confirm_received", order_id, delivery_root)

    def reveal_key(self, order_id: int, key: bytes, salt: bytes) -> Receipt:
        return self._send("reveal_key", order_id, key, salt)

    def settle(self, order_id: int) -> Receipt:
        return self._send("settle", order_id)

    def withdraw(self) -> Receipt:
        return self._send("withdraw")

    # -- admin, fee, validators -------------------------------------------------------------------
    def transfer_admin(self, new_admin: str) -> Receipt:
        return self._send("transfer_admin", new_admin)

    def accept_admin(self) -> Receipt:
        return self._send("accept_admin")

    def set_fee(self, bps: int) -> Receipt:
        return self._send("set_fee", bps)

    def add_validator(self, validator: str) -> Receipt:
        return self._send("add_validator", validator)

    def remove_validator(self, validator: str) -> Receipt:
        return self._send("remove_validator", validator)

    def set_quorum(self, quorum: int) -> Receipt:
        return self._send("set_quorum", quorum)

    # -- contributions and rewards ----------------------------------------------------------------
    def register_contribution(self, model_root: bytes, parent_root: bytes) -> Receipt:
        return self._send(
            "register_contribution",
            model_root,
            parent_root,
            result=("ContributionRegistered", "contribution_id"),
        )

    def commit_score(self, contribution_id: int, commitment: bytes) -> Receipt:
        return self._send("commit_score", contribution_id, commitment)

    def reveal_score(self, contribution_id: int, score: int, salt: bytes) -> Receipt:
        return self._send("reveal_score", contribution_id, score, salt)

    def close_epoch(self) -> Receipt:
        return self._send("close_epoch")

    def claim_reward(self, contribution_id: int) -> Receipt:
        return self._send("claim_reward", contribution_id)

    # -- views ------------------------------------------------------------------------------------
    def get_order(self, order_id: int) -> Order:
        return order_from_view(order_id, self._view("get_order", _u64("order_id", order_id)))

    def relay_info(self, relay: str) -> RelayInfo:
        registered, pubkey, endpoint = self._view("relay_info", relay)
        return RelayInfo(bool(registered), _hex_bytes(pubkey), str(endpoint))

    def credits(self, account: str) -> int:
        return _int(self._view("credits", account)[0])

    def fee_bps(self) -> int:
        return _int(self._view("fee_bps")[0])

    def reward_pool(self) -> int:
        return _int(self._view("reward_pool")[0])

    def current_epoch(self) -> EpochInfo:
        epoch, start, length, _total = self._view("current_epoch")
        return EpochInfo(_int(epoch), _int(start), _int(length))

    def epoch_result(self, epoch: int) -> EpochResult:
        closed, pool, total = self._view("epoch_result", _u64("epoch", epoch))
        return EpochResult(_u64("epoch", epoch), bool(closed), _int(pool), _int(total))

    def contribution(self, contribution_id: int) -> Contribution:
        contributor, root, parent, epoch, final, score, claimed = self._view(
            "contribution", _u64("contribution_id", contribution_id)
        )
        return Contribution(
            contribution_id=contribution_id,
            contributor=canonical_address(contributor),
            model_root=_hex_bytes(root),
            parent_root=_hex_bytes(parent),
            epoch=_int(epoch),
            score=_int(score),
            final=bool(final),
            claimed=bool(claimed),
        )

    def is_validator(self, account: str) -> bool:
        return bool(self._view("is_validator", account)[0])

    def quorum(self) -> int:
        return _int(self._view("quorum")[0])

    def admin(self) -> str:
        return canonical_address(self._view("admin")[0])

    def pending_admin(self) -> str | None:
        pending = canonical_address(self._view("pending_admin")[0])
        return None if pending == _ZERO_ADDRESS else pending

    def next_order_id(self) -> int:
        return _int(self._view("next_order_id")[0])

    def vault_balance(self) -> int:
        """Coins the market holds in ``coin_type`` (Aptos only): escrow + credits + reward pools."""
        return _int(self._view("vault_balance")[0])
