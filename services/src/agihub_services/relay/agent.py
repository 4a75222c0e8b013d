"""The relay's order agent: takes orders for models it holds, delivers sealed shards, reveals, settles.

Plain logic, no server: the CLI (``agihub relay agent``) runs :meth:`OrderAgent.run` beside the relay
node, sharing its database and blob directory.

Which models does the relay hold? The rule in :mod:`agihub_services.relay.holdings` (a signed
manifest blob plus at least one of its shards), the same one the relay's offer (kind 31338)
advertises. An order for a model without a local shard is DECLINED.

Per order (all steps idempotent: each re-reads the order on chain before acting):

1. OPEN, no row: bundle the relay's shards of the model in index order, seal it with a fresh key
   (:func:`agihub.storage.crypto.seal_delivery`), write key + salt + delivery hash to the table
   (PREPARED), then send ``take_order`` with :func:`agihub.chain.commitment.key_commit`.
2. TAKEN by us: the row becomes TAKEN; the buyer downloads the ciphertext from
   ``GET /delivery/<market>/<order id>`` (:mod:`agihub_services.relay.delivery`) and confirms on chain.
3. ACKED: reveal key and salt (REVEALED, paid cost + tip - fee).
4. Any deadline passed while TAKEN or ACKED: ``settle`` (EXPIRED: the relay keeps the down payment).

Restart safety: the key is stored before the take is sent, so after a crash between "take sent" and
"row updated" the agent finds the order TAKEN by itself and resumes; the contract refuses a second
take, and the agent only sends one while the chain says OPEN. Final outcomes and amounts are read
back from the contract's own events (``OrderTaken``/``KeyRevealed`` with this relay indexed), so a
crash after a reveal or settle loses no payment record either.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agihub.chain.base import Order
from agihub.chain.catalog import OrderState
from agihub.chain.commitment import key_commit
from agihub.chain.errors import ContractError
from agihub.chain.evm import EvmChain
from agihub.errors import ChainError, StorageError
from agihub.storage.crypto import seal_delivery
from agihub_services.relay.agent_store import (
    DECLINED,
    EXPIRED,
    FINAL,
    LOST,
    PREPARED,
    REVEALED,
    TAKEN,
    AgentOrder,
    AgentStore,
)
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.holdings import HeldShard, ModelIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Earnings:
    """What this relay earned on one market: per order and in total, plus unwithdrawn credits."""

    orders: tuple[AgentOrder, ...]
    down_total: int
    paid_total: int
    credits: int

    @property
    def total(self) -> int:
        return self.down_total + self.paid_total


def delivery_path(delivery_dir: Path, market: str, order_id: int) -> Path:
    """Where the sealed delivery of ``order_id`` lives (never inside the public blob store)."""
    return delivery_dir / market.lower() / f"{order_id}.sealed"


class OrderAgent:
    """One relay account's agent on one market.

    :param chain: the relay's signing handle on the market.
    :param blobs: the relay node's blob store (shards and manifests are read from it).
    :param delivery_dir: where sealed deliveries are written (served by :mod:`relay.delivery`).
    """

    def __init__(self, chain: EvmChain, blobs: BlobStore, delivery_dir: Path) -> None:
        self.chain, self.blobs, self.delivery_dir = chain, blobs, delivery_dir
        self.store = AgentStore(blobs.engine, chain.contract.address)
        self._next_block = chain.start_block
        self._models: dict[bytes, list[HeldShard]] = {}
        self._index = ModelIndex(blobs)
        self._retry: set[int] = set()

    @property
    def me(self) -> str:
        return self.chain.address

    # -- registration and model index -------------------------------------------------------------
    def register(self, nostr_pubkey: bytes, endpoint: str) -> str | None:
        """Bind this account to the relay's Nostr key and endpoint on chain; None if already so."""
        info = self.chain.relay_info(self.me)
        if info.registered and info.nostr_pubkey == nostr_pubkey and info.endpoint == endpoint:
            return None
        send = self.chain.update_relay if info.registered else self.chain.register_relay
        return send(nostr_pubkey, endpoint).tx_hash

    def index_models(self) -> dict[bytes, list[HeldShard]]:
        """Rescan the blob store: model_root -> shards held here, in index order (see holdings.py)."""
        self._models = self._index.scan()
        return self._models

    # -- the loop ---------------------------------------------------------------------------------
    def new_orders(self) -> list[int]:
        """Ids of orders pulled since the last call whose relay list names this account."""
        latest = self.chain.w3.eth.block_number
        if latest < self._next_block:
            return []
        logs = self.chain.contract.events.OrderPulled().get_logs(from_block=self._next_block, to_block=latest)
        self._next_block = latest + 1
        mine = [int(e["args"]["order_id"]) for e in logs if self.me in e["args"]["relays"]]
        return [i for i in mine if self.store.get(i) is None]

    def poll(self) -> dict[int, str]:
        """One round: index models, step every new and unfinished order; returns id -> agent state."""
        self.index_models()
        states = {}
        # Orders that failed before their first row exist only in ``_retry`` (a restart rescans the
        # chain from ``start_block`` and finds them again).
        pending = set(self.new_orders()) | set(self.store.open_orders()) | self._retry
        for order_id in sorted(pending):
            try:
                states[order_id] = self.step(order_id)
                self._retry.discard(order_id)
            except (ContractError, StorageError, OSError) as exc:
                # A race (another relay took it first), a blob deleted under us, a full disk: the
                # order's state is unchanged, so the next round simply tries again.
                log.warning("order %s: %s; retrying next round", order_id, exc)
                states[order_id] = "retry"
                self._retry.add(order_id)
        return states

    def run(self, interval: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Poll every ``interval`` seconds until ``stop()`` is true."""
        while not stop():
            try:
                self.poll()
            except ChainError as exc:  # node unreachable or similar: the next round starts over
                log.warning("poll failed: %s", exc)
            time.sleep(interval)

    # -- one order --------------------------------------------------------------------------------
    def step(self, order_id: int) -> str:
        """Advance one order by at most one chain transaction; returns the agent state after."""
        row = self.store.get(order_id)
        if row is not None and row.state in FINAL:
            return row.state
        order = self.chain.get_order(order_id)
        if order.state.terminal:
            return self._close(order, row)
        if row is None:
            row = self._prepare(order)
        if row.state in FINAL:
            return row.state
        if order.state == OrderState.OPEN:
            return self._take(order, row)
        if order.taker != self.me:
            return self._finish(order_id, LOST)
        if row.state == PREPARED:  # the take was mined but the row not updated (crash): resume
            row = self.store.update(order_id, state=TAKEN, down_paid=str(self._down_paid(order_id)))
        if self.chain.now() > order.deadline:
            return self._settle(order_id)
        if order.state == OrderState.ACKED:
            return self._reveal(order_id, row)
        return TAKEN

    def _prepare(self, order: Order) -> AgentOrder:
        base = AgentOrder(self.store.market, order.order_id, DECLINED, order.buyer, order.model_root.hex())
        if order.state != OrderState.OPEN:  # first seen after another relay took it
            return self.store.insert(replace(base, state=LOST))
        shards = self._models.get(order.model_root)
        if not shards:
            log.info("order %s: declined (no shard of model %s here)", order.order_id, order.model_root.hex())
            return self.store.insert(base)
        sealed = delivery_path(self.delivery_dir, self.store.market, order.order_id)
        sealed.parent.mkdir(parents=True, exist_ok=True)
        bundle = sealed.with_suffix(".bundle")
        with bundle.open("wb") as out:  # the relay's shards of the model, in index order
            for shard in shards:
                with self.blobs.path(shard.sha256).open("rb") as src:
                    shutil.copyfileobj(src, out)
        try:
            delivery = seal_delivery(bundle, sealed)
        finally:
            bundle.unlink(missing_ok=True)
        return self.store.insert(
            replace(
                base,
                state=PREPARED,
                order_key=delivery.order_key.hex(),
                salt=delivery.salt.hex(),
                delivery_sha256=_sha256_file(sealed),
                plain_size=delivery.size,
            )
        )

    def _take(self, order: Order, row: AgentOrder) -> str:
        if self.chain.now() > order.deadline:
            return row.state  # too late to take; the order will end EXPIRED and be closed then
        assert row.order_key is not None and row.salt is not None  # PREPARED rows always have them
        commit = key_commit(bytes.fromhex(row.order_key), bytes.fromhex(row.salt), order.order_id, self.me)
        receipt = self.chain.take_order(order.order_id, commit)
        down = receipt.event("OrderTaken")["down_paid"]
        self.store.update(order.order_id, state=TAKEN, take_tx=receipt.tx_hash, down_paid=str(down))
        log.info("order %s: taken (tx %s)", order.order_id, receipt.tx_hash)
        return TAKEN

    def _reveal(self, order_id: int, row: AgentOrder) -> str:
        assert row.order_key is not None and row.salt is not None
        receipt = self.chain.reveal_key(order_id, bytes.fromhex(row.order_key), bytes.fromhex(row.salt))
        paid = receipt.event("KeyRevealed")["relay_amount"]
        self._finish(order_id, REVEALED, reveal_tx=receipt.tx_hash, relay_paid=str(paid))
        log.info("order %s: key revealed, paid %s", order_id, paid)
        return REVEALED

    def _settle(self, order_id: int) -> str:
        receipt = self.chain.settle(order_id)
        log.info("order %s: deadline passed, settled (tx %s)", order_id, receipt.tx_hash)
        return self._finish(order_id, EXPIRED, settle_tx=receipt.tx_hash, relay_paid="0")

    def _close(self, order: Order, row: AgentOrder | None) -> str:
        """The order ended on chain: record how, from this relay's own events (restart-safe)."""
        if row is None:
            return LOST
        revealed = self._my_events("KeyRevealed", order.order_id)
        if revealed:
            amount = revealed[0]["args"]["relay_amount"]
            return self._finish(order.order_id, REVEALED, relay_paid=str(amount), down_paid=self._down(order))
        if self._my_events("OrderTaken", order.order_id):
            return self._finish(order.order_id, EXPIRED, relay_paid="0", down_paid=self._down(order))
        return self._finish(order.order_id, LOST if row.state != DECLINED else DECLINED)

    def _down(self, order: Order) -> str:
        return str(self._down_paid(order.order_id))

    def _finish(self, order_id: int, state: str, **changes: str) -> str:
        self.store.update(order_id, state=state, **changes)
        delivery_path(self.delivery_dir, self.store.market, order_id).unlink(missing_ok=True)
        return state

    def _my_events(self, name: str, order_id: int) -> list[Any]:
        event = getattr(self.chain.contract.events, name)()
        return list(
            event.get_logs(
                from_block=self.chain.start_block, argument_filters={"order_id": order_id, "relay": self.me}
            )
        )

    def _down_paid(self, order_id: int) -> int:
        taken = self._my_events("OrderTaken", order_id)
        return int(taken[0]["args"]["down_paid"]) if taken else 0

    # -- reporting --------------------------------------------------------------------------------
    def earnings(self) -> Earnings:
        """Per-order earnings from the table and this relay's unwithdrawn credits on chain."""
        rows = tuple(self.store.all())
        down = sum(int(r.down_paid or 0) for r in rows)
        paid = sum(int(r.relay_paid or 0) for r in rows)
        return Earnings(rows, down, paid, self.chain.credits(self.me))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
