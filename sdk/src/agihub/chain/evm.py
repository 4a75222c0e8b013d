"""EVM backend of :class:`agihub.chain.base.Chain`: the Vyper market through web3.py.

Transactions are built, signed locally with an eth-account key, sent raw and awaited; no key ever
leaves the process and the node needs no unlocked accounts. A revert ``"market: E_X"`` (seen at gas
estimation or replayed after a failed receipt) becomes the typed exception of
:mod:`agihub.chain.errors`.

The contract stores only a hash of an order's relay list (see contracts/DESIGN.md), so
:meth:`EvmChain.take_order` and :meth:`EvmChain.get_order` read the list from the order's
``OrderPulled`` event.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from agihub.chain.base import (
    UINT256_MAX,
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
from agihub.chain.catalog import MAX_ENDPOINT_BYTES, MAX_RELAYS, OrderState
from agihub.chain.errors import (
    BadEndpoint,
    ChainConnectionError,
    ChainInputError,
    ContractError,
    NoRelays,
    TooManyRelays,
    TransactionRejected,
    UnknownOrder,
    error_from_name,
)

log = logging.getLogger(__name__)

__all__ = ["EvmChain", "checksum"]

_REVERT_RE = re.compile(r"market: (E_[A-Z_]+)")
_ZERO_ADDRESS = "0x" + "00" * 20


def _revert_exception_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ContractLogicError, Web3RPCError]
    try:  # eth-tester's in-process backend raises its own exception type
        from eth_tester.exceptions import TransactionFailed

        types.append(TransactionFailed)
    except ImportError:  # pragma: no cover - eth-tester is a test dependency
        pass
    return tuple(types)


_REVERTS = _revert_exception_types()


def checksum(address: str) -> str:
    """EIP-55 spelling of an address; ChainInputError if it is not a 20-byte hex address."""
    try:
        return to_checksum_address(address)
    except (ValueError, TypeError) as exc:
        raise ChainInputError(f"{address!r} is not an EVM address") from exc


def _contract_error(exc: BaseException) -> ContractError | TransactionRejected:
    """Map a failed call to the catalogue; the revert string may sit in the message or in data.

    An RPC error that is not a revert (no reason, not a ContractLogicError) means the node refused
    the transaction itself, e.g. for lack of funds.
    """
    texts = [str(exc), *(str(a) for a in getattr(exc, "args", ()))]
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        with contextlib.suppress(ValueError):
            texts.append(bytes.fromhex(data[2 + 8 + 128 :]).rstrip(b"\0").decode("utf-8", "replace"))
    for text in texts:
        match = _REVERT_RE.search(text)
        if match:
            return error_from_name(match.group(1))
    if isinstance(exc, Web3RPCError) and not isinstance(exc, ContractLogicError):
        return TransactionRejected(f"the node refused the transaction: {texts[0][:300]}")
    return error_from_name("E_UNKNOWN", detail=texts[0][:200])


class EvmChain(Chain):
    """One eth-account signer on one deployed market.

    :param w3: a connected :class:`web3.Web3`.
    :param market: the market's address.
    :param abi: the market's ABI (from :func:`agihub.chain.evm_deploy.compile_market`).
    :param account: an eth-account ``LocalAccount`` used to sign.
    :param timeout: seconds to wait for a receipt.
    :param start_block: first block to search for ``OrderPulled`` events (the deployment block
        keeps log queries short on long chains).
    """

    def __init__(
        self,
        w3: Web3,
        market: str,
        abi: list[dict[str, Any]],
        account: Any,
        timeout: float = 60.0,
        start_block: int = 0,
    ):
        self.w3 = w3
        self.account = account
        self.timeout = timeout
        self.start_block = start_block
        self.contract = w3.eth.contract(address=checksum(market), abi=abi)
        self._topics: dict[bytes, str] = {
            bytes(event_abi_to_log_topic(e)): e["name"] for e in abi if e.get("type") == "event"
        }
        self._pulled_cache: dict[int, ChainEvent] = {}

    def with_account(self, account: Any) -> EvmChain:
        """A handle on the same market signing with ``account`` (shares the event cache)."""
        other = EvmChain(
            self.w3, self.contract.address, self.contract.abi, account, self.timeout, self.start_block
        )
        other._pulled_cache = self._pulled_cache
        return other

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return str(self.account.address)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def balance(self, account: str | None = None) -> int:
        return int(self.w3.eth.get_balance(checksum(account or self.address)))

    def _send(
        self, fn_name: str, *args: Any, value: int = 0, result_event: tuple[str, str] | None = None
    ) -> Receipt:
        fn = getattr(self.contract.functions, fn_name)(*args)
        try:
            tx = fn.build_transaction(
                {
                    "from": self.address,
                    "value": value,
                    "nonce": self.w3.eth.get_transaction_count(self.address, "pending"),
                    "chainId": self.w3.eth.chain_id,
                }
            )
        except _REVERTS as exc:  # gas estimation executes the call: reverts surface here
            raise _contract_error(exc) from exc
        signed = self.account.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            raw = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
        except _REVERTS as exc:
            raise _contract_error(exc) from exc
        if raw["status"] != 1:
            raise self._replay_failure(tx, raw)
        events = self._decode_logs(raw)
        result = None
        if result_event:
            result = int(next(e for e in events if e.name == result_event[0])[result_event[1]])
        log.debug("%s included in block %s, gas %s", fn_name, raw["blockNumber"], raw["gasUsed"])
        return Receipt("0x" + bytes(raw["transactionHash"]).hex(), int(raw["gasUsed"]), events, result)

    def _replay_failure(self, tx: dict[str, Any], raw: Any) -> ContractError | TransactionRejected:
        # The state moved between estimation and inclusion; replaying at the failing block
        # recovers the revert reason.
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(call, block_identifier=raw["blockNumber"])  # type: ignore[arg-type]
        except _REVERTS as exc:
            return _contract_error(exc)
        return error_from_name("E_UNKNOWN", detail=f"tx {bytes(raw['transactionHash']).hex()} reverted")

    def _decode_logs(self, raw: Any) -> tuple[ChainEvent, ...]:
        events = []
        for entry in raw["logs"]:
            if entry["address"] != self.contract.address or not entry["topics"]:
                continue
            name = self._topics.get(bytes(entry["topics"][0]))
            if name is None:
                continue
            data = getattr(self.contract.events, name)().process_log(entry)
            events.append(
                decode_event(
                    name,
                    dict(data["args"]),
                    address=checksum,
                    tx_hash="0x" + bytes(entry["transactionHash"]).hex(),
                    log_index=int(entry["logIndex"]),
                )
            )
        return tuple(events)

    def _call(self, fn_name: str, *args: Any) -> Any:
        try:
            return getattr(self.contract.functions, fn_name)(*args).call()
        except _REVERTS as exc:
            raise _contract_error(exc) from exc

    def order_pulled(self, order_id: int) -> ChainEvent:
        """The OrderPulled event of ``order_id`` (cached: it never changes)."""
        cached = self._pulled_cache.get(order_id)
        if cached is not None:
            return cached
        event_cls = self.contract.events.OrderPulled
        logs = event_cls().get_logs(from_block=self.start_block, argument_filters={"order_id": order_id})
        if not logs:
            raise UnknownOrder(f"E_UNKNOWN_ORDER (code {UnknownOrder.code}): no OrderPulled for {order_id}")
        event = decode_event("OrderPulled", dict(logs[0]["args"]), address=checksum)
        self._pulled_cache[order_id] = event
        return event

    # -- relay registry ---------------------------------------------------------------------------
    @staticmethod
    def _endpoint(endpoint: str) -> str:
        if not isinstance(endpoint, str) or len(endpoint.encode("utf-8")) > MAX_ENDPOINT_BYTES:
            raise BadEndpoint(f"E_BAD_ENDPOINT (code {BadEndpoint.code}): endpoint must be <= 256 bytes")
        return endpoint

    def register_relay(self, nostr_pubkey: bytes, endpoint: str) -> Receipt:
        return self._send(
            "register_relay", require_bytes32("nostr_pubkey", nostr_pubkey), self._endpoint(endpoint)
        )

    def update_relay(self, nostr_pubkey: bytes, endpoint: str) -> Receipt:
        return self._send(
            "update_relay", require_bytes32("nostr_pubkey", nostr_pubkey), self._endpoint(endpoint)
        )

    def deregister_relay(self) -> Receipt:
        return self._send("deregister_relay")

    # -- orders -----------------------------------------------------------------------------------
    @staticmethod
    def _relay_list(relays: Sequence[str]) -> list[str]:
        if isinstance(relays, str):
            raise ChainInputError("relays must be a sequence of addresses, not one string")
        if not relays:
            raise NoRelays(f"E_NO_RELAYS (code {NoRelays.code})")
        if len(relays) > MAX_RELAYS:
            raise TooManyRelays(
                f"E_TOO_MANY_RELAYS (code {TooManyRelays.code}): {len(relays)} > {MAX_RELAYS}"
            )
        return [checksum(r) for r in relays]

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
        amounts = [require_uint(n, v) for n, v in (("down", down), ("cost", cost), ("tip", tip))]
        windows = [
            require_uint(n, v)
            for n, v in (
                ("take_window_s", take_window_s),
                ("ack_window_s", ack_window_s),
                ("reveal_window_s", reveal_window_s),
            )
        ]
        total = sum(amounts)
        if total > UINT256_MAX:
            raise ChainInputError("down + cost + tip exceeds uint256")
        return self._send(
            "pull",
            require_bytes32("model_root", model_root),
            self._relay_list(relays),
            *amounts,
            *windows,
            value=total,
            result_event=("OrderPulled", "order_id"),
        )

    def raise_payment(self, order_id: int, down: int, cost: int, tip: int) -> Receipt:
        amounts = [require_uint(n, v) for n, v in (("down", down), ("cost", cost), ("tip", tip))]
        if sum(amounts) > UINT256_MAX:
            raise ChainInputError("down + cost + tip exceeds uint256")
        return self._send("raise_payment", require_uint("order_id", order_id), *amounts, value=sum(amounts))

    def cancel(self, order_id: int) -> Receipt:
        return self._send("cancel", require_uint("order_id", order_id))

    def take_order(self, order_id: int, key_commit: bytes) -> Receipt:
        relays = list(self.order_pulled(require_uint("order_id", order_id))["relays"])
        return self._send("take_order", order_id, require_bytes32("key_commit", key_commit), relays)

    def confirm_received(self, order_id: int, delivery_root: bytes) -> Receipt:
        return self._send(
            "confirm_received",
            require_uint("order_id", order_id),
            require_bytes32("delivery_root", delivery_root),
        )

    def reveal_key(self, order_id: int, key: bytes, salt: bytes) -> Receipt:
        return self._send(
            "reveal_key",
            require_uint("order_id", order_id),
            require_bytes32("key", key),
            require_bytes32("salt", salt),
        )

    def settle(self, order_id: int) -> Receipt:
        return self._send("settle", require_uint("order_id", order_id))

    def withdraw(self) -> Receipt:
        return self._send("withdraw")

    # -- admin ------------------------------------------------------------------------------------
    def transfer_admin(self, new_admin: str) -> Receipt:
        return self._send("transfer_admin", checksum(new_admin))

    def accept_admin(self) -> Receipt:
        return self._send("accept_admin")

    def set_fee(self, bps: int) -> Receipt:
        return self._send("set_fee", require_uint("bps", bps))

    def add_validator(self, validator: str) -> Receipt:
        return self._send("add_validator", checksum(validator))

    def remove_validator(self, validator: str) -> Receipt:
        return self._send("remove_validator", checksum(validator))

    def set_quorum(self, quorum: int) -> Receipt:
        return self._send("set_quorum", require_uint("quorum", quorum))

    # -- contributions ----------------------------------------------------------------------------
    def register_contribution(self, model_root: bytes, parent_root: bytes) -> Receipt:
        return self._send(
            "register_contribution",
            require_bytes32("model_root", model_root),
            require_bytes32("parent_root", parent_root),
            result_event=("ContributionRegistered", "contribution_id"),
        )

    def commit_score(self, contribution_id: int, commitment: bytes) -> Receipt:
        return self._send(
            "commit_score",
            require_uint("contribution_id", contribution_id),
            require_bytes32("commitment", commitment),
        )

    def reveal_score(self, contribution_id: int, score: int, salt: bytes) -> Receipt:
        return self._send(
            "reveal_score",
            require_uint("contribution_id", contribution_id),
            require_uint("score", score),
            require_bytes32("salt", salt),
        )

    def close_epoch(self) -> Receipt:
        return self._send("close_epoch")

    def claim_reward(self, contribution_id: int) -> Receipt:
        return self._send("claim_reward", require_uint("contribution_id", contribution_id))

    # -- views ------------------------------------------------------------------------------------
    def get_order(self, order_id: int) -> Order:
        raw = self._call("get_order", require_uint("order_id", order_id))
        buyer, state, deadline, ack_w, rev_w, down, cost, tip, _relays_hash, taker, key_commit = raw
        pulled = self.order_pulled(order_id)
        has_taker = taker != _ZERO_ADDRESS and int(taker, 16) != 0
        return Order(
            order_id=order_id,
            state=OrderState(state),
            buyer=checksum(buyer),
            model_root=pulled["model_root"],
            relays=pulled["relays"],
            down=down,
            cost=cost,
            tip=tip,
            deadline=deadline,
            ack_window=ack_w,
            reveal_window=rev_w,
            taker=checksum(taker) if has_taker else None,
            key_commit=bytes(key_commit) if any(key_commit) else None,
        )

    def relay_info(self, relay: str) -> RelayInfo:
        registered, pubkey, endpoint = self._call("relay_info", checksum(relay))
        return RelayInfo(bool(registered), bytes(pubkey), str(endpoint))

    def credits(self, account: str) -> int:
        return int(self._call("credits", checksum(account)))

    def fee_bps(self) -> int:
        return int(self._call("fee_bps"))

    def reward_pool(self) -> int:
        return int(self._call("reward_pool"))

    def current_epoch(self) -> EpochInfo:
        epoch, start, length = self._call("current_epoch")
        return EpochInfo(epoch, start, length)

    def epoch_result(self, epoch: int) -> EpochResult:
        closed, pool, total, _unclaimed = self._call("epoch_result", require_uint("epoch", epoch))
        return EpochResult(epoch, bool(closed), pool, total)

    def contribution(self, contribution_id: int) -> Contribution:
        c = self._call("contribution", require_uint("contribution_id", contribution_id))
        contributor, model_root, parent_root, epoch, score, final, claimed = c
        return Contribution(
            contribution_id,
            checksum(contributor),
            bytes(model_root),
            bytes(parent_root),
            epoch,
            score,
            final,
            claimed,
        )

    def is_validator(self, account: str) -> bool:
        return bool(self._call("is_validator", checksum(account)))

    def quorum(self) -> int:
        return int(self._call("quorum"))

    def admin(self) -> str:
        return checksum(self._call("admin"))

    def pending_admin(self) -> str | None:
        pending = checksum(self._call("pending_admin"))
        return None if int(pending, 16) == 0 else pending

    def next_order_id(self) -> int:
        return int(self._call("next_order_id"))


def connect(
    rpc_url: str, request_timeout: float = 30.0, probe: Callable[[Web3], object] | None = None
) -> Web3:
    """A :class:`Web3` on an HTTP JSON-RPC endpoint; ChainConnectionError if it does not answer."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout}))
    try:
        (probe or (lambda w: w.eth.chain_id))(w3)
    except Exception as exc:  # any transport failure means the same thing to the caller
        raise ChainConnectionError(f"no EVM JSON-RPC node answers at {rpc_url}: {exc}") from exc
    return w3
