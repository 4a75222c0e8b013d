"""Gas benchmark of the EVM escrow (not a test): ``.venv/bin/python tests/benchmarks/bench_gas.py``.

Measures, in one run, on py-evm in process (receipt ``gasUsed``: intrinsic 21,000 + calldata +
execution - refunds, Prague rules):
  project   contracts/evm/market.vy through the SDK's EvmChain: gas per call and per full lifecycle
            pull + take_order + confirm_received + reveal_key, with 1 and with 8 listed relays;
  anchor    tests/benchmarks/naive_market.vy, compiled in the same run: the same lifecycle and
            events written the obvious way (10-field order struct, relay list in storage);
  floor     tests/benchmarks/floor_market.vy: the cheapest layout the protocol allows (one storage
            word per order holding a hash of the order, which every call passes back in calldata;
            no taker slot) with the same events — what the lifecycle cannot go below on this gas
            schedule, so the figure the issue's goal has to be read against;
  scaling   the project's lifecycle at 1 existing order and at 10,000 existing orders (filled with
            titanoboa, which is fast enough to create 10,000 orders in seconds) and the ratio.

"steady" rows run after one warm-up lifecycle (order counter, fee pool and relay credits already
nonzero, as on a live market); "first" rows are the very first lifecycle on a fresh deployment.
Goals from the issue: lifecycle <= 140,000 gas; gas at 10,000 orders within 2% of gas at 1 order.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import boa
import vyper
from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from agihub.chain.commitment import key_commit
from agihub.chain.evm import EvmChain
from agihub.chain.evm_deploy import compile_market, deploy_market

HERE = Path(__file__).resolve().parent
MARKET_VY = HERE.parents[1] / "contracts" / "evm" / "market.vy"
NAIVE_VY = HERE / "naive_market.vy"
FLOOR_VY = HERE / "floor_market.vy"
ROOT, DELIVERY = b"\x11" * 32, b"\x22" * 32
DOWN, COST, TIP = 10**15, 10**16, 10**14
WINDOW = 3600
CALLS = ("pull", "take_order", "confirm_received", "reveal_key")
GOAL = 140_000


def _funded(w3: Web3, count: int) -> list:
    accounts = [Account.create() for _ in range(count)]
    for acct in accounts:
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": acct.address, "value": 10**22})
    return accounts


def _project_lifecycle(buyer: EvmChain, relay: EvmChain, relays: list[str]) -> dict[str, int]:
    gas = {}
    r = buyer.pull(ROOT, relays, DOWN, COST, TIP, WINDOW, WINDOW, WINDOW)
    gas["pull"], oid = r.gas_used, r.result
    key, salt = os.urandom(32), os.urandom(32)
    gas["take_order"] = relay.take_order(oid, key_commit(key, salt, oid, relay.address)).gas_used
    gas["confirm_received"] = buyer.confirm_received(oid, DELIVERY).gas_used
    gas["reveal_key"] = relay.reveal_key(oid, key, salt).gas_used
    return gas


def measure_project(relay_count: int) -> tuple[dict[str, int], dict[str, int]]:
    """(first, steady) gas per call of market.vy with ``relay_count`` listed relays."""
    w3 = Web3(EthereumTesterProvider())
    admin_acct, buyer_acct, *relay_accts = _funded(w3, 2 + relay_count)
    compiled = compile_market(MARKET_VY)
    admin = EvmChain(w3, deploy_market(w3, admin_acct, 7 * 86400, compiled), compiled.abi, admin_acct)
    admin.set_fee(100)
    relays = [admin.with_account(a) for a in relay_accts]
    for i, relay in enumerate(relays):
        relay.register_relay(bytes([i + 1]) * 32, f"https://relay{i}.example")
    buyer = admin.with_account(buyer_acct)
    addrs = [r.address for r in relays]
    first = _project_lifecycle(buyer, relays[-1], addrs)
    steady = _project_lifecycle(buyer, relays[-1], addrs)
    return first, steady


def _send(w3: Web3, acct, fn, value: int = 0) -> int:
    tx = fn.build_transaction(
        {"from": acct.address, "value": value, "nonce": w3.eth.get_transaction_count(acct.address)}
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1
    return int(receipt["gasUsed"])


def _naive_lifecycle(w3: Web3, naive, buyer, relay, relays: list[str]) -> dict[str, int]:
    gas = {}
    oid = naive.functions.next_order_id().call()
    f = naive.functions
    gas["pull"] = _send(
        w3, buyer, f.pull(ROOT, relays, DOWN, COST, TIP, WINDOW, WINDOW, WINDOW), DOWN + COST + TIP
    )
    key, salt = os.urandom(32), os.urandom(32)
    gas["take_order"] = _send(w3, relay, f.take_order(oid, key_commit(key, salt, oid, relay.address)))
    gas["confirm_received"] = _send(w3, buyer, f.confirm_received(oid, DELIVERY))
    gas["reveal_key"] = _send(w3, relay, f.reveal_key(oid, key, salt))
    return gas


def _deploy_anchor(source: Path, relay_count: int) -> tuple[Web3, object, object, list]:
    """A fresh chain with ``source`` deployed, fee 100 bps and ``relay_count`` registered relays."""
    w3 = Web3(EthereumTesterProvider())
    admin, buyer, *relays = _funded(w3, 2 + relay_count)
    out = vyper.compile_code(source.read_text(), output_formats=["abi", "bytecode"])
    factory = w3.eth.contract(abi=out["abi"], bytecode=out["bytecode"])
    tx = factory.constructor().build_transaction({"from": admin.address, "nonce": 0})
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(admin.sign_transaction(tx).raw_transaction)
    )
    contract = w3.eth.contract(address=receipt["contractAddress"], abi=out["abi"])
    _send(w3, admin, contract.functions.set_fee(100))
    for relay in relays:
        _send(w3, relay, contract.functions.register_relay())
    return w3, contract, buyer, relays


def measure_anchor(source: Path, lifecycle, relay_count: int) -> tuple[dict[str, int], dict[str, int]]:  # type: ignore[no-untyped-def]
    """(first, steady) gas per call of an anchor contract running ``lifecycle`` twice."""
    w3, contract, buyer, relays = _deploy_anchor(source, relay_count)
    addrs = [r.address for r in relays]
    first = lifecycle(w3, contract, buyer, relays[-1], addrs)
    steady = lifecycle(w3, contract, buyer, relays[-1], addrs)
    return first, steady


def _floor_lifecycle(w3: Web3, floor, buyer, relay, relays: list[str]) -> dict[str, int]:
    """The floor contract's lifecycle; each call passes the order back as the events describe it."""
    gas = {}
    f, ev = floor.functions, floor.events
    oid = f.next_order_id().call()
    gas["pull"] = _send(
        w3, buyer, f.pull(ROOT, relays, DOWN, COST, TIP, WINDOW, WINDOW, WINDOW), DOWN + COST + TIP
    )
    pulled = ev.OrderPulled().get_logs(from_block=0, argument_filters={"order_id": oid})[0].args
    relays_hash = Web3.keccak(w3.codec.encode(["address[]"], [relays]))
    order = (buyer.address, 1, pulled.take_deadline, WINDOW, WINDOW, DOWN, COST, TIP, relays_hash)
    key, salt = os.urandom(32), os.urandom(32)
    commit = key_commit(key, salt, oid, relay.address)
    gas["take_order"] = _send(w3, relay, f.take_order(oid, order, commit, relays))
    taken = ev.OrderTaken().get_logs(from_block=0, argument_filters={"order_id": oid})[0].args
    order = (buyer.address, 2, taken.ack_deadline, WINDOW, WINDOW, DOWN, COST, TIP, commit)
    gas["confirm_received"] = _send(w3, buyer, f.confirm_received(oid, order, DELIVERY))
    acked = ev.OrderConfirmed().get_logs(from_block=0, argument_filters={"order_id": oid})[0].args
    order = (buyer.address, 3, acked.reveal_deadline, WINDOW, WINDOW, DOWN, COST, TIP, commit)
    gas["reveal_key"] = _send(w3, relay, f.reveal_key(oid, order, key, salt))
    return gas


