"""AptosSource against the documented REST shapes.

No Aptos node can run here, so ``AptosNodeStandIn`` (an httpx.MockTransport handler) stands in for
one: it serves ``GET /v1`` (ledger info) and ``GET /v1/transactions?start=&limit=`` with the JSON
shapes of the fullnode API reference (https://aptos.dev/en/build/apis/fullnode-rest-api): u64 as
decimal strings, short special addresses, ``vector<u8>`` as 0x hex, module events with a
``<address>::<module>::<Name>`` type. Everything above the HTTP boundary is the real indexer.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from agihub_indexer.errors import MalformedEvent, SourceInconsistent, SourceUnavailable
from agihub_indexer.follower import FollowConfig, Follower
from agihub_indexer.sources.aptos import PAGE, AptosSource, normalize_address
from agihub_indexer.store import Store
from tests.indexer.dbdump import dump

MARKET = "0x00000000000000000000000000000000000000000000000000000000000abc01"
BUYER = "0x" + "b1" * 32
RELAY = "0x" + "a1" * 32


class AptosNodeStandIn:
    """Serves a list of transactions the way an Aptos fullnode's REST API does (version = index)."""

    def __init__(self, chain_id: int = 4) -> None:
        self.chain_id = chain_id
        self.transactions: list[dict[str, Any]] = []
        self.fail_next: int | None = None  # HTTP status for the next request
        self.short_pages = False

    def add(self, events: list[dict[str, Any]], success: bool = True, kind: str = "user_transaction") -> int:
        version = len(self.transactions)
        self.transactions.append(
            {
                "type": kind,
                "version": str(version),
                "hash": f"0x{version:064x}",
                "accumulator_root_hash": f"0x{version + 10**6:064x}",
                "success": success,
                "vm_status": "Executed successfully" if success else "Move abort",
                "events": events,
                "timestamp": str(1_700_000_000_000_000 + version),
            }
        )
        return version

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return httpx.Response(status, json={"message": "injected", "error_code": "internal_error"})
        path = request.url.path
        if path == "/v1":
            return httpx.Response(
                200,
                json={
                    "chain_id": self.chain_id,
                    "epoch": "1",
                    "ledger_version": str(len(self.transactions) - 1),
                    "oldest_ledger_version": "0",
                    "ledger_timestamp": "1700000000000000",
                    "node_role": "full_node",
                    "oldest_block_height": "0",
                    "block_height": "10",
                },
            )
        if path == "/v1/transactions":
            start, limit = int(request.url.params["start"]), int(request.url.params.get("limit", PAGE))
            page = self.transactions[start : start + min(limit, PAGE)]
            return httpx.Response(200, json=page[:-1] if self.short_pages and page else page)
        if path.startswith("/v1/transactions/by_version/"):
            return httpx.Response(200, json=self.transactions[int(path.rsplit("/", 1)[1])])
        return httpx.Response(404, json={"message": "not found", "error_code": "web_framework_error"})


def market_event(name: str, **data: Any) -> dict[str, Any]:
    short = "0xabc01"  # the API may render addresses without leading zeros
    return {
        "guid": {"creation_number": "0", "account_address": "0x0"},
        "sequence_number": "0",
        "type": f"{short}::events::{name}",
        "data": data,
    }


def pulled(order_id: int) -> dict[str, Any]:
    return market_event(
        "OrderPulled",
        order_id=str(order_id),
        buyer=BUYER,
        model_root="0x" + "11" * 32,
        relays=[RELAY, "0x1"],
        down="10",
        cost=str(2**64 - 1),
        tip="0",
        take_deadline="99",
        ack_window="60",
        reveal_window="60",
    )


def fee_event() -> dict[str, Any]:
    return {
        "guid": {"creation_number": "0", "account_address": "0x0"},
        "sequence_number": "0",
        "type": "0x1::transaction_fee::FeeStatement",
        "data": {"total_charge_gas_units": "5"},
    }


@pytest.fixture
def node() -> AptosNodeStandIn:
    return AptosNodeStandIn()


def source(node: AptosNodeStandIn) -> AptosSource:
    return AptosSource("http://aptos.stand-in/v1", MARKET, transport=httpx.MockTransport(node.handler))


