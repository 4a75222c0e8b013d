"""EVM source: market logs by block range through JSON-RPC, with every block's header.

One HTTP batch per range asks for the header of each block and for the market's logs, so the
answers come from one moment of the node. The batch is then checked before anyone sees it: every
block present, numbers consecutive, each parent hash equal to the previous block's hash, every log
inside the range, on a known block hash and not ``removed``. Any contradiction raises
:class:`SourceInconsistent` (the follower retries); logs that do not decode raise
:class:`MalformedEvent`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from agihub_indexer.errors import MalformedEvent, SourceInconsistent
from agihub_indexer.sources.base import Batch, Block, EventRecord, Source
from agihub_indexer.sources.evm_abi import TOPIC0S, checksum_address, decode_log
from agihub_indexer.sources.jsonrpc import JsonRpcClient

log = logging.getLogger(__name__)


def _int(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise SourceInconsistent(f"{what} is {value!r}, not a hex quantity")
    return int(value, 16)


def _address(value: str) -> str:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise ValueError(f"{value!r} is not a hex address") from None
    if len(raw) != 20:
        raise ValueError(f"{value!r} is not a 20-byte address")
    return checksum_address(raw)


class EvmSource(Source):
    """Follows one market contract on an EVM JSON-RPC node.

    :param rpc_url: the node's HTTP endpoint.
    :param market_address: the market contract; its logs are the only ones read.
    :param transport: an httpx transport (tests put a fault injector in front of the real node).
    """

    reorgs = True

    def __init__(
        self,
        rpc_url: str,
        market_address: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            self.market = _address(market_address)
        except ValueError as exc:
            from agihub.errors import ConfigError

            raise ConfigError(f"AGIHUB_INDEXER_MARKET_ADDRESS: {exc}") from None
        self._market_lower = self.market.lower()
        self.rpc = JsonRpcClient(rpc_url, timeout=timeout, transport=transport)
        self._chain: str | None = None

    @property
    def chain(self) -> str:  # type: ignore[override]
        """``evm:<chain id>``, asked from the node once."""
        if self._chain is None:
            self._chain = f"evm:{_int(self.rpc.call('eth_chainId', []), 'eth_chainId')}"
        return self._chain

    def close(self) -> None:
        self.rpc.close()

    def head(self) -> int:
        return _int(self.rpc.call("eth_blockNumber", []), "eth_blockNumber")

    def block_hash(self, number: int) -> str:
        header = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
        if header is None:
            raise SourceInconsistent(f"block {number} is missing on the node")
        return self._block(header, number).hash

    def fetch(self, start: int, end: int) -> Batch:
        if end < start:
            raise ValueError(f"empty range {start}..{end}")
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [hex(n), False]) for n in range(start, end + 1)
        ]
        log_filter = {
            "fromBlock": hex(start),
            "toBlock": hex(end),
            "address": self.market,
            "topics": [list(TOPIC0S)],
        }
        calls.append(("eth_getLogs", [log_filter]))
        *headers, logs = self.rpc.batch(calls)
        blocks = self._linked_blocks(headers, start)
        events = self._events(logs, {b.number: b.hash for b in blocks}, start, end)
        return Batch(start, end, blocks, events)

    def fetch_logs(self, start: int, end: int) -> list[Any]:
        """The raw ``eth_getLogs`` answer for a range (the benchmark's fetch-only anchor)."""
        log_filter = {
            "fromBlock": hex(start),
            "toBlock": hex(end),
            "address": self.market,
            "topics": [list(TOPIC0S)],
        }
        return list(self.rpc.call("eth_getLogs", [log_filter]))

    # -- checks ----------------------------------------------------------------------------------
    @staticmethod
    def _block(header: Any, number: int) -> Block:
        if not isinstance(header, dict):
            raise SourceInconsistent(f"block {number}: header is {type(header).__name__}")
        got = _int(header.get("number"), f"block {number} number")
        if got != number:
            raise SourceInconsistent(f"asked for block {number}, node answered block {got}")
        block_hash, parent = header.get("hash"), header.get("parentHash")
        if not isinstance(block_hash, str) or not isinstance(parent, str):
            raise SourceInconsistent(f"block {number}: header lacks hash or parentHash")
        return Block(number, block_hash.lower(), parent.lower(), _int(header.get("timestamp"), "timestamp"))

    def _linked_blocks(self, headers: list[Any], start: int) -> list[Block]:
        blocks: list[Block] = []
        for offset, header in enumerate(headers):
            number = start + offset
            if header is None:  # beyond the head (it moved back) or a node still syncing
                raise SourceInconsistent(f"block {number} is missing on the node")
            block = self._block(header, number)
            if blocks and block.parent_hash != blocks[-1].hash:
                raise SourceInconsistent(
                    f"block {number}'s parent {block.parent_hash} is not block {number - 1} "
                    f"({blocks[-1].hash}): the node switched branches mid-answer"
                )
            blocks.append(block)
        return blocks

    def _events(self, logs: Any, hashes: dict[int, str], start: int, end: int) -> list[EventRecord]:
        if not isinstance(logs, list):
            raise SourceInconsistent(f"eth_getLogs answered a {type(logs).__name__}")
        # Thousands of logs share a handful of blocks: check each block's number spelling and hash
        # once, then recognise them by their exact strings (anything else takes the full check).
        known: dict[tuple[Any, Any], int] = {}
        events = []
        for entry in logs:
            event = self._event(entry, hashes, start, end, known)
            if event is not None:
                events.append(event)
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return events

    @staticmethod
    def _block_of(
        entry: dict[str, Any], hashes: dict[int, str], start: int, end: int, known: dict[tuple[Any, Any], int]
    ) -> tuple[int, str]:
        spelled = (entry.get("blockNumber"), entry.get("blockHash"))
        number = known.get(spelled)
        if number is None:
            number = _int(spelled[0], "log blockNumber")
            if not start <= number <= end:
                raise SourceInconsistent(f"log of block {number} outside the asked range {start}..{end}")
            block_hash = str(spelled[1] or "").lower()
            if hashes.get(number) != block_hash:
                raise SourceInconsistent(f"log of block {number} is on hash {block_hash}, not the header's")
            known[spelled] = number
        return number, hashes[number]

    def _event(
        self, entry: Any, hashes: dict[int, str], start: int, end: int, known: dict[tuple[Any, Any], int]
    ) -> EventRecord | None:
        if not isinstance(entry, dict):
            raise SourceInconsistent(f"log entry is a {type(entry).__name__}")
        number, block_hash = self._block_of(entry, hashes, start, end, known)
        if entry.get("removed"):
            raise SourceInconsistent(f"log of block {number} is on hash {block_hash} but marked removed")
        address = entry.get("address")
        if not isinstance(address, str) or address.lower() != self._market_lower:
            return None  # a node ignoring the address filter: not ours
        decoded = decode_log(entry.get("topics") or [], entry.get("data", "0x"))
        if decoded is None:
            return None
        name, fields = decoded
        tx_hash = entry.get("transactionHash")
        if not isinstance(tx_hash, str):
            raise MalformedEvent(f"{name} log in block {number} lacks a transaction hash")
        return EventRecord(
            self.chain,
            number,
            block_hash,
            tx_hash.lower(),
            _int(entry.get("logIndex"), "logIndex"),
            self.market,
            name,
            fields,
        )


__all__ = ["EvmSource"]
