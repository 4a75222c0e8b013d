"""Hand-built batches (linked headers + market events) for store tests that need no node."""

from __future__ import annotations

from agihub_indexer.sources.base import Batch, Block, EventRecord

CHAIN = "evm:999"
BUYER, RELAY = "0x" + "b1" * 20, "0x" + "a1" * 20


def block_hash(number: int, branch: int = 0) -> str:
    return f"0x{branch:02x}{number:062x}"


def blocks(start: int, end: int, branch: int = 0) -> list[Block]:
    return [
        Block(n, block_hash(n, branch), block_hash(n - 1, branch if n - 1 >= start else 0), 1000 + n)
        for n in range(start, end + 1)
    ]


def _ev(block: int, index: int, name: str, branch: int = 0, **fields: object) -> EventRecord:
    return EventRecord(
        CHAIN, block, block_hash(block, branch), f"0x{block:032x}{index:032x}", index, "0xm", name, fields
    )


def events_for(block: int, branch: int = 0) -> list[EventRecord]:
    """A deterministic mix: every block pulls order ``block``; odd blocks take order ``block - 1``."""
    out = [
        _ev(
            block,
            0,
            "OrderPulled",
            branch,
            order_id=block,
            buyer=BUYER,
            model_root="0x" + "11" * 32,
            relays=[RELAY],
            down=1,
            cost=2 + branch,
            tip=0,
            take_deadline=99,
            ack_window=1,
            reveal_window=1,
        )
    ]
    if block % 2 and block > 1:
        out.append(
            _ev(
                block,
                1,
                "OrderTaken",
                branch,
                order_id=block - 1,
                relay=RELAY,
                key_commit="0x" + "cc" * 32,
                ack_deadline=100,
                down_paid=1,
            )
        )
    if block % 3 == 0:
        out.append(
            _ev(
                block,
                2,
                "RelayRegistered",
                branch,
                relay=RELAY,
                nostr_pubkey="0x" + f"{block:064x}",
                endpoint=f"wss://{block}",
            )
        )
    if block % 4 == 0:
        out.append(
            _ev(
                block,
                3,
                "ContributionRegistered",
                branch,
                contribution_id=block,
                contributor=BUYER,
                model_root=f"0x{block:064x}",
                parent_root="0x" + "00" * 32,
                epoch=1,
            )
        )
    return out


def batch(start: int, end: int, branch: int = 0) -> Batch:
    evs = [e for n in range(start, end + 1) for e in events_for(n, branch if n >= start else 0)]
    return Batch(start, end, blocks(start, end, branch), evs)