def _boa_lifecycle(market, buyer: str, relay: str) -> int:
    """Execution gas of one lifecycle on titanoboa (same measure at both order counts)."""
    total = 0
    with boa.env.prank(buyer):
        oid = market.pull(ROOT, [relay], DOWN, COST, TIP, WINDOW, WINDOW, WINDOW, value=DOWN + COST + TIP)
    total += market._computation.net_gas_used
    key, salt = os.urandom(32), os.urandom(32)
    with boa.env.prank(relay):
        market.take_order(oid, key_commit(key, salt, oid, relay), [relay])
    total += market._computation.net_gas_used
    with boa.env.prank(buyer):
        market.confirm_received(oid, DELIVERY)
    total += market._computation.net_gas_used
    with boa.env.prank(relay):
        market.reveal_key(oid, key, salt)
    return total + market._computation.net_gas_used


def measure_scaling(existing: int) -> tuple[int, int]:
    """Lifecycle gas with 1 existing order and with ``existing`` existing orders."""
    admin, buyer, relay = (boa.env.generate_address(n) for n in ("admin", "buyer", "relay"))
    boa.env.set_balance(buyer, 10**30)
    with boa.env.prank(admin):
        market = boa.load(str(MARKET_VY), 7 * 86400)
        market.set_fee(100)
    with boa.env.prank(relay):
        market.register_relay(b"\x01" * 32, "https://relay.example")
    with boa.env.prank(buyer):
        market.pull(ROOT, [relay], 1, 1, 1, WINDOW, WINDOW, WINDOW, value=3)
    _boa_lifecycle(market, buyer, relay)  # warm-up: counters and credits nonzero, as in the big run
    at_one = _boa_lifecycle(market, buyer, relay)
    with boa.env.prank(buyer):
        for _ in range(existing - market.next_order_id() + 1):
            market.pull(ROOT, [relay], 1, 1, 1, WINDOW, WINDOW, WINDOW, value=3)
    return at_one, _boa_lifecycle(market, buyer, relay)


