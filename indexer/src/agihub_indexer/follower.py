"""The follow loop: backfill as fast as the node answers, then poll the head; reorgs; backoff.

Each step reads the head, keeps ``confirmations`` blocks behind it, fetches the next range and hands
it to :meth:`Store.write_batch` (rows and cursor in one transaction). While one batch is written the
next is already being fetched (one background thread), so a backfill runs at the pace of the slower
of the two rather than their sum; a prefetched batch is checked like any other before it is written.

Reorgs (sources with ``reorgs``): a batch whose first parent hash differs from the stored hash at the
cursor, or an idle tip whose hash changed, means the node switched branches. The follower walks back
through the stored headers to the newest block whose hash the node still reports (the common
ancestor), rolls back to it and continues from there on the canonical chain. A reorg of
``reorg_limit`` blocks or more raises :class:`ReorgTooDeep` and halts.

Node trouble (:class:`SourceError`) is retried with exponential backoff; nothing is written from a
failed or inconsistent answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from agihub_indexer.errors import IndexerError, ReorgTooDeep, SourceError, SourceInconsistent
from agihub_indexer.sources.base import Batch, Source
from agihub_indexer.store import Cursor, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowConfig:
    """How the follower paces itself (see :class:`~agihub_indexer.settings.IndexerSettings`)."""

    confirmations: int = 0
    reorg_limit: int = 64
    batch_size: int = 500
    start_block: int = 0
    poll_interval_s: float = 2.0
    max_backoff_s: float = 30.0


@dataclass
class Progress:
    """What the last step saw; ``lag`` is the metric exported to status and heartbeats."""

    position: int = -1
    head: int | None = None
    batches: int = 0
    events: int = 0
    reorgs: int = 0
    retries: int = 0

    @property
    def lag(self) -> int | None:
        """Blocks (or versions) between the node's head and the last position written."""
        return None if self.head is None else max(0, self.head - self.position)


