"""The IO-free core shared by :class:`agihub.Client` and :class:`agihub.AsyncClient`.

Nothing here touches the network, the chain or the disk: it builds requests, checks an order's
state machine before a transaction is sent (so a wrong call fails with a message naming the fix
instead of a revert that costs gas), refuses an order no named relay offers (:func:`check_offered`),
checks a manifest found by root (:func:`check_found_manifest`), turns chain events into
:class:`OrderEvent` and API error bodies into exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from agihub.chain.base import ChainEvent, Order, RelayInfo
from agihub.chain.catalog import OrderState
from agihub.chain.errors import (
    ChainInputError,
    NotBuyer,
    NotDue,
    RelayNotRegistered,
    UnknownOrder,
    WrongState,
)
from agihub.client.models import OrderEvent
from agihub.errors import AgihubError, ApiError, StorageError

__all__ = [
    "ORDER_EVENTS",
    "ApiNotFound",
    "ApiRateLimited",
    "ApiRequestError",
    "ApiUnavailable",
    "DeliveryError",
    "FollowTimeout",
    "Follower",
    "ManifestMismatch",
    "ManifestNotFound",
    "ModelNotOffered",
    "api_error",
    "check_action",
    "check_amounts",
    "check_found_manifest",
    "check_offered",
    "delivery_message",
    "delivery_path",
    "order_events",
    "shards_in_bundle",
]

#: Order events in the order they can happen, and the state an order is in after each.
ORDER_EVENTS: dict[str, OrderState | None] = {
    "OrderPulled": OrderState.OPEN,
    "PaymentRaised": None,  # no change
    "OrderTaken": OrderState.TAKEN,
    "OrderConfirmed": OrderState.ACKED,
    "KeyRevealed": OrderState.COMPLETED,
    "OrderCancelled": OrderState.CANCELLED,
    "OrderSettled": OrderState.EXPIRED,
}

#: Buyer actions and the states that allow them; settle also needs the current deadline passed.
_ALLOWED: dict[str, tuple[OrderState, ...]] = {
    "raise": (OrderState.OPEN, OrderState.TAKEN),
    "cancel": (OrderState.OPEN,),
    "confirm": (OrderState.TAKEN,),
    "settle": (OrderState.OPEN, OrderState.TAKEN, OrderState.ACKED),
    "open": (OrderState.COMPLETED,),
}
_HINTS: dict[str, str] = {
    "raise": "only an OPEN order (any amount) or a TAKEN one (tip only) can be raised",
    "cancel": "only an OPEN order can be cancelled; once taken, wait for the deadline and settle it",
    "confirm": "confirm once a relay has TAKEN the order (follow it to see when)",
    "settle": "a terminal order needs nothing more",
    "open": "the key is revealed only after you confirm receipt; follow the order until COMPLETED",
}


class DeliveryError(StorageError):
    """A sealed delivery could not be fetched, checked or opened; the message names the fix."""


class FollowTimeout(AgihubError, TimeoutError):
    """An order did not reach the awaited state in time; it may still move later."""


class ModelNotOffered(AgihubError):
    """No relay named in an order offers its model, so none of them would take it: refused before
    anything is escrowed (an order nobody takes locks the buyer's funds until its deadline).

    ``model_root`` and ``relays`` (the named chain addresses) say what was asked; ``offered_by`` lists
    the endpoints of other relays whose signed offer names the model (empty when none does).
    """

    def __init__(
        self, message: str, model_root: bytes, relays: Sequence[str], offered_by: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.model_root = model_root
        self.relays = tuple(relays)
        self.offered_by = tuple(offered_by)


class ManifestNotFound(StorageError):
    """No relay holds a signed manifest for the root asked for; the message names the relays asked."""


class ManifestMismatch(StorageError):
    """A relay served a manifest that is not the one asked for (another root, a bad signature, or not
    the announced publisher's); the message names the relay and the mismatch."""

    def __init__(self, message: str, relay: str) -> None:
        super().__init__(message)
        self.relay = relay


class ApiRequestError(ApiError):
    """The marketplace API refused the request as malformed (HTTP 400/422)."""


class ApiNotFound(ApiError):
    """The marketplace API knows no such object (HTTP 404): unknown order, model or contribution."""


class ApiRateLimited(ApiError):
    """The marketplace API asks to slow down (HTTP 429)."""


class ApiUnavailable(ApiError):
    """The marketplace API could not answer (HTTP 5xx, or nothing listening)."""


_API_BY_STATUS: dict[int, type[ApiError]] = {
    400: ApiRequestError,
    404: ApiNotFound,
    422: ApiRequestError,
    429: ApiRateLimited,
}


def api_error(status: int, body: Any) -> ApiError:
    """The exception for an API error answer ``{"error_code": ..., "message": ...}``."""
    if isinstance(body, Mapping) and isinstance(body.get("error_code"), str):
        code, message = body["error_code"], str(body.get("message", ""))
    else:
        code, message = f"http_{status}", f"unexpected answer: {str(body)[:200]}"
    cls = _API_BY_STATUS.get(status, ApiUnavailable if status >= 500 else ApiError)
    return cls(code, message, status)


def api_path(*parts: str | int) -> str:
    """A URL path of the API with each part escaped."""
    return "/" + "/".join(quote(str(p), safe=":") for p in parts)


def check_amounts(down: int, cost: int, tip: int) -> None:
    """Refuse negative or non-integer amounts and an order that pays nothing, before any gas is spent."""
    for name, value in (("down", down), ("cost", cost), ("tip", tip)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ChainInputError(f"{name} must be a non-negative integer (smallest unit), got {value!r}")


def check_action(order: Order, action: str, me: str, now: int) -> None:
    """Raise the contract's own error class if the buyer ``me`` may not do ``action`` on ``order`` now."""
    if order.state == OrderState.NONE:
        raise UnknownOrder(
            f"E_UNKNOWN_ORDER: there is no order {order.order_id}; check the id (agihub order status)"
        )
    if action in ("raise", "cancel", "confirm") and order.buyer.lower() != me.lower():
        raise NotBuyer(
            f"E_NOT_BUYER: order {order.order_id} belongs to {order.buyer}, not {me}; use the buyer's account"
        )
    if order.state not in _ALLOWED[action]:
        raise WrongState(f"E_WRONG_STATE: order {order.order_id} is {order.state.name}; {_HINTS[action]}")
    if action == "settle" and now <= order.deadline:
        raise NotDue(
            f"E_NOT_DUE: order {order.order_id} ({order.state.name}) can be settled after its deadline "
            f"{order.deadline} (now {now}, {order.deadline - now} s to go)"
        )


def check_offered(
    model_root: bytes,
    relays: Mapping[str, RelayInfo],
    offers: Iterable[Mapping[str, Any]],
    *,
    api_url: str = "the marketplace API",
) -> list[str]:
    """The named relays whose signed offer names ``model_root``; raise if there is none.

    ``relays`` maps each chain address named in the order to its registry entry (the Nostr key it
    registered is the key its offer is signed with); ``offers`` are the API's discovered offers
    naming the model (``GET /relays/offers?model=``: ``pubkey``, ``endpoint``, ``models``). A named
    relay that is not registered is refused as the contract would (:class:`RelayNotRegistered`).
    """
    root_hex = model_root.hex()
    unregistered = [address for address, info in relays.items() if not info.registered]
    if unregistered:
        raise RelayNotRegistered(
            f"E_RELAY_NOT_REGISTERED: {', '.join(unregistered)} is not a registered relay on this market; "
            "name registered relays (GET /relays?registered=true on the API)"
        )
    naming = [
        o for o in offers if root_hex in {str(m).lower().removeprefix("0x") for m in o.get("models", ())}
    ]
    by_key = {str(o.get("pubkey", "")).lower().removeprefix("0x"): o for o in naming}
    offering = [address for address, info in relays.items() if info.nostr_pubkey.hex() in by_key]
    if offering:
        return offering
    named = {info.nostr_pubkey.hex() for info in relays.values()}
    elsewhere = sorted({str(o.get("endpoint", "")) for key, o in by_key.items() if key not in named} - {""})
    hint = (
        f"relays offering it: {', '.join(elsewhere[:5])}" + (" ..." if len(elsewhere) > 5 else "")
        if elsewhere
        else "no relay known to the API offers it"
    )
    raise ModelNotOffered(
        f"no named relay offers model {root_hex}: {', '.join(relays)} publish no offer naming it "
        f"(according to {api_url}; {hint}). Publish the model to one of them (Client.publish / agigit push), "
        "name a relay that offers it, or skip this check with check_offers=False (CLI: --no-offer-check)",
        model_root,
        list(relays),
        elsewhere,
    )


def check_found_manifest(signed: Any, model_root: bytes, relay: str, *, publisher: str | None = None) -> None:
    """Raise :class:`ManifestMismatch` naming ``relay`` unless ``signed`` is a manifest of ``model_root``
    (by ``publisher`` when one was announced). The caller has parsed it, which checked its canonical
    form and signature."""
    if signed.model_root != model_root:
        raise ManifestMismatch(
            f"relay {relay} served a manifest for model {signed.model_root.hex()} when {model_root.hex()} "
            "was asked; that relay's announcement is wrong: use another relay or pass manifest=",
            relay,
        )
    if publisher is not None and signed.manifest.publisher != publisher.lower():
        raise ManifestMismatch(
            f"relay {relay} served a manifest of {model_root.hex()} signed by {signed.manifest.publisher}, "
            f"but the announcement was signed by {publisher}; use another relay or pass manifest=",
            relay,
        )


def order_events(order_id: int, events: Iterable[tuple[ChainEvent, int]]) -> list[OrderEvent]:
    """Typed events of one order from (event, block) pairs, oldest first, each with the state after it."""
    ordered = sorted(events, key=lambda pair: (pair[1], pair[0].log_index))
    state = OrderState.NONE
    out = []
    for event, block in ordered:
        if event.name not in ORDER_EVENTS or int(event.fields.get("order_id", -1)) != order_id:
            continue
        state = ORDER_EVENTS[event.name] or state
        out.append(
            OrderEvent(order_id, event.name, state, dict(event.fields), event.tx_hash, block, event.log_index)
        )
    return out


@dataclass
class Follower:
    """The state of following one order: which events were handed out, and the time budget.

    Both clients poll the chain, pass the full event list to :meth:`step`, hand out what it returns,
    stop when it says the order is terminal, else call :meth:`check_time` and sleep.
    """

    order_id: int
    timeout: float | None
    started: float
    seen: int = 0
    last: OrderEvent | None = field(default=None, repr=False)

    def step(self, events: Sequence[OrderEvent]) -> tuple[list[OrderEvent], bool]:
        """(events not handed out yet, whether the order is terminal)."""
        new = list(events[self.seen :])
        self.seen = len(events)
        if events:
            self.last = events[-1]
        return new, bool(events) and events[-1].state.terminal

    def check_time(self, now: float) -> None:
        """Raise :class:`FollowTimeout` once the budget is spent."""
        if self.timeout is not None and now - self.started > self.timeout:
            state = self.last.state.name if self.last else "unknown"
            raise FollowTimeout(
                f"order {self.order_id} is still {state} after {self.timeout:.0f} s; follow it again later "
                "(agihub order status --follow) or settle it once its deadline passed"
            )


def _normalize_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def delivery_message(relay_url: str, market: str, order_id: int, timestamp: int | None = None) -> str:
    """The text a buyer signs (EIP-191) to download an order's sealed delivery from a relay.

    Byte-identical to what the relay checks (``agihub_services.relay.delivery``); a test pins it.
    """
    now = int(time.time()) if timestamp is None else timestamp
    return (
        f"agihub delivery\nrelay: {_normalize_url(relay_url)}\nmarket: {market.lower()}\n"
        f"order: {order_id}\ntime: {now}"
    )


def delivery_path(market: str, order_id: int) -> str:
    """The relay's route of an order's sealed delivery."""
    return f"/delivery/{market}/{order_id}"


def shards_in_bundle(sizes: Mapping[int, int], held: Sequence[int], plain_size: int) -> tuple[int, ...]:
    """The shard indices a relay sealed into its delivery (its shards, in index order).

    ``held`` are the indices the relay's blob store answers for; their sizes must add up to the
    delivery's plain size, else the relay's holdings changed and the bundle cannot be split.
    """
    indices = tuple(sorted(set(held)))
    total = sum(sizes[i] for i in indices)
    if not indices or total != plain_size:
        raise DeliveryError(
            f"the relay's shards {list(indices)} add up to {total} bytes but the delivery holds {plain_size}; "
            "the relay's holdings changed since it sealed the order — pass shard_indices= explicitly"
        )
    return indices
