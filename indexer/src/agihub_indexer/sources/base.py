"""The source interface and the records it yields.

A source turns a node's answers into :class:`Batch` es of :class:`Block` headers and
:class:`EventRecord` s whose ``fields`` are JSON-ready (ints, ``0x`` hex for bytes, canonical address
strings, lists). Positions are block numbers on the EVM and transaction versions on Aptos. A source
raises only :class:`~agihub_indexer.errors.SourceError` subclasses for node trouble (retried) and
:class:`~agihub_indexer.errors.MalformedEvent` for data that contradicts the catalogue (halts).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Block:
    """A block header: enough to check that blocks link up and to find a reorg's common ancestor."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One decoded market event at its position ``(block_number, log_index)`` on ``chain``.

    ``log_index`` is the log's index in the block on the EVM and the event's index in its transaction
    on Aptos (where ``block_number`` is the transaction version).
    """

    chain: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract: str
    name: str
    fields: dict[str, Any]

    @property
    def key(self) -> tuple[str, int, str, int]:
        """The unique key the database enforces: (chain, block, transaction, event index)."""
        return (self.chain, self.block_number, self.tx_hash, self.log_index)


@dataclass(frozen=True)
class Batch:
    """Everything a source reports for positions ``start..end`` (inclusive).

    ``blocks`` holds the header of every position when the chain can reorg (EVM) and is empty
    otherwise (Aptos is final once committed).
    """

    start: int
    end: int
    blocks: list[Block] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    @property
    def last_hash(self) -> str | None:
        """Hash of the batch's last block (None for sources without blocks)."""
        return self.blocks[-1].hash if self.blocks else None


class Source(abc.ABC):
    """One chain node, read-only. Implementations must be safe to call again after any error."""

    #: The key under which rows and the cursor are stored, e.g. ``evm:31337`` or ``aptos:4``.
    chain: str
    #: Whether blocks can be replaced after being reported (parent-hash checks and rollback apply).
    reorgs: bool

    @abc.abstractmethod
    def head(self) -> int:
        """The newest position the node reports."""

    @abc.abstractmethod
    def fetch(self, start: int, end: int) -> Batch:
        """Headers and market events of positions ``start..end``, checked for internal consistency."""

    @abc.abstractmethod
    def block_hash(self, number: int) -> str:
        """The canonical hash of block ``number`` now (used to find a reorg's common ancestor)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most sources hold only an HTTP client
        """Release connections."""
