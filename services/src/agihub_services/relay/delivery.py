"""``GET /delivery/<market>/<order id>``: the sealed delivery of an order, to that order's buyer only.

Why not a Blossom ``get`` token: the buyer's Nostr key is not on chain, its chain address is. So the
buyer proves who it is with an EIP-191 ``personal_sign`` signature by its chain account over
:func:`delivery_message` (this relay's public URL, the market, the order id and a unix timestamp), sent as
``X-Agihub-Buyer-Auth: <timestamp>.<0x hex signature>``. The route is
``GET /delivery/<market address>/<order id>`` (one relay may serve several markets). The relay recovers the signer and compares
it with the buyer recorded when the agent prepared the order (read from the chain). The URL and
order id bind a signature to this relay and this order; the timestamp must be within the relay's
``auth_window`` so a leaked header soon stops working. A replay inside the window only fetches the
same ciphertext again, which is useless without the key revealed on chain.

The plaintext size the buyer needs for :func:`agihub.storage.crypto.delivered_root_of` is sent in
``X-Agihub-Plain-Size``.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from agihub.errors import ApiError
from agihub_services.relay.agent import delivery_path
from agihub_services.relay.agent_store import TAKEN, AgentStore
from agihub_services.relay.auth import normalize_relay_url
from agihub_services.relay.http import error_response
from agihub_services.relay.settings import RelaySettings

log = logging.getLogger(__name__)

HEADER = "x-agihub-buyer-auth"
_AUTH = re.compile(r"([0-9]{1,12})\.(0x[0-9a-fA-F]{130})")
_ORDER_ID = re.compile(r"[0-9]{1,18}")
_MARKET = re.compile(r"0x[0-9a-fA-F]{40}")


class DeliveryAuthError(ApiError):
    """A delivery download is refused; ``status``/``code`` are the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message, status)
        self.code = code


def deliveries_root(settings: RelaySettings) -> Path:
    """The folder of sealed deliveries (outside the public blob store)."""
    return settings.relay_dir / "deliveries"


def delivery_message(relay_url: str, market: str, order_id: int, timestamp: int) -> str:
    """The text a buyer signs (EIP-191) to download the delivery of ``order_id`` from ``relay_url``."""
    return (
        f"agihub delivery\nrelay: {normalize_relay_url(relay_url)}\nmarket: {market.lower()}\n"
        f"order: {order_id}\ntime: {timestamp}"
    )


def sign_delivery_request(
    account: Any, relay_url: str, market: str, order_id: int, timestamp: int | None = None
) -> str:
    """Buyer side: the ``X-Agihub-Buyer-Auth`` header value, signed by an eth-account account."""
    now = int(time.time()) if timestamp is None else timestamp
    signed = account.sign_message(encode_defunct(text=delivery_message(relay_url, market, order_id, now)))
    return f"{now}.0x{bytes(signed.signature).hex()}"


def check_buyer(
    header: str | None, *, relay_url: str, market: str, order_id: int, buyer: str, window: int
) -> None:
    """Raise :class:`DeliveryAuthError` unless ``header`` is a fresh signature by ``buyer``."""
    match = _AUTH.fullmatch((header or "").strip())
    if match is None:
        raise DeliveryAuthError(401, "unauthorized", f"{HEADER} must be '<unix time>.<0x 65-byte signature>'")
    timestamp = int(match.group(1))
    if abs(int(time.time()) - timestamp) > window:
        raise DeliveryAuthError(
            401, "unauthorized", f"signature time is more than {window} s from the relay's clock"
        )
    message = encode_defunct(text=delivery_message(relay_url, market, order_id, timestamp))
    try:
        signer = Account.recover_message(message, signature=match.group(2))
    except Exception as exc:  # eth-keys raises several types for a malformed signature
        raise DeliveryAuthError(401, "unauthorized", f"signature does not recover: {exc}") from None
    if signer.lower() != buyer.lower():
        raise DeliveryAuthError(403, "forbidden", "signature is not by this order's buyer")


def _lookup(request: Request, market: str, order_id: int) -> tuple[str, int, Path]:
    """(buyer, plain size, file path) of a deliverable order, or DeliveryAuthError 404."""
    row = AgentStore(request.app.state.blobs.engine, market).get(order_id)
    if row is None or row.state != TAKEN or row.plain_size is None:
        raise DeliveryAuthError(404, "not_found", "no delivery for this order on this relay")
    path = delivery_path(deliveries_root(request.app.state.settings), market, order_id)
    return row.buyer, row.plain_size, path


def _parse_path(request: Request) -> tuple[str, int]:
    market, raw_id = request.path_params["market"], request.path_params["order_id"]
    if not _MARKET.fullmatch(market):
        raise DeliveryAuthError(400, "invalid_market", "market must be a 0x-prefixed 20-byte hex address")
    if not _ORDER_ID.fullmatch(raw_id):
        raise DeliveryAuthError(400, "invalid_order_id", "order id must be a decimal number (< 10**18)")
    return to_checksum_address(market), int(raw_id)


async def get_delivery(request: Request) -> Response:
    """Serve the sealed delivery of an order to its buyer only (see the module docstring)."""
    settings = request.app.state.settings
    try:
        market, order_id = _parse_path(request)
        buyer, plain_size, path = await anyio.to_thread.run_sync(_lookup, request, market, order_id)
        check_buyer(
            request.headers.get(HEADER),
            relay_url=settings.public_url,
            market=market,
            order_id=order_id,
            buyer=buyer,
            window=settings.auth_window,
        )
    except DeliveryAuthError as exc:
        return error_response(exc.status, exc.code, exc.message)
    if not path.is_file():
        return error_response(404, "not_found", "the sealed delivery file is missing")
    headers = {"X-Agihub-Plain-Size": str(plain_size), "Cache-Control": "no-store"}
    return FileResponse(path, media_type="application/octet-stream", headers=headers)