class Follower:
    """Drives one :class:`Source` into one :class:`Store`."""

    def __init__(
        self,
        source: Source,
        store: Store,
        config: FollowConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.store = store
        self.config = config
        self.sleep = sleep
        self.progress = Progress()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-fetch")
        self._ahead: tuple[int, int, Future[Batch]] | None = None

    def close(self) -> None:
        """Stop the prefetch thread."""
        self._drop_prefetch()
        self._pool.shutdown(wait=True)

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> int:
        """Advance by at most one batch.

        Returns the number of positions written, 0 when caught up, or minus the depth of a reorg
        that was rolled back (the next step re-applies the canonical branch).

        Raises :class:`SourceError` on node trouble (nothing written) and halting errors as is.
        """
        cursor = self.store.ensure_cursor(self.config.start_block)
        self.progress.position = cursor.position
        head = self.source.head()
        if head < cursor.position:
            # A lagging or restarted node behind a load balancer; a real switch to a shorter branch
            # is caught by the parent-hash check once the canonical chain grows past the cursor.
            raise SourceInconsistent(f"node head {head} is below the indexed block {cursor.position}")
        self.progress.head = head
        target = head - self.config.confirmations
        if target <= cursor.position:
            rolled_back = self._check_tip(cursor)
            self.store.record_head(head)
            return -rolled_back
        end = min(cursor.position + self.config.batch_size, target)
        batch = self._take(cursor.position + 1, end)
        if self.source.reorgs and not self._links(cursor, batch):
            self._drop_prefetch()
            if self.source.block_hash(cursor.position) == cursor.block_hash:
                # The node still has our block: the batch, not the chain, is wrong. Never roll back on it.
                raise SourceInconsistent(
                    f"block {batch.start}'s parent hash contradicts the node's own block {cursor.position}"
                )
            return -self._handle_reorg(cursor)
        self._prefetch(end + 1, min(end + self.config.batch_size, target))
        if not self.store.write_batch(batch, head):
            return 0
        self.progress.position = end
        self.progress.batches += 1
        self.progress.events += len(batch.events)
        return end - cursor.position

    def _links(self, cursor: Cursor, batch: Batch) -> bool:
        """Whether the batch continues the indexed chain (unknown hash at the start: trust it)."""
        return (
            cursor.block_hash is None or not batch.blocks or batch.blocks[0].parent_hash == cursor.block_hash
        )

    def _check_tip(self, cursor: Cursor) -> int:
        """Depth rolled back (0: none). Caught up, a switch to an equally long branch shows only here."""
        if not self.source.reorgs or cursor.block_hash is None or cursor.position < self.config.start_block:
            return 0
        if self.source.block_hash(cursor.position) != cursor.block_hash:
            return self._handle_reorg(cursor)
        return 0

    # -- reorgs -----------------------------------------------------------------------------------
    def _handle_reorg(self, cursor: Cursor) -> int:
        ancestor = self._common_ancestor(cursor)
        self.store.rollback_to(ancestor, cursor.position)
        self.progress.position = ancestor
        self.progress.reorgs += 1
        depth = cursor.position - ancestor
        log.warning("reorg of depth %s on %s: resuming after block %s", depth, self.store.chain, ancestor)
        return depth

    def _common_ancestor(self, cursor: Cursor) -> int:
        """The newest indexed block the node still agrees on, at most ``reorg_limit - 1`` back."""
        floor = self.config.start_block - 1
        for depth in range(1, self.config.reorg_limit):
            number = cursor.position - depth
            if number <= floor:
                return floor  # everything indexed is replaced: start over from the first block
            stored = self.store.stored_hash(number)
            if stored is None:
                break
            if self.source.block_hash(number) == stored:
                return number
        raise ReorgTooDeep(self.store.chain, cursor.position, self.config.reorg_limit)

    # -- prefetch ---------------------------------------------------------------------------------
    def _take(self, start: int, end: int) -> Batch:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            a_start, a_end, future = ahead
            if a_start == start and a_end == end:
                return future.result()  # re-raises the fetch's SourceError, if any
            future.cancel()
        return self.source.fetch(start, end)

    def _prefetch(self, start: int, end: int) -> None:
        if end >= start:
            self._ahead = (start, end, self._pool.submit(self.source.fetch, start, end))

    def _drop_prefetch(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[2].cancel()

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, until_caught_up: bool = False) -> Progress:
        """Follow until ``stop`` is set (or, with ``until_caught_up``, until nothing is left to index).

        Halting errors (:class:`ReorgTooDeep`, :class:`MalformedEvent`, any other
        :class:`IndexerError`) are recorded on the cursor for ``status`` and re-raised.
        """
        stop = stop or threading.Event()
        backoff = 0.0
        self.store.ensure_cursor(self.config.start_block)
        self.store.record_halt(None)
        while not stop.is_set():
            try:
                advanced = self.step()
            except SourceError as exc:
                self._drop_prefetch()
                backoff = min(self.config.max_backoff_s, max(0.25, backoff * 2))
                self.progress.retries += 1
                log.warning("node trouble, retrying in %.2fs: %s", backoff, exc)
                self._pause(stop, backoff)
                continue
            except IndexerError as exc:  # ReorgTooDeep, MalformedEvent, CursorConflict: halt
                self.store.record_halt(str(exc))
                log.error("indexer halted: %s", exc)
                raise
            backoff = 0.0
            if advanced == 0:
                if until_caught_up:
                    break
                self._pause(stop, self.config.poll_interval_s)
        return self.progress

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        # A stop request must cut a long poll or backoff short; tests inject their own sleep.
        if self.sleep is time.sleep:
            stop.wait(seconds)
        else:
            self.sleep(seconds)


def wait_for_chain(
    source: Source,
    *,
    max_backoff_s: float = 30.0,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] | None = None,
) -> str:
    """The source's chain key, retrying with backoff while the node is unreachable (at start-up).

    Raises :class:`SourceError` only if ``stop`` is set before the node answered.
    """
    stop = stop or threading.Event()
    backoff = 0.0
    while True:
        try:
            return source.chain
        except SourceError as exc:
            if stop.is_set():
                raise
            backoff = min(max_backoff_s, max(0.25, backoff * 2))
            log.warning("node not answering, retrying in %.2fs: %s", backoff, exc)
            (sleep or stop.wait)(backoff)
