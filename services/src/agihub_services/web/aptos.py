"""What the wallet page needs for a market on Aptos, and the payloads it must build.

On Aptos the page asks a wallet found through the wallet standard (``aptos:signAndSubmitTransaction``)
to sign and submit *entry-function payloads*: ``<module address>::market::<function>``, the coin type
as the type argument of the coin-generic functions, and the arguments in the JSON form the SDK's
Aptos backend uses on the REST API (:func:`agihub.chain.aptos._json_arg`: u64 as decimal strings,
``vector<u8>`` as ``0x`` hex, addresses as ``0x`` + 64 hex). The parameter order and kinds come
from the SDK's catalogue (:mod:`agihub.chain.catalog`), served to the page in its config, so page and
SDK cannot disagree on the order. :func:`entry_payload` is the reference the browser test compares
each payload the page sends with; it also runs the SDK's BCS encoder over the same call, so an
argument the SDK would refuse is refused here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agihub.chain.aptos import (
    APTOS_COIN,
    COIN_GENERIC_FUNCTIONS,
    MARKET_MODULE,
    _json_arg,
    canonical_address,
    entry_function_payload,
)
from agihub.chain.catalog import ENTRY_BY_NAME

#: The market functions the page calls on Aptos (the same five as on EVM, plus settle).
PAGE_FUNCTIONS = ("pull", "raise_payment", "cancel", "confirm_received", "settle", "withdraw")
#: APT has 8 decimals (octas); the page parses amounts with this.
APT_DECIMALS = 8


def aptos_config(module: str, coin_type: str = APTOS_COIN) -> dict[str, Any]:
    """The ``aptos`` part of the page config: module address, coin type and each function's params."""
    return {
        "module": canonical_address(module),
        "module_name": MARKET_MODULE,
        "coin_type": coin_type,
        "coin_generic": sorted(COIN_GENERIC_FUNCTIONS & set(PAGE_FUNCTIONS)),
        "functions": {
            name: [[p.name, p.kind] for p in ENTRY_BY_NAME[name].params_for("aptos")]
            for name in PAGE_FUNCTIONS
        },
        "decimals": APT_DECIMALS,
    }


def entry_payload(
    module: str, function: str, args: Sequence[Any], coin_type: str = APTOS_COIN
) -> dict[str, Any]:
    """The wallet-standard payload (``InputGenerateTransactionPayloadData``) of one market call.

    Raises :class:`agihub.chain.errors.ChainInputError` where the SDK's own encoder would.
    """
    entry_function_payload(module, function, args, coin_type)  # validates exactly as the SDK sends
    return {
        "function": f"{canonical_address(module)}::{MARKET_MODULE}::{function}",
        "typeArguments": [coin_type] if function in COIN_GENERIC_FUNCTIONS else [],
        "functionArguments": [_json(a) for a in args],
    }


def _json(value: Any) -> Any:
    if isinstance(value, list | tuple):  # vector<address>
        return [_json_arg(v) for v in value]
    return _json_arg(value)
