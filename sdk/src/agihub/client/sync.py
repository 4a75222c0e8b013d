"""The synchronous :class:`Client`: one configured handle on a market, its relays and the API.

Example (a buyer; the environment names the node, market, key and relays, see ``config.py``)::

    from agihub import Client

    client = Client()
    placed = client.place_order(model_root, relays=[relay_address], down=2 * 10**15, cost=10**16)
    for event in client.follow(placed.order_id):
        if event.name == "OrderTaken":
            client.confirm(placed.order_id)        # fetch the sealed delivery, check it, confirm
    path = client.open(placed.order_id, "model.safetensors")  # manifest found on the relays by root
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from agihub.chain.base import Chain, ChainEvent, Contribution, Order, Receipt, RelayInfo, decode_event
from agihub.chain.catalog import OrderState
from agihub.chain.errors import ChainConnectionError, ChainInputError
from agihub.client import core, manifests
from agihub.client.config import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, DEFAULT_WINDOWS, ENV_ACCOUNT_KEY, resolve
from agihub.client.models import DeliveryResult, OrderEvent, OrderPlaced, PublishResult, Rewards
from agihub.errors import ConfigError
from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, SignedManifest, load_manifest, pack_delta, pack_model, unpack
from agihub.storage.crypto import delivered_root_of, open_delivery
from agihub.storage.package import shard_name
from agihub.transfer import RelayTarget, fetch_shards, http_base, push_package

__all__ = ["Client", "Progress"]

log = logging.getLogger(__name__)

#: Progress callback: (bytes done, bytes total).
Progress = Callable[[int, int], None]
_BLOCK = 1 << 20


def _hex32(name: str, value: bytes | str) -> bytes:
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise ChainInputError(f"{name} must be 32 bytes of hex, got {value!r}") from None
    if len(value) != 32:
        raise ChainInputError(f"{name} must be 32 bytes (64 hex digits), got {len(value)} bytes")
    return bytes(value)


def _manifest(manifest: SignedManifest | str | os.PathLike[str]) -> SignedManifest:
    if isinstance(manifest, SignedManifest):
        return manifest
    path = Path(manifest)
    if path.is_dir():
        path = path / "manifest.json"
    return load_manifest(path)


class _Guarded:
    """A chain handle whose calls turn a dropped node connection into :class:`ChainConnectionError`."""

    def __init__(self, inner: Chain) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value(*args, **kwargs)
            except OSError as exc:  # requests' and urllib3's connection errors are OSErrors
                raise ChainConnectionError(
                    f"the chain node stopped answering ({exc}); check it is running (AGIHUB_RPC_URL)"
                ) from exc

        return call


class Client:
    """A dApp's handle on agihub: a chain account on one market, a Nostr identity, relays and an API.

    :param chain: a :class:`~agihub.chain.base.Chain` (used as is, or re-bound to ``account``), or an
        EVM JSON-RPC URL (default ``AGIHUB_RPC_URL``; then ``market`` and ``account`` are needed).
    :param market: the market's address (default ``AGIHUB_MARKET``).
    :param account: an eth-account account or its private key hex (default ``AGIHUB_ACCOUNT_KEY``).
    :param identity: the Nostr key that signs manifests and uploads: a :class:`SecretKey` or a key
        file (default ``AGIHUB_IDENTITY_FILE``; a fresh key if none and one is needed).
    :param relays: relay endpoints to publish to and fetch from (default ``AGIHUB_RELAYS``).
    :param api_url: the marketplace API (default ``AGIHUB_API_URL``); reads go there when set.
    :param workdir: where deliveries and rebuilt files go (default ``AGIHUB_CLIENT_DIR``).

    Nothing is contacted until a method needs it. Every failure is an
    :class:`~agihub.errors.AgihubError` whose message names the problem and the fix.

    >>> client = Client(chain=evm_chain, relays=["ws://127.0.0.1:7447"])   # doctest: +SKIP
    >>> client.order(3).state                                                # doctest: +SKIP
    <OrderState.TAKEN: 2>
    """

    def __init__(
        self,
        chain: Chain | str | None = None,
        *,
        market: str | None = None,
        account: Any = None,
        identity: SecretKey | str | os.PathLike[str] | None = None,
        relays: Sequence[str] | None = None,
        api_url: str | None = None,
        workdir: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        key_text = account if isinstance(account, str) else None
        self.config = resolve(
            rpc_url=chain if isinstance(chain, str) else None,
            market=market,
            account_key=key_text,
            identity_file=None if isinstance(identity, SecretKey) else identity,
            relays=relays,
            api_url=api_url,
            workdir=workdir,
        )
        self.timeout = timeout
        self._account = None if isinstance(account, str) else account
        self._chain: Chain | None = chain if isinstance(chain, Chain) else None
        if self._chain is not None and self._account is not None:
            self._chain = self._chain.with_account(self._account)  # type: ignore[attr-defined]
        self._identity = identity if isinstance(identity, SecretKey) else None
        self._guarded: _Guarded | None = None

    # -- configuration ---------------------------------------------------------------------------
    @property
    def chain(self) -> Chain:
        """The chain handle, built from the configuration on first use."""
        if self._guarded is None:
            self._guarded = _Guarded(self._chain if self._chain is not None else self._connect())
        return self._guarded  # type: ignore[return-value]

    def _connect(self) -> Chain:
        cfg = self.config
        if cfg.rpc_url is None:
            raise ConfigError(
                "no chain configured: pass chain= (a Chain or an RPC URL) or set AGIHUB_RPC_URL"
            )
        if cfg.market is None:
            raise ConfigError(
                "no market configured: pass market= or set AGIHUB_MARKET to the market's address"
            )
        try:
            from eth_account import Account

            from agihub.chain.evm import EvmChain, connect
        except ImportError as exc:
            raise ConfigError(f"the EVM backend is not installed ({exc}); pip install 'agihub[evm]'") from exc
        if self._account is None:
            if self.config.account_key is None:
                raise ConfigError(f"no chain account: pass account= or set {ENV_ACCOUNT_KEY}")
            self._account = Account.from_key(self.config.account_key)
        w3 = connect(cfg.rpc_url, request_timeout=self.timeout)
        from agihub.chain.evm_deploy import bundled_abi  # the shipped ABI: no compiler needed

        abi = bundled_abi()
        if not w3.eth.get_code(cfg.market):
            raise ConfigError(f"no contract at {cfg.market} on {cfg.rpc_url}: check AGIHUB_MARKET / market=")
        return EvmChain(w3, cfg.market, abi, self._account, timeout=self.timeout)

    @property
    def identity(self) -> SecretKey:
        """The Nostr key that signs manifests and blob uploads (generated once if none is configured)."""
        if self._identity is None:
            path = self.config.identity_file
            self._identity = SecretKey.load(path) if path is not None else SecretKey.generate()
        return self._identity

    @property
    def address(self) -> str:
        """This client's chain address."""
        return self.chain.address

    def _evm(self) -> Any:
        chain = self.chain
        if not hasattr(chain, "contract") or not hasattr(chain, "account"):
            raise ConfigError(f"{type(chain).__name__} has no EVM logs/account; this call needs an EVM chain")
        return chain

    def _relays(self, relays: Sequence[str] | None) -> list[str]:
        chosen = list(relays if relays is not None else self.config.relays)
        if not chosen:
            raise ConfigError(
                "no relays configured: pass relays=[...] or set AGIHUB_RELAYS=ws://host:port,..."
            )
        return chosen

    # -- publishing ------------------------------------------------------------------------------
    def publish(
        self,
        model: str | os.PathLike[str],
        *,
        name: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        parent_root: bytes | str | None = None,
        owner_secret: bytes | None = None,
        options: PackOptions | None = None,
        relays: Sequence[str] | None = None,
        happiness: int | None = None,
        progress: Progress | None = None,
    ) -> PublishResult:
        """Pack ``model`` (a .safetensors file, or a delta with ``parent_root``) and push its shards.

        Returns the model root buyers order by. ``owner_secret`` (32 bytes) makes it private.

        >>> result = client.publish("model.safetensors", name="tiny")   # doctest: +SKIP
        >>> result.model_root.hex()[:8]                                  # doctest: +SKIP
        '3f1c9a0e'
        """
        src = Path(model)
        if not src.is_file():
            raise ConfigError(f"no model file at {src}; pass the path of a .safetensors file")
        targets = [RelayTarget(url, url) for url in self._relays(relays)]
        out = Path(out_dir) if out_dir is not None else self.config.workdir / "packages" / src.stem
        card = Card(name=name or src.stem)
        options = options or PackOptions()
        if parent_root is None:
            signed = pack_model(src, out, self.identity, card, options=options, owner_secret=owner_secret)
        else:
            signed = pack_delta(
                src, out, self.identity, card, parent_root=_hex32("parent_root", parent_root),
                delta_encoding="agihub-delta/1", options=options, owner_secret=owner_secret,
            )  # fmt: skip
        shown = None if progress is None else (lambda done, total, _shards: progress(done, total))
        report = push_package(out, targets, self.identity, happiness_required=happiness, progress=shown)
        placements = {i: tuple(urls) for i, urls in report.placements.items()}
        failed = dict(report.failed)
        # Announce the version (kind 31337, naming the manifest blob) so buyers find it by root alone.
        event = manifests.announcement(self.identity, signed)
        for target in targets:
            if target.url in failed:
                continue
            reason = manifests.announce(target.url, event, timeout=min(self.timeout, 10.0))
            if reason is not None:
                failed[target.url] = f"announcement refused: {reason}"
        return PublishResult(signed.model_root, out, placements, failed)

    # -- orders ----------------------------------------------------------------------------------
    def place_order(
        self,
        model_root: bytes | str,
        relays: Sequence[str],
        *,
        down: int,
        cost: int,
        tip: int = 0,
        windows: tuple[int, int, int] = DEFAULT_WINDOWS,
        check_offers: bool = True,
    ) -> OrderPlaced:
        """Open an order (``pull``) for ``model_root``, escrowing ``down + cost + tip``.

        ``relays`` are the chain addresses of the registered relays that may take it. Before anything
        is sent, the marketplace API's discovered relay offers must show that at least one of them
        offers the model (else :class:`~agihub.client.core.ModelNotOffered`: nobody would take the
        order and the escrow would stay locked until its deadline). Without an API configured the
        order is refused with a :class:`~agihub.errors.ConfigError` saying so: set ``api_url=`` /
        ``AGIHUB_API_URL``, or pass ``check_offers=False`` to order without the check.

        >>> placed = client.place_order(root, [relay], down=10**15, cost=10**16)   # doctest: +SKIP
        """
        root = _hex32("model_root", model_root)
        core.check_amounts(down, cost, tip)
        chain = self.chain
        need = down + cost + tip
        have = chain.balance()
        if have < need:
            from agihub.chain.errors import TransactionRejected

            raise TransactionRejected(
                f"insufficient funds: the order escrows {need} but {chain.address} holds {have}; "
                "fund the account or lower down/cost/tip"
            )
        if check_offers:
            self._check_offered(root, list(relays))
        receipt = chain.pull(root, list(relays), down, cost, tip, *windows)
        assert receipt.result is not None
        return OrderPlaced(receipt.result, root, tuple(relays), down, cost, tip, receipt.tx_hash)

    def _check_offered(self, root: bytes, relays: list[str]) -> None:
        if self.config.api_url is None:
            raise ConfigError(
                f"cannot check that a named relay offers model {root.hex()}: no marketplace API is "
                "configured. Set api_url= / AGIHUB_API_URL (its GET /relays/offers lists the relays' "
                "signed offers), or order without the check: check_offers=False (CLI: --no-offer-check)"
            )
        infos = {address: self.chain.relay_info(address) for address in relays}
        offers: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(100):  # 100 pages of offers naming one model is far beyond any market
            params: dict[str, Any] = {"model": "0x" + root.hex(), "limit": 200}
            if cursor is not None:
                params["cursor"] = cursor
            page = self.api_get("/relays/offers", params)
            offers += page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        core.check_offered(root, infos, offers, api_url=self.config.api_url)

    def order(self, order_id: int) -> Order:
        """The order as the chain reports it now (UnknownOrder if there is none)."""
        return self.chain.get_order(order_id)

    def _checked(self, order_id: int, action: str) -> Order:
        order = self.order(order_id)
        core.check_action(order, action, self.chain.address, self.chain.now())
        return order

    def raise_payment(self, order_id: int, *, down: int = 0, cost: int = 0, tip: int = 0) -> Receipt:
        """Add to an order's amounts (OPEN: any of them; TAKEN: the tip only)."""
        core.check_amounts(down, cost, tip)
        self._checked(order_id, "raise")
        return self.chain.raise_payment(order_id, down, cost, tip)

    def cancel(self, order_id: int) -> Receipt:
        """Cancel an OPEN order; everything escrowed is credited back (then :meth:`withdraw`)."""
        self._checked(order_id, "cancel")
        return self.chain.cancel(order_id)

    def settle(self, order_id: int) -> Receipt:
        """Expire an order whose current deadline passed, refunding the buyer."""
        self._checked(order_id, "settle")
        return self.chain.settle(order_id)

    def withdraw(self) -> Receipt:
        """Pay this account's credits (refunds, relay earnings, rewards) out to it."""
        return self.chain.withdraw()

    def _raw_events(self, order_id: int) -> list[tuple[ChainEvent, int]]:
        chain = self._evm()
        from agihub.chain.evm import checksum

        found: list[tuple[ChainEvent, int]] = []
        try:
            for name in core.ORDER_EVENTS:
                logs = getattr(chain.contract.events, name)().get_logs(
                    from_block=chain.start_block, argument_filters={"order_id": order_id}
                )
                for log in logs:
                    tx = log["transactionHash"]
                    event = decode_event(
                        name, dict(log["args"]), address=checksum,
                        tx_hash=tx.hex() if isinstance(tx, bytes) else str(tx), log_index=int(log["logIndex"]),
                    )  # fmt: skip
                    found.append((event, int(log["blockNumber"])))
        except (OSError, httpx.HTTPError) as exc:
            raise ChainConnectionError(
                f"could not read the chain's logs: {exc}; check the node (AGIHUB_RPC_URL)"
            ) from exc
        return found

    def events(self, order_id: int) -> list[OrderEvent]:
        """Every event of an order so far, oldest first."""
        events = core.order_events(order_id, self._raw_events(order_id))
        if not events:
            self.order(order_id)  # raises UnknownOrder for an id that never existed
        return events

    def follow(
        self, order_id: int, *, poll: float = DEFAULT_POLL_S, timeout: float | None = None
    ) -> Iterator[OrderEvent]:
        """Yield the order's events as they happen (past ones first); ends when it is terminal.

        ``timeout`` (seconds) bounds the wait; :class:`~agihub.client.core.FollowTimeout` when it passes.
        """
        follower = core.Follower(order_id, timeout, time.monotonic())
        while True:
            new, done = follower.step(self.events(order_id))
            yield from new
            if done:
                return
            follower.check_time(time.monotonic())
            time.sleep(poll)

    def wait_for(
        self, order_id: int, state: OrderState, *, poll: float = DEFAULT_POLL_S, timeout: float | None = None
    ) -> OrderEvent:
        """Follow the order until it reaches ``state``; WrongState if it ends elsewhere."""
        from agihub.chain.errors import WrongState

        last = None
        for event in self.follow(order_id, poll=poll, timeout=timeout):
            last = event
            if event.state == state:
                return event
        raise WrongState(
            f"E_WRONG_STATE: order {order_id} ended {last.state.name if last else '?'}, never {state.name}"
        )

    # -- delivery --------------------------------------------------------------------------------
    def _taker_endpoint(self, order: Order) -> tuple[str, str]:
        taker = order.taker
        if taker is None and order.state.terminal:  # terminal orders are cleaned up: read the log
            taker = next(
                (e.fields["relay"] for e in self.events(order.order_id) if e.name == "OrderTaken"), None
            )
        if taker is None:
            raise core.DeliveryError(
                f"order {order.order_id} is {order.state.name} and has no taker; wait until it is TAKEN"
            )
        info = self.chain.relay_info(taker)
        if not info.endpoint:
            raise core.DeliveryError(f"relay {taker} has no registered endpoint; it cannot deliver")
        return taker, info.endpoint

    def fetch_delivery(self, order_id: int, *, progress: Progress | None = None) -> DeliveryResult:
        """Download the order's sealed delivery from the relay that took it (signed as the buyer)."""
        chain = self._evm()
        order = self.order(order_id)
        taker, endpoint = self._taker_endpoint(order)
        from eth_account.messages import encode_defunct

        market = chain.contract.address
        message = core.delivery_message(endpoint, market, order_id)
        timestamp = message.rsplit(" ", 1)[1]
        signature = chain.account.sign_message(encode_defunct(text=message)).signature
        header = f"{timestamp}.0x{bytes(signature).hex()}"
        url = http_base(endpoint) + core.delivery_path(market, order_id)
        inbox = self.config.workdir / "deliveries"
        inbox.mkdir(parents=True, exist_ok=True)
        sealed = inbox / f"{market.lower()}-{order_id}.sealed"
        part = sealed.with_suffix(".part")
        try:
            with httpx.stream(
                "GET", url, headers={"X-Agihub-Buyer-Auth": header}, timeout=self.timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = response.text
                    raise core.api_error(response.status_code, body)
                size_header = response.headers.get("X-Agihub-Plain-Size", "")
                if not size_header.isdigit():
                    raise core.DeliveryError(
                        f"relay {taker} at {url} sent no X-Agihub-Plain-Size header; it is not an agihub relay"
                    )
                plain_size = int(size_header)
                total = int(response.headers.get("content-length", 0))
                done = 0
                with part.open("wb") as out:
                    for block in response.iter_bytes(_BLOCK):
                        out.write(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, total)
        except httpx.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise core.DeliveryError(
                f"relay {taker} is unreachable at {url}: {exc}; retry, or settle the order after its deadline"
            ) from exc
        os.replace(part, sealed)
        sealed.with_suffix(".size").write_text(str(plain_size))
        root = delivered_root_of(sealed, plain_size)
        return DeliveryResult(order_id, taker, sealed, plain_size, root)

    def confirm(self, order_id: int, *, progress: Progress | None = None) -> DeliveryResult:
        """Fetch the sealed delivery, recompute its root and confirm receipt on chain with it.

        The relay then reveals the order key on chain; :meth:`open` uses it.
        """
        self._checked(order_id, "confirm")
        delivery = self.fetch_delivery(order_id, progress=progress)
        self.chain.confirm_received(order_id, delivery.delivery_root)
        return delivery

    def revealed_key(self, order_id: int) -> tuple[bytes, bytes]:
        """(key, salt) the taker revealed on chain; WrongState while it has not."""
        for event in self.events(order_id):
            if event.name == "KeyRevealed":
                return event.fields["key"], event.fields["salt"]
        order = self.order(order_id)
        core.check_action(order, "open", self.chain.address, self.chain.now())
        raise core.DeliveryError(f"order {order_id} is COMPLETED but no KeyRevealed event was found")

    def open(
        self,
        order_id: int,
        dest: str | os.PathLike[str],
        *,
        manifest: SignedManifest | str | os.PathLike[str] | None = None,
        version_key: bytes | None = None,
        shard_indices: Sequence[int] | None = None,
        progress: Progress | None = None,
    ) -> DeliveryResult:
        """Decrypt the delivery with the revealed key, rebuild the payload at ``dest`` and verify it.

        Every chunk is checked against the signed manifest. Without ``manifest`` it is found on the
        configured relays and the taker's by the order's model root (:meth:`manifest`). When the
        taker held fewer than k shards, the others are fetched from the configured relays.
        ``version_key`` opens a private package.
        """
        order = self.order(order_id)
        signed = self._order_manifest(order, manifest)
        if order.model_root != signed.model_root:
            raise core.DeliveryError(
                f"the manifest is for model {signed.model_root.hex()[:16]}..., order {order_id} bought "
                f"{order.model_root.hex()[:16]}...; pass the ordered model's manifest"
            )
        key, salt = self.revealed_key(order_id)
        chain = self._evm()
        sealed = self.config.workdir / "deliveries" / f"{chain.contract.address.lower()}-{order_id}.sealed"
        if not sealed.is_file():
            raise core.DeliveryError(
                f"no sealed delivery at {sealed}; run confirm() (or fetch_delivery()) first"
            )
        taker, endpoint = self._taker_endpoint(order)
        sizes = {s.index: s.size for s in signed.manifest.shards}
        plain_size = int(sealed.with_suffix(".size").read_text())
        if shard_indices is None:
            shard_indices = self._held(endpoint, signed)
        indices = core.shards_in_bundle(sizes, shard_indices, plain_size)
        work = self.config.workdir / "open" / f"{order_id}"
        work.mkdir(parents=True, exist_ok=True)
        bundle = work / "bundle"
        from agihub.storage.errors import DecryptionError

        try:
            open_delivery(sealed, bundle, key, salt, plain_size)
        except DecryptionError as exc:
            raise core.DeliveryError(
                f"the revealed key does not open the delivery of order {order_id}: {exc}"
            ) from exc
        paths = []
        with bundle.open("rb") as src:
            for index in indices:
                path = work / shard_name(index)
                path.write_bytes(src.read(sizes[index]))
                paths.append(path)
        bundle.unlink()
        k = signed.manifest.erasure.k
        if len(paths) < k:
            fetched, _sources, _failures, _count = fetch_shards(
                signed, [http_base(r) for r in self._relays(None)], work / "extra",
                timeout=self.timeout, progress=None if progress is None else (lambda d, t, _n: progress(d, t)),
            )  # fmt: skip
            paths += [p for i, p in sorted(fetched.items()) if i not in indices]
        unpack(signed, paths, dest, version_key=version_key)
        if progress is not None:
            size = Path(dest).stat().st_size
            progress(size, size)
        root = delivered_root_of(sealed, plain_size)
        return DeliveryResult(order_id, taker, sealed, plain_size, root, tuple(indices), Path(dest))

    def download(
        self,
        order_id: int,
        dest: str | os.PathLike[str],
        *,
        manifest: SignedManifest | str | os.PathLike[str] | None = None,
        version_key: bytes | None = None,
        timeout: float | None = None,
        poll: float = DEFAULT_POLL_S,
        progress: Progress | None = None,
    ) -> DeliveryResult:
        """The whole buyer side after ``place_order``: wait for a taker, confirm, wait for the key, open.

        Without ``manifest`` the model's signed manifest is found on the relays by the order's root
        before anything is confirmed, so a model nobody can rebuild is noticed first.
        """
        signed = self._order_manifest(self.order(order_id), manifest)
        self.wait_for(order_id, OrderState.TAKEN, poll=poll, timeout=timeout)
        if self.order(order_id).state == OrderState.TAKEN:
            self.confirm(order_id, progress=progress)
        self.wait_for(order_id, OrderState.COMPLETED, poll=poll, timeout=timeout)
        return self.open(order_id, dest, manifest=signed, version_key=version_key, progress=progress)

    def manifest(self, model_root: bytes | str, *, relays: Sequence[str] | None = None) -> SignedManifest:
        """The signed manifest of ``model_root``, found on ``relays`` (default: the configured ones).

        Relays are not trusted: the manifest must be the blob a publisher's announcement names, with
        a verifying signature, the asked root and the announcing publisher, else
        :class:`~agihub.client.core.ManifestMismatch` names the relay;
        :class:`~agihub.client.core.ManifestNotFound` when no relay announces it.

        >>> signed = client.manifest("3f1c...")                    # doctest: +SKIP
        >>> signed.manifest.card.name                             # doctest: +SKIP
        'tiny'
        """
        root = _hex32("model_root", model_root)
        return manifests.find_manifest(root, self._relays(relays), timeout=min(self.timeout, 10.0))

    def _order_manifest(
        self, order: Order, manifest: SignedManifest | str | os.PathLike[str] | None
    ) -> SignedManifest:
        if manifest is not None:
            return _manifest(manifest)
        where = list(self.config.relays)
        if order.state != OrderState.NONE:
            with contextlib.suppress(core.DeliveryError):  # not taken yet: the configured relays only
                where.append(self._taker_endpoint(order)[1])  # the taker holds the ordered package
        if not where:
            raise ConfigError(
                f"no relays to find model {order.model_root.hex()}'s manifest on: pass manifest= or "
                "configure relays= / AGIHUB_RELAYS"
            )
        return self.manifest(order.model_root, relays=where)

    def _held(self, endpoint: str, signed: SignedManifest) -> list[int]:
        base = http_base(endpoint)
        try:
            with httpx.Client(base_url=base, timeout=self.timeout) as http:
                return [
                    s.index for s in signed.manifest.shards if http.head(f"/{s.sha256}").status_code == 200
                ]
        except httpx.HTTPError as exc:
            raise core.DeliveryError(
                f"relay at {base} is unreachable to list its shards ({exc}); pass shard_indices= to open()"
            ) from exc

    # -- relay registry --------------------------------------------------------------------------
    def relay_pubkey(self, endpoint: str) -> bytes:
        """The relay node's Nostr public key, read from its NIP-11 document."""
        try:
            info = httpx.get(
                http_base(endpoint), headers={"accept": "application/nostr+json"}, timeout=self.timeout
            )
            return bytes.fromhex(info.json()["pubkey"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"no relay answers NIP-11 at {endpoint} ({exc}); start it (agihub relay run) or pass nostr_pubkey="
            ) from exc

    def register_relay(self, endpoint: str, nostr_pubkey: bytes | str | None = None) -> Receipt:
        """Register this account as a relay at ``endpoint`` (its Nostr key read from the node if omitted)."""
        key = (
            _hex32("nostr_pubkey", nostr_pubkey) if nostr_pubkey is not None else self.relay_pubkey(endpoint)
        )
        return self.chain.register_relay(key, endpoint)

    def update_relay(self, endpoint: str, nostr_pubkey: bytes | str | None = None) -> Receipt:
        """Change this relay's endpoint (and key)."""
        key = (
            _hex32("nostr_pubkey", nostr_pubkey) if nostr_pubkey is not None else self.relay_pubkey(endpoint)
        )
        return self.chain.update_relay(key, endpoint)

    def deregister_relay(self) -> Receipt:
        """Leave the relay registry."""
        return self.chain.deregister_relay()

    def relay_info(self, address: str | None = None) -> RelayInfo:
        """Registry entry of ``address`` (default: this account)."""
        return self.chain.relay_info(address or self.address)

    # -- contributions, scores and rewards --------------------------------------------------------
    def register_contribution(self, model_root: bytes | str, parent_root: bytes | str) -> int:
        """Register a contribution (a model over its parent) in the open epoch; returns its id."""
        receipt = self.chain.register_contribution(
            _hex32("model_root", model_root), _hex32("parent_root", parent_root)
        )
        assert receipt.result is not None
        return receipt.result

    def _chain_id(self) -> str:
        return f"evm:{self._evm().w3.eth.chain_id}"

    def api_get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` from the marketplace API; error bodies become :class:`ApiError` subclasses."""
        if self.config.api_url is None:
            raise ConfigError("no marketplace API configured: pass api_url= or set AGIHUB_API_URL")
        url = self.config.api_url + path
        try:
            response = httpx.get(url, params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise core.ApiUnavailable(
                "unreachable", f"no API answers at {url}: {exc}; check AGIHUB_API_URL", None
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise core.api_error(response.status_code, body)
        return body

    def score(self, contribution_id: int) -> Contribution:
        """A contribution and its score (from the API when configured, else the chain's view)."""
        if self.config.api_url is None:
            return self.chain.contribution(contribution_id)
        row = self.api_get(core.api_path("contributions", self._chain_id(), contribution_id))
        return Contribution(
            contribution_id=int(row["contribution_id"]),
            contributor=row.get("contributor") or "",
            model_root=bytes.fromhex((row.get("model_root") or "").removeprefix("0x")),
            parent_root=bytes.fromhex((row.get("parent_root") or "").removeprefix("0x")),
            epoch=int(row.get("epoch") or 0),
            score=int(row.get("score") or 0),
            final=bool(row.get("final")),
            claimed=bool(row.get("claimed")),
        )

    def claim_reward(self, contribution_id: int) -> Receipt:
        """Claim a final contribution's share of its closed epoch's pool (then :meth:`withdraw`)."""
        return self.chain.claim_reward(contribution_id)

    def rewards(self, account: str | None = None, *, role: str = "contributors") -> Rewards:
        """Unclaimed credits on chain and, with an API, the totals paid per chain (``role``:
        ``contributors`` or ``relays``)."""
        who = account or self.address
        credits = self.chain.credits(who)
        paid: dict[str, int] = {}
        if self.config.api_url is not None:
            body = self.api_get(core.api_path("earnings", role, who))
            paid = {chain: int(total) for chain, total in body.get("total_by_chain", {}).items()}
        return Rewards(who, credits, paid)
