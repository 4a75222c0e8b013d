"""AptosChain end to end against a test double of an Aptos fullnode.

No Aptos node can run here, so :class:`FakeAptosNode` stands in for the node's REST API through an
``httpx.MockTransport``: it decodes the BCS body of every submitted transaction, verifies its Ed25519
signature, authentication key, chain id and sequence number like a node would, and answers with the
documented JSON shapes (ledger info, account, pending/committed transaction, view results, 4xx error
bodies ``{message, error_code, vm_error_code}``). Everything on the SDK side is real: aptos-sdk BCS
encoding and signing, the HTTP client, response parsing. `test_aptos_localnet.py` runs the same flow
against a real localnet where the `aptos` CLI exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aptos_sdk.account import Account
from aptos_sdk.account_address import AccountAddress
from aptos_sdk.bcs import Deserializer
from aptos_sdk.ed25519 import PrivateKey
from aptos_sdk.transactions import SignedTransaction

from agihub.chain import errors as chain_errors
from agihub.chain.aptos import AptosChain, AptosNode, canonical_address, entry_function_payload
from agihub.chain.base import Chain, OrderState
from agihub.chain.errors import ChainConnectionError, ChainInputError, UnknownContractError

MARKET = canonical_address("0xa61")
ROOT = bytes.fromhex("22" * 32)
RELAY = canonical_address("0x7e1a")
LEDGER_TIMESTAMP_US = 1_700_000_000_654_321


def account(seed: int) -> Account:
    key = PrivateKey.from_str("0x" + f"{seed:064x}")
    return Account(AccountAddress.from_key(key.public_key()), key)


def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "guid": {"creation_number": "0", "account_address": "0x0"},
        "sequence_number": "0",
        "type": f"{MARKET}::events::{name}",
        "data": data,
    }


class FakeAptosNode:
    """Test double of an Aptos fullnode REST API (``/v1``), served via ``httpx.MockTransport``."""

    chain_id = 4

    def __init__(self) -> None:
        self.sequence: dict[str, int] = {}
        self.requests: list[httpx.Request] = []
        self.submitted: list[SignedTransaction] = []
        # Committed outcome of the next submissions (FIFO): `events`, `success`, `vm_status`.
        self.outcomes: list[dict[str, Any]] = []
        self.pending_polls = 0
        self.never_commit = False
        self.views: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = {}
        self.committed: dict[str, dict[str, Any]] = {}

    # -- routing ------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1")
        if request.method == "GET" and path in ("", "/"):
            return self._json(200, self._ledger_info())
        if request.method == "GET" and path.startswith("/accounts/"):
            address = path.removeprefix("/accounts/")
            return self._json(
                200, {"sequence_number": str(self.sequence.get(address, 0)), "authentication_key": address}
            )
        if request.method == "POST" and path == "/transactions":
            return self._submit(request)
        if request.method == "GET" and path.startswith("/transactions/by_hash/"):
            return self._by_hash(path.rsplit("/", 1)[1])
        if request.method == "POST" and path == "/view":
            body = json.loads(request.content)
            handler = self.views.get(body["function"].rsplit("::", 1)[1])
            if handler is None:
                return self._json(400, {"message": "function not found", "error_code": "invalid_input"})
            return self._json(*handler(body))
        return self._json(404, {"message": f"no route {path}", "error_code": "web_framework_error"})

    @staticmethod
    def _json(status: int, body: Any) -> httpx.Response:
        return httpx.Response(status, json=body)

    def _ledger_info(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "epoch": "3",
            "ledger_version": "1000",
            "oldest_ledger_version": "0",
            "ledger_timestamp": str(LEDGER_TIMESTAMP_US),
            "node_role": "full_node",
            "oldest_block_height": "0",
            "block_height": "400",
            "git_hash": "0" * 40,
        }

    @staticmethod
    def _rejected(code: str) -> httpx.Response:
        body = {"message": f"Invalid transaction: Type: Validation Code: {code}", "error_code": "vm_error"}
        return httpx.Response(400, json={**body, "vm_error_code": 1})

    def _submit(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("content-type") != "application/x.aptos.signed_transaction+bcs":
            return self._json(415, {"message": "unsupported media type", "error_code": "web_framework_error"})
        signed = SignedTransaction.deserialize(Deserializer(request.content))
        raw = signed.transaction
        sender = canonical_address(raw.sender)
        public_key = signed.authenticator.authenticator.public_key
        if not signed.verify():
            return self._rejected("INVALID_SIGNATURE")
        if AccountAddress.from_key(public_key) != raw.sender:
            return self._rejected("INVALID_AUTH_KEY")
        if raw.chain_id != self.chain_id:
            return self._rejected("BAD_CHAIN_ID")
        if raw.sequence_number != self.sequence.get(sender, 0):
            return self._rejected("SEQUENCE_NUMBER_TOO_OLD")
        self.sequence[sender] = raw.sequence_number + 1
        self.submitted.append(signed)
        tx_hash = "0x" + hashlib.sha3_256(request.content).hexdigest()
        outcome = self.outcomes.pop(0) if self.outcomes else {}
        self.committed[tx_hash] = self._committed(tx_hash, sender, raw.sequence_number, outcome)
        pending = {"type": "pending_transaction", "hash": tx_hash, "sender": sender}
        return self._json(202, {**pending, "sequence_number": str(raw.sequence_number)})

    @staticmethod
    def _committed(tx_hash: str, sender: str, sequence: int, outcome: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "user_transaction",
            "version": "1001",
            "hash": tx_hash,
            "gas_used": "1234",
            "success": outcome.get("success", True),
            "vm_status": outcome.get("vm_status", "Executed successfully"),
            "sender": sender,
            "sequence_number": str(sequence),
            "changes": [],
            "events": outcome.get("events", []),
            "timestamp": str(LEDGER_TIMESTAMP_US),
        }

    def _by_hash(self, tx_hash: str) -> httpx.Response:
        if tx_hash not in self.committed:
            return self._json(
                404, {"message": "Transaction not found", "error_code": "transaction_not_found"}
            )
        if self.never_commit or self.pending_polls > 0:
            self.pending_polls -= 1
            return self._json(200, {"type": "pending_transaction", "hash": tx_hash})
        return self._json(200, self.committed[tx_hash])


@pytest.fixture
def node() -> FakeAptosNode:
    return FakeAptosNode()


@pytest.fixture
def chain(node: FakeAptosNode) -> AptosChain:
    client = AptosNode("http://aptos.test/v1", transport=httpx.MockTransport(node.handle))
    return AptosChain(client, MARKET, account(1), wait_timeout_s=2.0, poll_s=0.0)


PULLED = {
    "order_id": "1",
    "buyer": "0x0",  # replaced with the signer in the test
    "model_root": "0x" + ROOT.hex(),
    "relays": [RELAY],
    "down": "100",
    "cost": "1000",
    "tip": "0",
    "take_deadline": "1700003600",
    "ack_window": "60",
    "reveal_window": "60",
}


def test_is_a_chain(chain: AptosChain) -> None:
    assert isinstance(chain, Chain)
    assert chain.address == canonical_address(account(1).address())


def test_pull_signs_submits_waits_and_returns_the_order_id(chain: AptosChain, node: FakeAptosNode) -> None:
    node.outcomes.append({"events": [event("OrderPulled", {**PULLED, "buyer": chain.address})]})
    receipt = chain.pull(ROOT, [RELAY], 100, 1000, 0, 3600, 60, 60)
    assert receipt.result == 1
    assert receipt.gas_used == 1234
    assert receipt.event("OrderPulled")["buyer"] == chain.address
    [signed] = node.submitted
    raw = signed.transaction
    assert raw.sequence_number == 0 and raw.chain_id == FakeAptosNode.chain_id
    assert raw.payload == entry_function_payload(MARKET, "pull", [ROOT, [RELAY], 100, 1000, 0, 3600, 60, 60])
    assert raw.max_gas_amount == 200_000 and raw.gas_unit_price == 100
    assert receipt.tx_hash in node.committed


def test_sequence_numbers_follow_the_account(chain: AptosChain, node: FakeAptosNode) -> None:
    chain.set_fee(10)
    chain.set_fee(20)
    assert [s.transaction.sequence_number for s in node.submitted] == [0, 1]


def test_waits_through_pending_polls(chain: AptosChain, node: FakeAptosNode) -> None:
    node.pending_polls = 3
    node.outcomes.append({"events": [event("FeeChanged", {"bps": "10"})]})
    receipt = chain.set_fee(10)
    assert receipt.event("FeeChanged")["bps"] == 10
    polls = [r for r in node.requests if "/transactions/by_hash/" in r.url.path]
    assert len(polls) == 4


def test_wait_gives_up_after_the_timeout(chain: AptosChain, node: FakeAptosNode) -> None:
    node.never_commit = True
    chain.wait_timeout_s = 0.05
    with pytest.raises(ChainConnectionError, match="not committed"):
        chain.cancel(1)


def test_failed_transaction_raises_the_contract_error(chain: AptosChain, node: FakeAptosNode) -> None:
    status = (
        f"Move abort in {MARKET}::market: E_WRONG_STATE(0x3000f): The order's state does not allow this call."
    )
    node.outcomes.append({"success": False, "vm_status": status})
    with pytest.raises(chain_errors.WrongState, match="E_WRONG_STATE"):
        chain.cancel(1)


def test_insufficient_balance_abort_is_reported(chain: AptosChain, node: FakeAptosNode) -> None:
    status = (
        "Move abort in 0x1::coin: EINSUFFICIENT_BALANCE(0x10006): Not enough coins to complete transaction"
    )
    node.outcomes.append({"success": False, "vm_status": status})
    with pytest.raises(UnknownContractError, match="EINSUFFICIENT_BALANCE"):
        chain.pull(ROOT, [RELAY], 0, 10**12, 0, 60, 60, 60)


def test_pull_without_its_event_is_a_protocol_error(chain: AptosChain, node: FakeAptosNode) -> None:
    node.outcomes.append({"events": []})
    with pytest.raises(ChainConnectionError, match="OrderPulled"):
        chain.pull(ROOT, [RELAY], 0, 1, 0, 60, 60, 60)


def test_node_rejects_a_key_that_does_not_own_the_account(chain: AptosChain, node: FakeAptosNode) -> None:
    impostor = Account(account(2).address(), account(3).private_key)
    with pytest.raises(UnknownContractError, match="INVALID_AUTH_KEY"):
        chain.with_account(impostor).set_fee(1)
    assert node.submitted == []


def test_with_account_signs_as_the_other_account(chain: AptosChain, node: FakeAptosNode) -> None:
    relay = chain.with_account(account(5))
    relay.deregister_relay()
    assert canonical_address(node.submitted[0].transaction.sender) == relay.address != chain.address


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.pull(ROOT[:16], [RELAY], 0, 1, 0, 60, 60, 60),
        lambda c: c.pull(ROOT, [], 0, 1, 0, 60, 60, 60),
        lambda c: c.pull(ROOT, [RELAY] * 9, 0, 1, 0, 60, 60, 60),
        lambda c: c.take_order(1, b"short"),
        lambda c: c.raise_payment(1, 0, 0, 2**64),
        lambda c: c.transfer_admin("not-an-address"),
        lambda c: c.register_relay(ROOT, "e" * 300),
        lambda c: c.get_order(-1),
    ],
)
def test_malformed_input_never_reaches_the_node(
    chain: AptosChain, node: FakeAptosNode, call: Callable
) -> None:
    with pytest.raises(chain_errors.ChainError):
        call(chain)
    assert node.requests == []


@pytest.mark.parametrize(
    "transport",
    [
        httpx.MockTransport(lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r))),
        httpx.MockTransport(lambda r: httpx.Response(503, json={"message": "overloaded"})),
        httpx.MockTransport(lambda r: httpx.Response(200, text="<html>proxy</html>")),
    ],
    ids=["unreachable", "server-error", "not-json"],
)
def test_node_failures_are_connection_errors(transport: httpx.MockTransport) -> None:
    chain = AptosChain(AptosNode("http://aptos.test/v1", transport=transport), MARKET, account(1), poll_s=0.0)
    with pytest.raises(ChainConnectionError):
        chain.set_fee(1)
    with pytest.raises(ChainConnectionError):
        chain.fee_bps()


def test_bad_coin_type_refused_at_construction() -> None:
    with pytest.raises(ChainInputError):
        AptosChain(AptosNode("http://aptos.test/v1"), MARKET, account(1), coin_type="APT")


# ------------------------------------------------------------------------------------------------
# views


def answer(*values: Any) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda _body: (200, list(values))


def test_get_order_view_request_and_result(chain: AptosChain, node: FakeAptosNode) -> None:
    seen: list[dict[str, Any]] = []
    values = [
        "2", chain.address, "0x" + ROOT.hex(), [RELAY], RELAY, "0x" + "c0" * 32, "0x",
        "100", "1000", "7", "1700003600", "60", "90", "1700000100", "0",
    ]  # fmt: skip

    def handler(body: dict[str, Any]) -> tuple[int, Any]:
        seen.append(body)
        return 200, values

    node.views["get_order"] = handler
    order = chain.get_order(42)
    assert seen == [
        {
            "function": f"{MARKET}::market::get_order",
            "type_arguments": ["0x1::aptos_coin::AptosCoin"],
            "arguments": ["42"],
        }
    ]
    assert order.state is OrderState.TAKEN and order.deadline == 1_700_000_100
    assert order.taker == RELAY and order.tip == 7 and order.reveal_window == 90


def test_view_abort_maps_to_the_contract_error(chain: AptosChain, node: FakeAptosNode) -> None:
    message = (
        f"Error in view function: Move abort in {MARKET}::market: "
        "E_UNKNOWN_CONTRIBUTION(0x6001a): No such contribution for this coin type."
    )
    node.views["contribution"] = lambda _b: (
        400,
        {"message": message, "error_code": "invalid_input", "vm_error_code": 4016},
    )
    with pytest.raises(chain_errors.UnknownContribution):
        chain.contribution(5)


def test_scalar_and_tuple_views(chain: AptosChain, node: FakeAptosNode) -> None:
    contributor = canonical_address("0xa11ce")
    node.views.update(
        {
            "relay_info": answer(True, "0x" + "11" * 32, "wss://relay.example"),
            "credits": answer("1150"),
            "fee_bps": answer("250"),
            "reward_pool": answer("52"),
            "current_epoch": answer("3", "1700000000", "604800", "40"),
            "epoch_result": answer(True, "105", "40"),
            "contribution": answer("0xa11ce", "0x" + "22" * 32, "0x" + "66" * 32, "1", True, "30", False),
            "is_validator": answer(True),
            "quorum": answer("2"),
            "admin": answer("0xa61"),
            "pending_admin": answer("0x0"),
            "next_order_id": answer("8"),
            "vault_balance": answer("1150"),
        }
    )
    info = chain.relay_info(RELAY)
    assert (
        info.registered
        and info.nostr_pubkey == bytes.fromhex("11" * 32)
        and info.endpoint == "wss://relay.example"
    )
    assert chain.credits(RELAY) == 1150 and chain.fee_bps() == 250 and chain.reward_pool() == 52
    epoch = chain.current_epoch()
    assert (epoch.epoch, epoch.start, epoch.length) == (3, 1_700_000_000, 604_800)
    result = chain.epoch_result(1)
    assert result.closed and result.pool == 105 and result.total_score == 40 and result.epoch == 1
    contribution = chain.contribution(1)
    assert contribution.contributor == contributor and contribution.final and contribution.score == 30
    assert not contribution.claimed and contribution.parent_root == bytes.fromhex("66" * 32)
    assert chain.is_validator(RELAY) and chain.quorum() == 2
    assert chain.admin() == MARKET and chain.pending_admin() is None and chain.next_order_id() == 8
    assert chain.vault_balance() == 1150


def test_balance_reads_the_coin_balance_view(chain: AptosChain, node: FakeAptosNode) -> None:
    seen: list[dict[str, Any]] = []
    node.views["balance"] = lambda body: (seen.append(body), (200, ["987654321"]))[1]
    assert chain.balance(RELAY) == 987_654_321
    assert seen == [
        {
            "function": "0x1::coin::balance",
            "type_arguments": ["0x1::aptos_coin::AptosCoin"],
            "arguments": [RELAY],
        }
    ]


def test_now_is_the_ledger_time_in_seconds(chain: AptosChain) -> None:
    assert chain.now() == LEDGER_TIMESTAMP_US // 1_000_000


def test_view_returning_a_non_list_is_refused(chain: AptosChain, node: FakeAptosNode) -> None:
    node.views["quorum"] = lambda _b: (200, {"value": "2"})
    with pytest.raises(ChainConnectionError, match="expected a list"):
        chain.quorum()


def test_public_surface_is_pinned() -> None:
    from agihub.chain import aptos

    assert sorted(aptos.__all__) == [
        "APTOS_COIN",
        "AptosChain",
        "AptosNode",
        "COIN_GENERIC_FUNCTIONS",
        "COIN_GENERIC_VIEWS",
        "canonical_address",
        "entry_function_payload",
        "error_from_vm_status",
        "order_from_view",
        "parse_events",
        "view_request",
    ]
    assert all(hasattr(aptos, name) for name in aptos.__all__)
