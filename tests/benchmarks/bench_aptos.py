"""Benchmark of the Aptos backend's client-side work (no node needed).

Run: ``.venv/bin/python tests/benchmarks/bench_aptos.py [--rounds N]``

1. Building and signing a ``pull`` transaction (argument checks, BCS payload, RawTransaction,
   Ed25519 signature, BCS of the signed transaction) against the anchor: one bare Ed25519
   signature over the same signing message, measured in this run. The ratio is the SDK's overhead
   on top of the unavoidable signature.
2. Parsing a committed transaction's JSON with three events (one framework event skipped, two
   market events decoded) against the anchor ``json.loads`` of the same text.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from aptos_sdk.account import Account
from aptos_sdk.transactions import RawTransaction, SignedTransaction

from agihub.chain.aptos import canonical_address, entry_function_payload, parse_events

MARKET = canonical_address("0xa61")
RELAYS = [canonical_address(f"0x{i:x}") for i in range(1, 9)]
ROOT = bytes(range(32))


def per_call(fn: Callable[[], object], rounds: int) -> float:
    """Best of three runs of ``rounds`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best * 1e6


def build_and_sign(account: Account) -> bytes:
    payload = entry_function_payload(MARKET, "pull", [ROOT, RELAYS, 100, 1000, 50, 3600, 7200, 1800])
    raw = RawTransaction(account.address(), 7, payload, 200_000, 100, 1_700_000_600, 4)
    return SignedTransaction(raw, account.sign_transaction(raw)).bytes()


def tx_text() -> str:
    def event(address: str, name: str, data: dict) -> dict:
        guid = {"creation_number": "0", "account_address": "0x0"}
        return {"guid": guid, "sequence_number": "0", "type": f"{address}::{name}", "data": data}

    pulled = {
        "order_id": "1", "buyer": RELAYS[0], "model_root": "0x" + ROOT.hex(), "relays": RELAYS,
        "down": "100", "cost": "1000", "tip": "50", "take_deadline": "1700003600",
        "ack_window": "7200", "reveal_window": "1800",
    }  # fmt: skip
    events = [
        event("0x1", "fungible_asset::Withdraw", {"store": RELAYS[1], "amount": "1150"}),
        event(MARKET, "events::OrderPulled", pulled),
        event(MARKET, "events::FeeChanged", {"bps": "25"}),
    ]
    return json.dumps({"hash": "0x" + "ab" * 32, "success": True, "gas_used": "1500", "events": events})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    rounds = parser.parse_args().rounds
    account = Account.generate()

    payload = entry_function_payload(MARKET, "pull", [ROOT, RELAYS, 100, 1000, 50, 3600, 7200, 1800])
    message = RawTransaction(account.address(), 7, payload, 200_000, 100, 1_700_000_600, 4).keyed()
    ours = per_call(lambda: build_and_sign(account), rounds)
    anchor = per_call(lambda: account.sign(message), rounds)
    print("1. build + sign a pull transaction (8 relays)")
    print(f"   agihub (payload + raw tx + sign + BCS): {ours:8.1f} us/tx")
    print(f"   anchor (bare Ed25519 signature):        {anchor:8.1f} us/tx")
    print(f"   ratio: {ours / anchor:.2f}x")

    text = tx_text()
    parsed = per_call(lambda: parse_events(json.loads(text), MARKET), rounds)
    loads = per_call(lambda: json.loads(text), rounds)
    print("2. parse a committed transaction (3 events, 2 ours)")
    print(f"   agihub (json.loads + parse_events):     {parsed:8.1f} us/tx")
    print(f"   anchor (json.loads only):               {loads:8.1f} us/tx")
    print(f"   ratio: {parsed / loads:.2f}x")


if __name__ == "__main__":
    main()
