"""``agihub order pull|raise|cancel|confirm|status|settle|open`` and ``agihub relay-register``.

Thin adapters over :class:`agihub.Client`; settings come from options or the environment
(``AGIHUB_RPC_URL``, ``AGIHUB_MARKET``, ``AGIHUB_ACCOUNT_KEY``, ``AGIHUB_RELAYS``, ``AGIHUB_API_URL``).
``agihub relay`` is the relay node's own group (from agihub-services), so registration on chain is
``agihub relay-register`` here, which needs only the SDK.

Amounts are integers in the smallest unit (wei), or a number with a ``gwei``/``eth`` suffix.
``order pull`` refuses a model no named relay offers (checked through the marketplace API,
``--api-url`` / ``AGIHUB_API_URL``; ``--no-offer-check`` skips it); ``order open`` finds the model's
signed manifest on the relays by root unless ``--manifest`` is given.
Every failure is one ``error: ...`` line naming the fix, exit status 1.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from agihub.errors import ConfigError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
RpcOpt = Annotated[str | None, typer.Option("--rpc-url", help="EVM JSON-RPC URL (AGIHUB_RPC_URL).")]
MarketOpt = Annotated[str | None, typer.Option("--market", help="Market address (AGIHUB_MARKET).")]
KeyOpt = Annotated[
    str | None, typer.Option("--account-key", help="Chain private key hex (AGIHUB_ACCOUNT_KEY).")
]
ApiOpt = Annotated[str | None, typer.Option("--api-url", help="Marketplace API URL (AGIHUB_API_URL).")]
RelaysOpt = Annotated[
    list[str] | None,
    typer.Option("--relay-url", help="A relay ws:// URL to look on (repeat; AGIHUB_RELAYS)."),
]
WorkOpt = Annotated[Path | None, typer.Option("--workdir", help="Deliveries folder (AGIHUB_CLIENT_DIR).")]

_UNITS = {"": 1, "wei": 1, "gwei": 10**9, "eth": 10**18}
_AMOUNT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(wei|gwei|eth)?\s*", re.IGNORECASE)


def parse_amount(text: str) -> int:
    """``"1000"`` → 1000 wei, ``"2gwei"`` → 2e9, ``"0.01eth"`` → 1e16; ConfigError otherwise."""
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise ConfigError(f"amount {text!r} is not a number of wei (or with a gwei/eth suffix), e.g. 0.01eth")
    try:
        value = Decimal(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    except InvalidOperation:
        raise ConfigError(f"amount {text!r} is not a number") from None
    if value != value.to_integral_value():
        raise ConfigError(f"amount {text!r} is not a whole number of wei")
    return int(value)


def _client(
    rpc_url: str | None,
    market: str | None,
    key: str | None,
    workdir: Path | None = None,
    *,
    api_url: str | None = None,
    relays: list[str] | None = None,
) -> Any:
    from agihub.client import Client

    return Client(
        rpc_url, market=market, account=key, workdir=workdir, api_url=api_url, relays=relays or None
    )


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data, sort_keys=True, default=str) if as_json else text)


def _order_dict(order: Any) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "state": order.state.name,
        "buyer": order.buyer,
        "model_root": order.model_root.hex(),
        "relays": list(order.relays),
        "down": order.down,
        "cost": order.cost,
        "tip": order.tip,
        "deadline": order.deadline,
        "taker": order.taker,
    }


class _Bar:
    """A rich progress bar fed by (done, total) callbacks; silent with --json."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled = label, enabled
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self.progress = Progress(
                "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def register(app: typer.Typer) -> None:
    """Add the ``order`` group and ``relay-register`` to the agihub CLI."""
    order_app = typer.Typer(
        help="Buy a model: escrowed orders on chain (SDK: agihub.Client).", no_args_is_help=True
    )

    @order_app.command("pull")
    def pull(
        model_root: Annotated[str, typer.Argument(help="The model's root (64 hex).")],
        relay: Annotated[list[str], typer.Option("--relay", help="A relay's chain address (repeat).")],
        down: Annotated[str, typer.Option("--down", help="Down payment to the taker.")] = "0",
        cost: Annotated[str, typer.Option("--cost", help="Paid on key reveal.")] = "0",
        tip: Annotated[str, typer.Option("--tip", help="Tip paid on key reveal.")] = "0",
        window: Annotated[int, typer.Option("--window", help="Seconds for each of take/ack/reveal.")] = 3600,
        no_offer_check: Annotated[
            bool,
            typer.Option(
                "--no-offer-check",
                help="Order even if the API shows no named relay offering the model (or there is no API).",
            ),
        ] = False,
        api_url: ApiOpt = None,
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Open an order for a model, escrowing down + cost + tip.

        Refused before anything is sent unless a named relay's offer (read through the marketplace
        API, --api-url / AGIHUB_API_URL) names the model; --no-offer-check skips that check.
        """
        client = _client(rpc_url, market, account_key, api_url=api_url)
        placed = client.place_order(
            model_root, relay, down=parse_amount(down), cost=parse_amount(cost), tip=parse_amount(tip),
            windows=(window, window, window), check_offers=not no_offer_check,
        )  # fmt: skip
        _emit(as_json, placed.to_dict(), f"order {placed.order_id} opened (tx {placed.tx_hash})")

    @order_app.command("raise")
    def raise_(
        order_id: Annotated[int, typer.Argument(help="Order id.")],
        down: Annotated[str, typer.Option("--down")] = "0",
        cost: Annotated[str, typer.Option("--cost")] = "0",
        tip: Annotated[str, typer.Option("--tip")] = "0",
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Add to an order's amounts (OPEN: any; TAKEN: tip only)."""
        client = _client(rpc_url, market, account_key)
        receipt = client.raise_payment(
            order_id, down=parse_amount(down), cost=parse_amount(cost), tip=parse_amount(tip)
        )
        _emit(
            as_json,
            {"order_id": order_id, "tx_hash": receipt.tx_hash},
            f"order {order_id} raised (tx {receipt.tx_hash})",
        )

    @order_app.command("cancel")
    def cancel(
        order_id: Annotated[int, typer.Argument(help="Order id.")],
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Cancel an OPEN order (refund credited; withdraw it with the SDK's Client.withdraw)."""
        receipt = _client(rpc_url, market, account_key).cancel(order_id)
        _emit(as_json, {"order_id": order_id, "tx_hash": receipt.tx_hash}, f"order {order_id} cancelled")

    @order_app.command("settle")
    def settle(
        order_id: Annotated[int, typer.Argument(help="Order id.")],
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Expire an order whose current deadline passed, refunding the buyer."""
        receipt = _client(rpc_url, market, account_key).settle(order_id)
        _emit(as_json, {"order_id": order_id, "tx_hash": receipt.tx_hash}, f"order {order_id} settled")

    @order_app.command("confirm")
    def confirm(
        order_id: Annotated[int, typer.Argument(help="Order id.")],
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        workdir: WorkOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Download the sealed delivery from the taking relay, check it and confirm receipt on chain."""
        client = _client(rpc_url, market, account_key, workdir)
        with _Bar("delivery", not as_json) as bar:
            delivery = client.confirm(order_id, progress=bar)
        _emit(
            as_json, delivery.to_dict(),
            f"order {order_id}: {delivery.plain_size:,} bytes from {delivery.relay} at {delivery.sealed_path}, "
            f"receipt confirmed (root {delivery.delivery_root.hex()[:16]}...)",
        )  # fmt: skip

    @order_app.command("open")
    def open_(
        order_id: Annotated[int, typer.Argument(help="Order id.")],
        dest: Annotated[Path, typer.Argument(help="Where to write the rebuilt model.")],
        manifest: Annotated[
            Path | None,
            typer.Option(
                "--manifest", help="The model's manifest.json (default: found on the relays by root)."
            ),
        ] = None,
        relay_url: RelaysOpt = None,
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        workdir: WorkOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """After the key is revealed: decrypt the delivery, rebuild and verify the model.

        Without --manifest the signed manifest is looked up by the order's model root on the relays
        (--relay-url / AGIHUB_RELAYS, and the taker's) and checked before use.
        """
        client = _client(rpc_url, market, account_key, workdir, relays=relay_url)
        with _Bar("rebuild", not as_json) as bar:
            result = client.open(order_id, dest, manifest=manifest, progress=bar)
        _emit(as_json, result.to_dict(), f"order {order_id}: model rebuilt and verified at {dest}")

    @order_app.command("status")
    def status(
        order_id: Annotated[int, typer.Argument(help="Order id.")],
        follow: Annotated[bool, typer.Option("--follow", help="Print events until the order ends.")] = False,
        timeout: Annotated[float | None, typer.Option("--timeout", help="Stop following after N s.")] = None,
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Show an order and its history (``--follow``: keep printing events as they happen)."""
        client = _client(rpc_url, market, account_key)
        if follow:
            for event in client.follow(order_id, timeout=timeout):
                _emit(
                    as_json, event.to_dict(), f"{event.name:16} -> {event.state.name} (block {event.block})"
                )
            return
        order = client.order(order_id)
        events = client.events(order_id)
        data = {**_order_dict(order), "events": [e.to_dict() for e in events]}
        history = " -> ".join(e.name for e in events) or "no events"
        _emit(as_json, data, f"order {order_id}: {order.state.name}, taker {order.taker or '-'}; {history}")

    app.add_typer(order_app, name="order")

    @app.command("relay-register")
    def relay_register(
        endpoint: Annotated[str, typer.Argument(help="The relay's public ws(s):// URL.")],
        pubkey: Annotated[
            str | None,
            typer.Option("--pubkey", help="Nostr key hex (default: read from the relay's NIP-11)."),
        ] = None,
        update: Annotated[bool, typer.Option("--update", help="Change an existing registration.")] = False,
        rpc_url: RpcOpt = None,
        market: MarketOpt = None,
        account_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register this chain account as a relay at ENDPOINT (``agihub relay`` is the node's group)."""
        client = _client(rpc_url, market, account_key)
        receipt = (client.update_relay if update else client.register_relay)(endpoint, pubkey)
        _emit(
            as_json, {"relay": client.address, "endpoint": endpoint, "tx_hash": receipt.tx_hash},
            f"relay {client.address} {'updated' if update else 'registered'} at {endpoint}",
        )  # fmt: skip