def _row(label: str, gas: dict[str, int]) -> str:
    cells = "".join(f"{gas[c]:>18,}" for c in CALLS)
    return f"{label:<26}{cells}{sum(gas.values()):>14,}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000, help="existing orders for the scaling figure")
    args = parser.parse_args()
    print(f"vyper {vyper.__version__}; receipt gasUsed on py-evm (eth-tester); fee 100 bps")
    print(f"{'':<26}" + "".join(f"{c:>18}" for c in CALLS) + f"{'lifecycle':>14}")
    results = {}
    for relay_count in (1, 8):
        p_first, p_steady = measure_project(relay_count)
        n_first, n_steady = measure_anchor(NAIVE_VY, _naive_lifecycle, relay_count)
        f_first, f_steady = measure_anchor(FLOOR_VY, _floor_lifecycle, relay_count)
        results[relay_count] = (p_steady, n_steady, f_steady)
        print(_row(f"project, {relay_count} relay(s), first", p_first))
        print(_row(f"project, {relay_count} relay(s), steady", p_steady))
        print(_row(f"naive,   {relay_count} relay(s), first", n_first))
        print(_row(f"naive,   {relay_count} relay(s), steady", n_steady))
        print(_row(f"floor,   {relay_count} relay(s), first", f_first))
        print(_row(f"floor,   {relay_count} relay(s), steady", f_steady))
    print()
    for relay_count, (project, naive, floor) in results.items():
        p, n, f = sum(project.values()), sum(naive.values()), sum(floor.values())
        print(
            f"steady lifecycle, {relay_count} relay(s): project {p:,} vs naive {n:,}: ratio {p / n:.3f}; "
            f"floor {f:,} (project/floor {p / f:.3f}); goal {GOAL:,}: project "
            f"{'met' if p <= GOAL else 'NOT met'} ({p - GOAL:+,}), floor "
            f"{'met' if f <= GOAL else 'NOT met'} ({f - GOAL:+,})"
        )
    print(f"4 transactions carry {4 * 21_000:,} of intrinsic gas before any calldata, storage or event")
    at_one, at_many = measure_scaling(args.orders)
    print(
        f"execution gas of a lifecycle at 1 order {at_one:,}, at {args.orders:,} orders {at_many:,}: "
        f"ratio {at_many / at_one:.4f} (goal within 2%: {'met' if abs(at_many / at_one - 1) <= 0.02 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
