"""Typed results of :class:`agihub.Client` calls (frozen dataclasses; amounts in the smallest unit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agihub.chain.base import Contribution, EpochResult, Order, Receipt, RelayInfo
from agihub.chain.catalog import OrderState

__all__ = [
    "Contribution",
    "DeliveryResult",
    "EpochResult",
    "Order",
    "OrderEvent",
    "OrderPlaced",
    "PublishResult",
    "Receipt",
    "RelayInfo",
    "Rewards",
]


@dataclass(frozen=True)
class PublishResult:
    """A published model version: its root, the package folder and where each shard went."""

    model_root: bytes
    package_dir: Path
    placements: Mapping[int, tuple[str, ...]]
    failed: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_root": self.model_root.hex(),
            "package_dir": str(self.package_dir),
            "placements": {str(i): list(u) for i, u in sorted(self.placements.items())},
            "failed": dict(self.failed),
        }


@dataclass(frozen=True)
class OrderPlaced:
    """An order just opened on chain."""

    order_id: int
    model_root: bytes
    relays: tuple[str, ...]
    down: int
    cost: int
    tip: int
    tx_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "model_root": self.model_root.hex(),
            "relays": list(self.relays),
            "down": self.down,
            "cost": self.cost,
            "tip": self.tip,
            "tx_hash": self.tx_hash,
        }


@dataclass(frozen=True)
class OrderEvent:
    """One step in an order's life, from the chain's logs, with the state the order is in after it."""

    order_id: int
    name: str
    state: OrderState
    fields: Mapping[str, Any]
    tx_hash: str = ""
    block: int = 0
    log_index: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "event": self.name,
            "state": self.state.name,
            "fields": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in self.fields.items()},
            "tx_hash": self.tx_hash,
            "block": self.block,
        }


@dataclass(frozen=True)
class DeliveryResult:
    """A sealed delivery received from the taking relay (``confirm``) and, once opened, the model."""

    order_id: int
    relay: str
    sealed_path: Path
    plain_size: int
    delivery_root: bytes
    shard_indices: tuple[int, ...] = ()
    model_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "relay": self.relay,
            "sealed_path": str(self.sealed_path),
            "plain_size": self.plain_size,
            "delivery_root": self.delivery_root.hex(),
            "shard_indices": list(self.shard_indices),
            "model_path": str(self.model_path) if self.model_path else None,
        }


@dataclass(frozen=True)
class Rewards:
    """What an account earned: unclaimed credits on chain and (with an API) paid totals per chain."""

    account: str
    credits: int
    paid_by_chain: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "credits": self.credits, "paid_by_chain": dict(self.paid_by_chain)}