def test_events_are_decoded_into_the_catalogue_shapes(node: AptosNodeStandIn) -> None:
    node.add([], kind="block_metadata_transaction")
    node.add([pulled(1), fee_event()])
    node.add([pulled(2)], success=False)  # an aborted transaction changes nothing
    node.add(
        [
            market_event(
                "OrderTaken",
                order_id="1",
                relay=RELAY,
                key_commit="0x" + "CC" * 32,
                ack_deadline="120",
                down_paid="10",
            )
        ]
    )
    src = source(node)
    assert src.chain == "aptos:4" and src.head() == 3 and src.reorgs is False
    batch = src.fetch(0, 3)
    assert [(e.block_number, e.log_index, e.name) for e in batch.events] == [
        (1, 0, "OrderPulled"),
        (3, 0, "OrderTaken"),
    ]
    fields = batch.events[0].fields
    assert fields["relays"] == [RELAY, "0x" + "0" * 63 + "1"]
    assert fields["cost"] == 2**64 - 1 and fields["order_id"] == 1
    assert batch.events[1].fields["key_commit"] == "0x" + "cc" * 32
    assert batch.events[0].contract == MARKET and batch.blocks == []


def test_ranges_longer_than_a_page_are_fetched_page_by_page(node: AptosNodeStandIn) -> None:
    for i in range(1, 2 * PAGE + 30):
        node.add([pulled(i)] if i % 10 == 0 else [])
    batch = source(node).fetch(5, 2 * PAGE + 20)
    assert [e.fields["order_id"] for e in batch.events] == list(range(10, 2 * PAGE + 21, 10))


def test_follower_indexes_aptos_into_the_database(node: AptosNodeStandIn, engine: Engine) -> None:
    for i in range(1, 40):
        node.add([pulled(i)])
    node.add([market_event("OrderCancelled", order_id="3", refund="100")])
    src = source(node)
    follower = Follower(src, Store(engine, src.chain), FollowConfig(batch_size=7))
    follower.run(until_caught_up=True)
    follower.close()
    rows = dump(engine, "aptos:4")
    assert len(rows["orders"]) == 39 and rows["chain_blocks"] == []
    assert rows["cursor"] == [(39, None)]
    states = {row[1]: row[5] for row in rows["orders"]}
    assert states[3] == 5 and states[4] == 1


@pytest.mark.parametrize(
    ("break_it", "error", "message"),
    [
        (lambda n: setattr(n, "fail_next", 503), SourceUnavailable, "HTTP 503"),
        (lambda n: setattr(n, "short_pages", True), SourceInconsistent, "got"),
        (lambda n: n.transactions[2].update(version="7"), SourceInconsistent, "answered 7"),
    ],
    ids=["http-error", "short-page", "wrong-version"],
)
def test_node_trouble_raises_a_retryable_error(node: AptosNodeStandIn, break_it, error, message) -> None:
    for i in range(5):
        node.add([pulled(i + 1)])
    src = source(node)
    assert src.chain == "aptos:4"
    break_it(node)
    with pytest.raises(error, match=message):
        src.fetch(0, 4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"order_id": "1"}, "lacks field 'refund'"),
        ({"order_id": "1", "refund": "-5"}, "u64"),
        ({"order_id": "1", "refund": str(2**64)}, "u64"),
        ({"order_id": "x", "refund": "1"}, "does not match"),
    ],
)
def test_malformed_market_events_halt_rather_than_skip(
    node: AptosNodeStandIn, sqlite_engine: Engine, data, message
) -> None:
    node.add([pulled(1)])
    node.add([market_event("OrderCancelled", **data)])
    src = source(node)
    follower = Follower(src, Store(sqlite_engine, src.chain), FollowConfig(batch_size=10))
    with pytest.raises(MalformedEvent, match=message):
        follower.run(until_caught_up=True)
    follower.close()
    rows = dump(sqlite_engine, "aptos:4")
    assert rows["chain_events"] == [] and rows["cursor"][0][0] == -1  # nothing of the batch was written


def test_unknown_event_of_the_market_module_is_malformed(node: AptosNodeStandIn) -> None:
    node.add([market_event("OrderTeleported", order_id="1")])
    with pytest.raises(MalformedEvent, match="not in the catalogue"):
        source(node).fetch(0, 0)


@pytest.mark.parametrize("bad", ["", "abc", "0x", "0xzz", "0x" + "1" * 65])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_address(bad)
