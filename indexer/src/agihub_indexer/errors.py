"""Errors of the indexer.

::

    AgihubError (agihub.errors)
    ├── ConfigError                    a setting is missing or malformed
    └── ChainError
        └── IndexerError               base of everything below
            ├── SourceError            the node failed: retried with backoff, nothing is written
            │   ├── SourceUnavailable  transport error, timeout, HTTP or JSON-RPC error
            │   └── SourceInconsistent the node's answers contradict each other (head, hashes, links)
            ├── MalformedEvent         a log/event does not match the catalogue; halts (never skipped)
            ├── ReorgTooDeep           a reorg reaches past the configured limit; halts
            └── CursorConflict         another indexer moved the cursor; this one stops
"""

from __future__ import annotations

from agihub.errors import ChainError


class IndexerError(ChainError):
    """Base class of indexer errors."""


class SourceError(IndexerError):
    """The chain node could not give a usable answer; the follower retries with backoff."""


class SourceUnavailable(SourceError):
    """Transport failure, timeout, HTTP error status or JSON-RPC error object."""


class SourceInconsistent(SourceError):
    """The node contradicted itself (broken parent links, logs from another fork, head moved back)."""


class MalformedEvent(IndexerError):
    """A log or event does not decode against the catalogue; indexing halts rather than skip it."""


class ReorgTooDeep(IndexerError):
    """The canonical chain diverges from the indexed one deeper than ``reorg_limit`` blocks."""

    def __init__(self, chain: str, position: int, limit: int) -> None:
        super().__init__(
            f"reorg on {chain} deeper than the limit of {limit} blocks below block {position}: no common "
            f"ancestor found; halting. Inspect the node, then re-index from an earlier block "
            f"(AGIHUB_INDEXER_START_BLOCK with a fresh cursor) or raise AGIHUB_INDEXER_REORG_LIMIT"
        )
        self.chain = chain
        self.position = position
        self.limit = limit


class CursorConflict(IndexerError):
    """The stored cursor moved under this indexer: a second indexer runs on the same chain."""
