"""The asynchronous :class:`AsyncClient`: the same surface as :class:`~agihub.client.sync.Client`.

Each call runs the synchronous client's IO in a worker thread (``asyncio.to_thread``), so there is
one implementation of the logic; :meth:`AsyncClient.follow` is an async iterator.

Example::

    from agihub import AsyncClient

    async def buy(model_root: bytes, relay: str) -> None:
        client = AsyncClient()
        placed = await client.place_order(model_root, [relay], down=10**15, cost=10**16)
        async for event in client.follow(placed.order_id):
            print(event.name, event.state.name)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agihub.chain.base import Chain, Contribution, Order, Receipt, RelayInfo
from agihub.chain.catalog import OrderState
from agihub.client import core
from agihub.client.config import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, DEFAULT_WINDOWS
from agihub.client.models import DeliveryResult, OrderEvent, OrderPlaced, PublishResult, Rewards
from agihub.client.sync import Client, Progress
from agihub.identity import SecretKey
from agihub.storage import PackOptions, SignedManifest

__all__ = ["AsyncClient"]


class AsyncClient:
    """Async twin of :class:`~agihub.client.sync.Client`; same arguments, same methods, awaited."""

    def __init__(
        self,
        chain: Chain | str | None = None,
        *,
        market: str | None = None,
        account: Any = None,
        identity: SecretKey | str | os.PathLike[str] | None = None,
        relays: Sequence[str] | None = None,
        api_url: str | None = None,
        workdir: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.sync = Client(
            chain, market=market, account=account, identity=identity, relays=relays,
            api_url=api_url, workdir=workdir, timeout=timeout,
        )  # fmt: skip

    @property
    def config(self) -> Any:
        return self.sync.config

    async def address(self) -> str:
        return await asyncio.to_thread(lambda: self.sync.address)

    async def publish(
        self,
        model: str | os.PathLike[str],
        *,
        name: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        parent_root: bytes | str | None = None,
        owner_secret: bytes | None = None,
        options: PackOptions | None = None,
        relays: Sequence[str] | None = None,
        happiness: int | None = None,
        progress: Progress | None = None,
    ) -> PublishResult:
        return await asyncio.to_thread(
            self.sync.publish, model, name=name, out_dir=out_dir, parent_root=parent_root,
            owner_secret=owner_secret, options=options, relays=relays, happiness=happiness, progress=progress,
        )  # fmt: skip

    async def place_order(
        self,
        model_root: bytes | str,
        relays: Sequence[str],
        *,
        down: int,
        cost: int,
        tip: int = 0,
        windows: tuple[int, int, int] = DEFAULT_WINDOWS,
        check_offers: bool = True,
    ) -> OrderPlaced:
        return await asyncio.to_thread(
            self.sync.place_order, model_root, relays, down=down, cost=cost, tip=tip, windows=windows,
            check_offers=check_offers,
        )  # fmt: skip

    async def order(self, order_id: int) -> Order:
        return await asyncio.to_thread(self.sync.order, order_id)

    async def raise_payment(self, order_id: int, *, down: int = 0, cost: int = 0, tip: int = 0) -> Receipt:
        return await asyncio.to_thread(self.sync.raise_payment, order_id, down=down, cost=cost, tip=tip)

    async def cancel(self, order_id: int) -> Receipt:
        return await asyncio.to_thread(self.sync.cancel, order_id)

    async def settle(self, order_id: int) -> Receipt:
        return await asyncio.to_thread(self.sync.settle, order_id)

    async def withdraw(self) -> Receipt:
        return await asyncio.to_thread(self.sync.withdraw)

    async def events(self, order_id: int) -> list[OrderEvent]:
        return await asyncio.to_thread(self.sync.events, order_id)

    async def follow(
        self, order_id: int, *, poll: float = DEFAULT_POLL_S, timeout: float | None = None
    ) -> AsyncIterator[OrderEvent]:
        """Async iterator of the order's events (past ones first); ends when the order is terminal."""
        follower = core.Follower(order_id, timeout, time.monotonic())
        while True:
            new, done = follower.step(await self.events(order_id))
            for event in new:
                yield event
            if done:
                return
            follower.check_time(time.monotonic())
            await asyncio.sleep(poll)

    async def wait_for(
        self, order_id: int, state: OrderState, *, poll: float = DEFAULT_POLL_S, timeout: float | None = None
    ) -> OrderEvent:
        return await asyncio.to_thread(self.sync.wait_for, order_id, state, poll=poll, timeout=timeout)

    async def fetch_delivery(self, order_id: int, *, progress: Progress | None = None) -> DeliveryResult:
        return await asyncio.to_thread(self.sync.fetch_delivery, order_id, progress=progress)

    async def confirm(self, order_id: int, *, progress: Progress | None = None) -> DeliveryResult:
        return await asyncio.to_thread(self.sync.confirm, order_id, progress=progress)

    async def revealed_key(self, order_id: int) -> tuple[bytes, bytes]:
        return await asyncio.to_thread(self.sync.revealed_key, order_id)

    async def open(
        self,
        order_id: int,
        dest: str | os.PathLike[str],
        *,
        manifest: SignedManifest | str | os.PathLike[str] | None = None,
        version_key: bytes | None = None,
        shard_indices: Sequence[int] | None = None,
        progress: Progress | None = None,
    ) -> DeliveryResult:
        return await asyncio.to_thread(
            self.sync.open, order_id, dest, manifest=manifest, version_key=version_key,
            shard_indices=shard_indices, progress=progress,
        )  # fmt: skip

    async def manifest(
        self, model_root: bytes | str, *, relays: Sequence[str] | None = None
    ) -> SignedManifest:
        return await asyncio.to_thread(self.sync.manifest, model_root, relays=relays)

    async def download(
        self,
        order_id: int,
        dest: str | os.PathLike[str],
        *,
        manifest: SignedManifest | str | os.PathLike[str] | None = None,
        version_key: bytes | None = None,
        timeout: float | None = None,
        poll: float = DEFAULT_POLL_S,
        progress: Progress | None = None,
    ) -> DeliveryResult:
        return await asyncio.to_thread(
            self.sync.download, order_id, dest, manifest=manifest, version_key=version_key,
            timeout=timeout, poll=poll, progress=progress,
        )  # fmt: skip

    async def relay_pubkey(self, endpoint: str) -> bytes:
        return await asyncio.to_thread(self.sync.relay_pubkey, endpoint)

    async def register_relay(self, endpoint: str, nostr_pubkey: bytes | str | None = None) -> Receipt:
        return await asyncio.to_thread(self.sync.register_relay, endpoint, nostr_pubkey)

    async def update_relay(self, endpoint: str, nostr_pubkey: bytes | str | None = None) -> Receipt:
        return await asyncio.to_thread(self.sync.update_relay, endpoint, nostr_pubkey)

    async def deregister_relay(self) -> Receipt:
        return await asyncio.to_thread(self.sync.deregister_relay)

    async def relay_info(self, address: str | None = None) -> RelayInfo:
        return await asyncio.to_thread(self.sync.relay_info, address)

    async def register_contribution(self, model_root: bytes | str, parent_root: bytes | str) -> int:
        return await asyncio.to_thread(self.sync.register_contribution, model_root, parent_root)

    async def api_get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.sync.api_get, path, params)

    async def score(self, contribution_id: int) -> Contribution:
        return await asyncio.to_thread(self.sync.score, contribution_id)

    async def claim_reward(self, contribution_id: int) -> Receipt:
        return await asyncio.to_thread(self.sync.claim_reward, contribution_id)

    async def rewards(self, account: str | None = None, *, role: str = "contributors") -> Rewards:
        return await asyncio.to_thread(self.sync.rewards, account, role=role)
