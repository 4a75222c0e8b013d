"""``GET /app``: the buyer's wallet page; ``GET /app/config.json``: what it needs to build transactions.

The page never sees a key: it builds calldata for the market contract and hands it to the browser
wallet (EIP-1193 ``eth_sendTransaction``), which signs. The API only serves static files and the
config: the function selectors and event topics (keccak of the signatures, computed here so the page
needs no bundler and no keccak of its own) and the market address.

The market address is, in order: ``?market=0x...`` on the page URL (the page handles it), the
``AGIHUB_INDEXER_MARKET_ADDRESS`` setting the indexer follows, or the market ``agihub dev`` deployed
(its state file under the data dir). Without one the page says so and refuses to send anything.

Which chain the market is on follows the indexer too: ``AGIHUB_INDEXER_CHAIN`` (``evm``, the
default, or ``aptos``). On Aptos the config carries the module address (``AGIHUB_INDEXER_MARKET_ADDRESS``)
and each entry function's parameters from the SDK catalogue (:mod:`agihub_services.web.aptos`); the
page then talks to an Aptos wallet through the wallet standard instead of EIP-1193.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from eth_utils import keccak
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from agihub.chain.catalog import OrderState
from agihub.chain.errors import ChainInputError
from agihub_services.web.aptos import aptos_config

router = APIRouter(prefix="/app", tags=["web"], include_in_schema=False)

STATIC = Path(__file__).parent / "static"
_MARKET = re.compile(r"0x[0-9a-fA-F]{40}")

#: The market functions the page calls, by name; selectors are the first 4 bytes of keccak(signature).
FUNCTIONS = {
    "pull": "pull(bytes32,address[],uint256,uint256,uint256,uint256,uint256,uint256)",
    "raise_payment": "raise_payment(uint256,uint256,uint256,uint256)",
    "cancel": "cancel(uint256)",
    "confirm_received": "confirm_received(uint256,bytes32)",
    "settle": "settle(uint256)",
    "withdraw": "withdraw()",
}
#: Events the page reads from receipts and logs (topic 0 = keccak(signature)).
EVENTS = {
    "OrderPulled": "OrderPulled(uint256,address,bytes32,address[],uint256,uint256,uint256,uint256,uint256,uint256)",
    "KeyRevealed": "KeyRevealed(uint256,address,bytes32,bytes32,uint256,uint256)",
    "OrderSettled": "OrderSettled(uint256,uint256,uint256)",
}
#: Order states ``settle`` accepts once the order's current deadline passed (market.vy / market.move).
SETTLEABLE = (OrderState.OPEN, OrderState.TAKEN, OrderState.ACKED)
CHAINS = ("evm", "aptos")
#: Limits the page checks before sending (the contract checks them again): see contracts/README.md.
MAX_RELAYS = 8
MAX_WINDOW_S = 30 * 24 * 3600
AMOUNT_MAX = 2**85 - 1


def selector(signature: str) -> str:
    """``0x`` + the 4-byte function selector of ``signature``."""
    return "0x" + keccak(text=signature)[:4].hex()


def topic(signature: str) -> str:
    """``0x`` + the 32-byte topic 0 of event ``signature``."""
    return "0x" + keccak(text=signature).hex()


def market_address(data_dir: Path) -> str | None:
    """The market from AGIHUB_INDEXER_MARKET_ADDRESS, else the one ``agihub dev`` recorded, else None."""
    configured = os.environ.get("AGIHUB_INDEXER_MARKET_ADDRESS", "").strip()
    if _MARKET.fullmatch(configured):
        return configured
    state = data_dir / "dev" / "state.json"
    try:
        recorded = json.loads(state.read_text()).get("market")
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, str) and _MARKET.fullmatch(recorded) else None


def chain_config() -> dict[str, Any]:
    """Which chain the market is on (``AGIHUB_INDEXER_CHAIN``), with the Aptos module when it is Aptos.

    A setting the page cannot use is reported in ``error`` (the page shows it and sends nothing).
    """
    kind = os.environ.get("AGIHUB_INDEXER_CHAIN", "").strip().lower() or "evm"
    if kind not in CHAINS:
        return {
            "kind": kind,
            "error": f"AGIHUB_INDEXER_CHAIN={kind!r}: the page knows {' and '.join(CHAINS)}",
        }
    if kind == "evm":
        return {"kind": "evm", "decimals": 18, "unit": "ETH"}
    module = os.environ.get("AGIHUB_INDEXER_MARKET_ADDRESS", "").strip()
    try:
        return {"kind": "aptos", "unit": "APT", **aptos_config(module)}
    except ChainInputError:
        return {
            "kind": "aptos",
            "error": f"AGIHUB_INDEXER_MARKET_ADDRESS={module!r} is not the Aptos address of the market's module",
        }


def page_config(data_dir: Path) -> dict[str, Any]:
    """The JSON the page loads at start."""
    chain = chain_config()
    return {
        "chain": chain,
        "market": chain.get("module") if chain["kind"] == "aptos" else market_address(data_dir),
        "selectors": {name: selector(sig) for name, sig in FUNCTIONS.items()},
        "topics": {name: topic(sig) for name, sig in EVENTS.items()},
        "states": {s.value: s.name for s in OrderState},
        "settleable": [s.name for s in SETTLEABLE],
        "max_relays": MAX_RELAYS,
        "max_window_s": MAX_WINDOW_S,
        "amount_max": str(AMOUNT_MAX),
    }


@router.get("")
@router.get("/")
def index() -> FileResponse:
    """The wallet page."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/app.js")
def script() -> FileResponse:
    """The page's script (plain ES2020, no bundler)."""
    return FileResponse(
        STATIC / "app.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/config.json")
def config(request: Request) -> JSONResponse:
    """Selectors, topics, states and the market address (see the module docstring)."""
    return JSONResponse(page_config(request.app.state.settings.data_dir))
