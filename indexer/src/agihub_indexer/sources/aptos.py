"""Aptos source: market events by transaction version through the node's REST API.

Positions are ledger versions: ``GET /v1`` gives the newest (``ledger_version``) and
``GET /v1/transactions?start=&limit=`` pages through the committed transactions (at most
:data:`PAGE` per request). Every event of a successful transaction whose type is
``<market>::events::<Name>`` becomes an :class:`EventRecord`; its fields are converted to the same
JSON-ready shapes the EVM source yields (ints, ``0x`` + 64 hex for ``vector<u8>`` roots and keys,
``0x`` + 64 lowercase hex for addresses).

Aptos commits are final (BFT consensus), so there are no reorgs and no block headers to link:
``reorgs`` is False. Pages must hold exactly the versions asked for, in order, or the answer is
:class:`SourceInconsistent`.
API reference: https://aptos.dev/en/build/apis/fullnode-rest-api
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from agihub.chain.catalog import EVENT_BY_NAME, Param
from agihub.errors import ConfigError
from agihub_indexer.errors import MalformedEvent, SourceInconsistent, SourceUnavailable
from agihub_indexer.sources.base import Batch, EventRecord, Source

#: The node's default and maximum page size for /v1/transactions.
PAGE = 100
_HEX_FIELDS = frozenset({"bytes32"})


def normalize_address(value: Any) -> str:
    """``0x`` + 64 lowercase hex (the API shortens special addresses such as ``0x1``)."""
    if not isinstance(value, str) or not value.startswith("0x") or not 2 < len(value) <= 66:
        raise ValueError(f"{value!r} is not an Aptos address")
    digits = value[2:].lower()
    int(digits, 16)  # raises ValueError on non-hex
    return "0x" + digits.rjust(64, "0")


def _u64(value: Any) -> int:
    # The REST API renders u64 as a decimal string (JSON numbers lose precision above 2**53).
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{value!r} is not a u64")
    number = int(value)
    if not 0 <= number < 2**64:
        raise ValueError(f"{value!r} is out of the u64 range")
    return number


def _bytes32(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise ValueError(f"{value!r} is not 32 bytes of 0x hex")
    bytes.fromhex(value[2:])
    return value.lower()


def _field(param: Param, value: Any) -> Any:
    kind = param.kind
    if kind == "uint":
        return _u64(value)
    if kind == "address":
        return normalize_address(value)
    if kind == "address_list":
        if not isinstance(value, list):
            raise ValueError(f"{value!r} is not a list of addresses")
        return [normalize_address(v) for v in value]
    if kind == "bytes32":
        return _bytes32(value)
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a string")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not a bool")
        return value
    raise ValueError(f"unsupported kind {kind!r}")


def decode_event_data(name: str, data: Any) -> dict[str, Any]:
    """Catalogue fields of an Aptos event's ``data``; MalformedEvent if they do not fit."""
    spec = EVENT_BY_NAME.get(name)
    if spec is None:
        raise MalformedEvent(f"market event {name!r} is not in the catalogue")
    if not isinstance(data, dict):
        raise MalformedEvent(f"{name} data is a {type(data).__name__}, not an object")
    try:
        return {p.name: _field(p, data[p.name]) for p in spec.fields if "aptos" in p.chains}
    except KeyError as exc:
        raise MalformedEvent(f"{name} data lacks field {exc.args[0]!r}") from None
    except ValueError as exc:
        raise MalformedEvent(f"{name} data does not match the catalogue: {exc}") from None


class AptosSource(Source):
    """Follows the market package published at ``market_address`` on an Aptos fullnode.

    :param node_url: the REST base, e.g. ``https://fullnode.mainnet.aptoslabs.com`` (``/v1`` is added).
    """

    reorgs = False

    def __init__(
        self,
        node_url: str,
        market_address: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            self.market = normalize_address(market_address)
        except ValueError as exc:
            raise ConfigError(f"AGIHUB_INDEXER_MARKET_ADDRESS: {exc}") from None
        self.base = node_url.rstrip("/").removesuffix("/v1") + "/v1"
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._chain: str | None = None
        self._prefix = f"{self.market}::events::"

    @property
    def chain(self) -> str:  # type: ignore[override]
        """``aptos:<chain id>``, asked from the node once."""
        if self._chain is None:
            self._chain = f"aptos:{self._ledger()['chain_id']}"
        return self._chain

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = self.base + path
        try:
            response = self._http.get(url, params=params)
        except httpx.TimeoutException:
            raise SourceUnavailable(f"{url}: timed out") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise SourceUnavailable(f"{url}: HTTP {response.status_code}: {response.text[:200]!r}")
        try:
            return json.loads(response.content)
        except ValueError:
            raise SourceUnavailable(f"{url}: answer is not JSON: {response.text[:200]!r}") from None

    def _ledger(self) -> dict[str, Any]:
        info = self._get("")
        if not isinstance(info, dict) or "ledger_version" not in info or "chain_id" not in info:
            raise SourceInconsistent(f"{self.base}: ledger info lacks ledger_version or chain_id")
        return info

    def head(self) -> int:
        try:
            return _u64(self._ledger()["ledger_version"])
        except ValueError as exc:
            raise SourceInconsistent(f"{self.base}: bad ledger_version: {exc}") from None

    def block_hash(self, number: int) -> str:
        txn = self._get(f"/transactions/by_version/{number}")
        if not isinstance(txn, dict) or not isinstance(txn.get("accumulator_root_hash"), str):
            raise SourceInconsistent(f"transaction {number} lacks accumulator_root_hash")
        return str(txn["accumulator_root_hash"]).lower()

    def fetch(self, start: int, end: int) -> Batch:
        if end < start:
            raise ValueError(f"empty range {start}..{end}")
        events: list[EventRecord] = []
        version = start
        while version <= end:
            limit = min(PAGE, end - version + 1)
            page = self._get("/transactions", {"start": version, "limit": limit})
            if not isinstance(page, list) or len(page) != limit:
                got = len(page) if isinstance(page, list) else type(page).__name__
                raise SourceInconsistent(f"asked for {limit} transactions from {version}, got {got}")
            for offset, txn in enumerate(page):
                events.extend(self._events(txn, version + offset))
            version += limit
        return Batch(start, end, [], events)

    def _events(self, txn: Any, version: int) -> list[EventRecord]:
        if not isinstance(txn, dict):
            raise SourceInconsistent(f"transaction {version} is a {type(txn).__name__}")
        try:
            got = _u64(txn.get("version"))
        except ValueError:
            raise SourceInconsistent(f"transaction {version} has no valid version") from None
        if got != version:
            raise SourceInconsistent(f"asked for version {version}, node answered {got}")
        if txn.get("success") is False:
            return []  # aborted transactions change no market state
        out = []
        for index, event in enumerate(txn.get("events") or []):
            name = self._market_event_name(event)
            if name is None:
                continue
            out.append(
                EventRecord(
                    self.chain,
                    version,
                    str(txn.get("accumulator_root_hash") or txn.get("hash", "")).lower(),
                    str(txn.get("hash", "")).lower(),
                    index,
                    self.market,
                    name,
                    decode_event_data(name, event.get("data")),
                )
            )
        return out

    def _market_event_name(self, event: Any) -> str | None:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise SourceInconsistent(f"event without a type: {str(event)[:100]}")
        address, sep, rest = event["type"].partition("::")
        if not sep:
            return None
        try:
            qualified = normalize_address(address) + "::" + rest
        except ValueError:
            return None
        if not qualified.startswith(self._prefix):
            return None
        return qualified[len(self._prefix) :].split("<", 1)[0]
