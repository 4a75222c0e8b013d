"""Indexer backfill throughput into PostgreSQL beside the node's raw log-fetch rate.

Run: ``.venv/bin/python tests/benchmarks/bench_indexer.py [--blocks 100] [--orders-per-block 200]``

A local hardhat node gets a small Vyper contract that emits the market's own event signatures in
bulk (OrderPulled then OrderCancelled per order: the same logs the market emits, at a rate that
would take hours to produce through real orders). The indexer treats it as the market.

Anchor: ``eth_getLogs`` over the same block ranges, answers parsed, nothing else (what any indexer
must pay). Figure: the full indexer (headers + logs + checks + decoding + projections + one
PostgreSQL transaction per batch) from block 0 to the head. Goal: >= 15,000 events/s and >= 0.8 of
the anchor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from web3 import Web3  # noqa: E402

from agihub_indexer.follower import FollowConfig, Follower  # noqa: E402
from agihub_indexer.sources.evm import EvmSource  # noqa: E402
from agihub_indexer.store import Store  # noqa: E402
from agihub_services.db import migrate  # noqa: E402
from agihub_services.db.engine import make_engine  # noqa: E402
from agihub_services.dev.ports import free_port  # noqa: E402
from tests.conftest import PG_ADMIN_URL, postgres_available  # noqa: E402
from tests.indexer.market_kit import dev_accounts, rpc, start_node  # noqa: E402

EMITTER = """
# pragma version ~=0.4.3
event OrderPulled:
    order_id: indexed(uint256)
    buyer: indexed(address)
    model_root: bytes32
    relays: DynArray[address, 8]
    down: uint256
    cost: uint256
    tip: uint256
    take_deadline: uint256
    ack_window: uint256
    reveal_window: uint256

event OrderCancelled:
    order_id: indexed(uint256)
    refund: uint256

@external
def emit(first: uint256, count: uint256):
    for i: uint256 in range(count, bound=1000):
        oid: uint256 = first + i
        log OrderPulled(order_id=oid, buyer=msg.sender, model_root=convert(oid, bytes32),
                        relays=[msg.sender], down=1, cost=2, tip=3, take_deadline=oid,
                        ack_window=60, reveal_window=60)
        log OrderCancelled(order_id=oid, refund=6)
"""


def deploy_emitter(url: str) -> tuple[Web3, object, object]:
    import vyper

    out = vyper.compile_code(EMITTER, output_formats=["abi", "bytecode"])
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
    account = dev_accounts(1)[0]
    factory = w3.eth.contract(abi=out["abi"], bytecode=out["bytecode"])
    tx = factory.constructor().build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address),
            "chainId": w3.eth.chain_id,
        }
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )
    return w3, w3.eth.contract(address=receipt["contractAddress"], abi=out["abi"]), account


def fill_chain(w3: Web3, contract, account, blocks: int, per_block: int) -> int:
    nonce = w3.eth.get_transaction_count(account.address)
    for b in range(blocks):
        tx = contract.functions.emit(1 + b * per_block, per_block).build_transaction(
            {"from": account.address, "nonce": nonce + b, "chainId": w3.eth.chain_id, "gas": 16_000_000}
        )
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.block_number


def fetch_only(url: str, market: str, head: int, batch: int) -> tuple[int, float]:
    source = EvmSource(url, market)
    started = time.perf_counter()
    count = 0
    for start in range(0, head + 1, batch):
        count += len(source.fetch_logs(start, min(head, start + batch - 1)))
    elapsed = time.perf_counter() - started
    source.close()
    return count, elapsed


def index_all(url: str, market: str, db_url: str, batch: int) -> tuple[int, float]:
    engine = make_engine(db_url)
    source = EvmSource(url, market)
    follower = Follower(source, Store(engine, source.chain), FollowConfig(batch_size=batch))
    started = time.perf_counter()
    follower.run(until_caught_up=True)
    elapsed = time.perf_counter() - started
    follower.close()
    engine.dispose()
    return follower.progress.events, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--orders-per-block", type=int, default=150)
    parser.add_argument("--batch", type=int, default=10, help="blocks per indexer batch")
    args = parser.parse_args()
    if not postgres_available():
        print("PostgreSQL is not running on 127.0.0.1:5432: nothing to measure")
        return 1
    port = free_port()
    node = start_node(port, Path(tempfile.mkdtemp()) / "hardhat.log")
    db_name = f"agihub_bench_{uuid.uuid4().hex[:8]}"
    try:
        url = f"http://127.0.0.1:{port}"
        w3, contract, account = deploy_emitter(url)
        head = fill_chain(w3, contract, account, args.blocks, args.orders_per_block)
        rpc(url, "eth_blockNumber")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"
        migrate.upgrade(db_url)
        fetched, fetch_s = fetch_only(url, contract.address, head, args.batch)
        indexed, index_s = index_all(url, contract.address, db_url, args.batch)
        anchor, figure = fetched / fetch_s, indexed / index_s
        print(f"chain: {head} blocks, {fetched} market logs; batch {args.batch} blocks")
        print(f"anchor  eth_getLogs fetch-only      : {anchor:10.0f} events/s ({fetch_s:.2f} s)")
        print(f"project indexer backfill -> PostgreSQL: {figure:10.0f} events/s ({index_s:.2f} s)")
        print(
            f"ratio   indexer / fetch-only        : {figure / anchor:10.2f}  (goal >= 0.8, and >= 15000 events/s)"
        )
        return 0
    finally:
        node.terminate()
        node.wait(timeout=10)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
