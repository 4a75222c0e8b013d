"""Constants and helpers shared by the market.vy tests (titanoboa)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boa

from agihub.chain.commitment import key_commit

MARKET_VY = Path(__file__).resolve().parents[3] / "contracts" / "evm" / "market.vy"
EPOCH_LENGTH = 7 * 86400
WINDOW = 3600
DOWN, COST, TIP = 10**15, 10**16, 10**14
MODEL_ROOT = b"\x11" * 32
DELIVERY_ROOT = b"\x22" * 32
PUBKEY = b"\x01" * 32


@dataclass
class Secret:
    key: bytes
    salt: bytes


@dataclass
class OrderKit:
    """Helpers that drive one order through its states."""

    market: object
    buyer: str
    relays: list[str]

    def pull(
        self, down: int = DOWN, cost: int = COST, tip: int = TIP, relays: list[str] | None = None
    ) -> int:
        with boa.env.prank(self.buyer):
            return self.market.pull(
                MODEL_ROOT,
                relays or self.relays,
                down,
                cost,
                tip,
                WINDOW,
                WINDOW,
                WINDOW,
                value=down + cost + tip,
            )

    def take(self, order_id: int, relay: str | None = None) -> Secret:
        relay = relay or self.relays[0]
        secret = Secret(os.urandom(32), os.urandom(32))
        with boa.env.prank(relay):
            self.market.take_order(
                order_id, key_commit(secret.key, secret.salt, order_id, relay), self.relays
            )
        return secret

    def confirm(self, order_id: int) -> None:
        with boa.env.prank(self.buyer):
            self.market.confirm_received(order_id, DELIVERY_ROOT)

    def reveal(self, order_id: int, secret: Secret, relay: str | None = None) -> None:
        with boa.env.prank(relay or self.relays[0]):
            self.market.reveal_key(order_id, secret.key, secret.salt)


def events(contract: Any, name: str) -> list[Any]:
    """Decoded events called ``name`` emitted by the last call on ``contract``."""
    return [e for e in contract.get_logs() if type(e).__name__ == name]


def one_event(contract: Any, name: str) -> Any:
    found = events(contract, name)
    assert len(found) == 1, f"expected one {name}, got {[type(e).__name__ for e in contract.get_logs()]}"
    return found[0]
