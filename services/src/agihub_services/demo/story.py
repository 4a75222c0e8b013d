"""The demo's steps, in order. Each takes the shared :class:`Story` and prints who did what.

Two real relay nodes run in the stack: shards are uploaded to their blob stores with signed Blossom
authorizations and downloaded over HTTP with verification; relay-a's order agent works on its node's
database and blob store (the demo calls its polling round at each step so the story reads in order).
Everything on chain is real: compiled contract, signed transactions, balances.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from agihub.blobs import BlobClient
from agihub.chain.commitment import new_secret
from agihub.chain.evm import EvmChain, connect
from agihub.chain.evm_deploy import compile_market
from agihub.delta import apply_delta, encode_delta
from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, SignedManifest, pack_delta, pack_model, unpack
from agihub.storage.crypto import delivered_root_of, open_delivery
from agihub.storage.package import shard_name
from agihub.storage.unpack import private_version_key
from agihub_services.db.engine import make_engine
from agihub_services.demo import models
from agihub_services.dev.accounts import DEV_KEYS
from agihub_services.relay.agent import OrderAgent
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.delivery import deliveries_root, sign_delivery_request
from agihub_services.relay.settings import RelaySettings

ETH = 10**18
GWEI = 10**9
#: k=2 of n=4 shards: relay-a holds shards 0 and 1, relay-b holds 2 and 3, so either relay alone can
#: serve a whole order and the model survives losing either one.
PLACEMENT = {"relay-a": (0, 1), "relay-b": (2, 3)}
OPTIONS = PackOptions(k=2, n=4, chunk_size=256 * 1024, block_size=64 * 1024)


@dataclass
class Story:
    rpc_url: str
    workdir: Path
    echo: Callable[[str], None]
    #: demo relay name -> the relay node's HTTP base URL, and its data dir
    relay_urls: dict[str, str] = field(default_factory=dict)
    relay_homes: dict[str, Path] = field(default_factory=dict)
    chains: dict[str, EvmChain] = field(default_factory=dict)
    nostr: dict[str, SecretKey] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def chain(self, actor: str) -> EvmChain:
        return self.chains[actor]

    def blobs(self, relay: str, actor: str) -> BlobClient:
        """``actor`` talking to ``relay``'s blob store with its Nostr key."""
        return BlobClient(self.relay_urls[relay], self.nostr.setdefault(actor, SecretKey.generate()))

    def balances(self, *actors: str) -> None:
        admin = self.chain("admin")
        parts = [f"{a} {admin.balance(self.chain(a).address) / ETH:.6f} ETH" for a in actors]
        parts.append(f"escrow {admin.balance(admin.contract.address) / ETH:.6f} ETH")
        self.echo("balances: " + ", ".join(parts))


def deploy(story: Story) -> None:
    """The stack compiled market.vy and deployed it; every actor gets a signing handle on it."""
    w3 = connect(story.rpc_url)
    compiled = compile_market()
    market = story.facts["market"]
    for actor, key in DEV_KEYS.items():
        story.chains[actor] = EvmChain(w3, market, compiled.abi, Account.from_key(key))
    story.chain("admin").set_fee(250)
    story.echo(
        f"the dev stack compiled market.vy (vyper {compiled.vyper_version}) and the admin "
        f"{story.chain('admin').address} deployed it at {market}; the admin sets the protocol fee to 2.5%"
    )


def register_relays(story: Story) -> None:
    """Each relay operator binds its chain address to its node's Nostr key (from NIP-11) and endpoint."""
    for relay, url in story.relay_urls.items():
        info = httpx.get(url, headers={"accept": "application/nostr+json"}, timeout=10).json()
        endpoint = url.replace("http://", "ws://")
        story.chain(relay).register_relay(bytes.fromhex(info["pubkey"]), endpoint)
        story.echo(
            f"{relay} {story.chain(relay).address} registered its node ({info['name']}, nostr key "
            f"{info['pubkey'][:16]}...) at {endpoint}"
        )


def publish(story: Story) -> None:
    """The contributor publishes the foundation model (public) and the domain model as an encrypted delta."""
    contributor = story.nostr.setdefault("contributor", SecretKey.generate())
    started = time.perf_counter()
    parent, child = models.train(story.workdir)
    story.facts["domain_sha256"] = models.sha256_of(child)
    story.echo(
        f"contributor trained a byte-level transformer on English prose (the foundation) and fine-tuned "
        f"it on Python source (the domain model) in {time.perf_counter() - started:.0f} s"
    )
    signed = pack_model(
        parent, story.workdir / "foundation-pkg", contributor, Card(name="demo-foundation"), options=OPTIONS
    )
    story.facts["foundation"] = signed
    story.echo(
        f"contributor packed the foundation model: {parent.stat().st_size:,} bytes, public, "
        f"k={OPTIONS.k} n={OPTIONS.n}, model_root {signed.model_root.hex()[:16]}..."
    )
    _place(story, "foundation", signed)

    report = encode_delta(parent, child, story.workdir / "domain.delta", mode="lossless")
    secret = new_secret()
    story.facts["owner_secret"] = secret
    signed = pack_delta(
        story.workdir / "domain.delta",
        story.workdir / "domain-pkg",
        contributor,
        Card(name="demo-domain", base_model="demo-foundation"),
        parent_root=story.facts["foundation"].model_root,
        delta_encoding="agihub-delta/1",
        options=OPTIONS,
        owner_secret=secret,
    )
    story.facts["domain"] = signed
    story.echo(
        f"contributor stored the domain model as a lossless delta against the foundation: "
        f"{report.delta_bytes:,} bytes instead of {report.child_bytes:,} ({report.ratio:.1f}x smaller), "
        f"encrypted (AES-256-GCM, relays hold ciphertext), model_root {signed.model_root.hex()[:16]}..."
    )
    _place(story, "domain", signed)


def _place(story: Story, name: str, signed: SignedManifest) -> None:
    """The contributor uploads the signed manifest and each relay's shards to its blob store."""
    sizes = {shard.index: shard.size for shard in signed.manifest.shards}
    package = story.workdir / f"{name}-pkg"
    for relay, indices in PLACEMENT.items():
        with story.blobs(relay, "contributor") as client:
            client.upload(package / "manifest.json")  # the relay's agent learns what it holds from it
            for index in indices:
                descriptor = client.upload(package / shard_name(index))
                assert descriptor["size"] == sizes[index]
        story.echo(
            f"  contributor uploaded the manifest and {name} shards {list(indices)} to {relay} "
            f"({story.relay_urls[relay]})"
        )


def order(story: Story) -> None:
    """The buyer escrows down payment, cost and tip for the domain model, naming both relays."""
    buyer = story.chain("buyer")
    root = story.facts["domain"].model_root
    relays = [story.chain(r).address for r in PLACEMENT]
    down, cost, tip = 2_000_000 * GWEI, 10_000_000 * GWEI, 1_000_000 * GWEI
    receipt = buyer.pull(
        root, relays, down, cost, tip, take_window_s=600, ack_window_s=600, reveal_window_s=600
    )
    story.facts["order_id"] = receipt.result
    story.echo(
        f"buyer {buyer.address} pulled order #{receipt.result}: down {down / ETH} + cost {cost / ETH}"
        f" + tip {tip / ETH} ETH, relays {', '.join(PLACEMENT)} (gas {receipt.gas_used:,})"
    )
    story.balances("buyer", "relay-a")


def _shard_hash(signed: SignedManifest, index: int) -> str:
    return next(shard.sha256 for shard in signed.manifest.shards if shard.index == index)


def _agent(story: Story) -> OrderAgent:
    """relay-a's order agent, working on relay-a's own database, blob store and delivery folder."""
    if "agent" not in story.facts:
        settings = RelaySettings(AGIHUB_DATA_DIR=story.relay_homes["relay-a"])  # type: ignore[call-arg]
        engine = make_engine(settings.effective_relay_database_url)
        blobs = BlobStore(
            settings.effective_blob_dir,
            engine,
            quota_bytes=settings.quota_bytes,
            max_blob_bytes=settings.max_blob_bytes,
        )
        story.facts["agent"] = OrderAgent(story.chain("relay-a"), blobs, deliveries_root(settings))
    return story.facts["agent"]


def take_and_deliver(story: Story) -> None:
    """relay-a's order agent takes the order, seals its shards under a committed key; the buyer downloads."""
    order_id = story.facts["order_id"]
    states = _agent(story).poll()
    story.echo(
        f"relay-a's order agent found order #{order_id} for a model it holds: {states.get(order_id)} "
        "(fresh key and salt stored, shards sealed, keccak(key|salt|order|relay) committed on chain, "
        "down payment credited)"
    )
    buyer = story.chain("buyer")
    market = buyer.contract.address
    public_url = story.relay_urls["relay-a"].replace("http://", "ws://")
    auth = sign_delivery_request(buyer.account, public_url, market, order_id)
    inbox = story.workdir / "buyer-inbox"
    inbox.mkdir(exist_ok=True)
    sealed = inbox / f"order-{order_id}.sealed"
    with httpx.stream(
        "GET",
        f"{story.relay_urls['relay-a']}/delivery/{market}/{order_id}",
        headers={"X-Agihub-Buyer-Auth": auth},
        timeout=60,
    ) as response:
        response.raise_for_status()
        story.facts["plain_size"] = int(response.headers["X-Agihub-Plain-Size"])
        with sealed.open("wb") as out:
            for block in response.iter_bytes(1 << 20):
                out.write(block)
    stranger = httpx.get(
        f"{story.relay_urls['relay-a']}/delivery/{market}/{order_id}",
        timeout=10,
        headers={
            "X-Agihub-Buyer-Auth": sign_delivery_request(
                story.chain("relay-b").account, public_url, market, order_id
            )
        },
    )
    story.echo(
        f"the buyer downloaded {sealed.stat().st_size:,} bytes of sealed shards from relay-a, signing "
        f"the request with its chain key (anyone else gets HTTP {stranger.status_code})"
    )


def confirm(story: Story) -> None:
    """The buyer checks what arrived and records its root on chain (the key is still secret)."""
    order_id = story.facts["order_id"]
    sealed = story.workdir / "buyer-inbox" / f"order-{order_id}.sealed"
    root = delivered_root_of(sealed, story.facts["plain_size"])
    receipt = story.chain("buyer").confirm_received(order_id, root)
    story.echo(f"buyer confirmed receipt, delivery root {root.hex()[:16]}... (gas {receipt.gas_used:,})")


def reveal_and_get_paid(story: Story) -> None:
    """relay-a's agent sees the confirmation and reveals; the contract checks the commitment and pays."""
    order_id = story.facts["order_id"]
    states = _agent(story).poll()
    relay = story.chain("relay-a")
    event = relay.contract.events.KeyRevealed().get_logs(
        from_block=0, argument_filters={"order_id": order_id}
    )[0]
    story.facts["revealed"] = (bytes(event["args"]["key"]), bytes(event["args"]["salt"]))
    story.echo(
        f"relay-a's agent: order #{order_id} {states.get(order_id)}; paid "
        f"{event['args']['relay_amount'] / ETH} ETH, fee {event['args']['fee'] / ETH} ETH to the reward pool"
    )
    earnings = _agent(story).earnings()
    withdrawn = relay.withdraw()
    story.echo(
        f"relay-a earned {earnings.total / ETH} ETH on this market and withdrew its credits "
        f"(gas {withdrawn.gas_used:,})"
    )
    story.balances("buyer", "relay-a")


def rebuild(story: Story) -> None:
    """The buyer decrypts with the revealed key, rebuilds the delta from k shards, applies it to the
    foundation model (fetched from relay-b alone: relay-a is no longer needed) and loads the result."""
    order_id = story.facts["order_id"]
    key, salt = story.facts["revealed"]
    inbox = story.workdir / "buyer-inbox"
    bundle = inbox / f"order-{order_id}.bundle"
    open_delivery(inbox / f"order-{order_id}.sealed", bundle, key, salt, story.facts["plain_size"])
    signed: SignedManifest = story.facts["domain"]
    shard_paths = _split_bundle(bundle, signed, PLACEMENT["relay-a"], inbox)
    version_key = private_version_key(signed, story.facts["owner_secret"])  # shared by the owner off-chain
    unpack(signed, shard_paths, inbox / "domain.delta", version_key=version_key)
    story.echo(
        f"buyer decrypted the delivery and rebuilt the delta from shards {list(PLACEMENT['relay-a'])}, "
        "every chunk verified against the signed manifest"
    )
    foundation = _fetch_foundation(story, inbox / "foundation")
    out = apply_delta(foundation, inbox / "domain.delta", inbox / "domain.safetensors")
    from safetensors.numpy import load_file

    tensors = load_file(str(out))
    ok = models.sha256_of(out) == story.facts["domain_sha256"]
    story.echo(
        f"buyer applied the delta to the foundation model; safetensors loads the domain model "
        f"({len(tensors)} tensors) and it is byte-identical to the contributor's: {ok}"
    )
    if not ok:
        raise RuntimeError("the rebuilt model differs from the published one")


def _fetch_foundation(story: Story, folder: Path) -> Path:
    """The public foundation model, from relay-b's shards alone, over HTTP."""
    signed: SignedManifest = story.facts["foundation"]
    with story.blobs("relay-b", "buyer") as client:
        paths = [
            client.download(_shard_hash(signed, i), folder / shard_name(i)) for i in PLACEMENT["relay-b"]
        ]
    out = folder / "foundation.safetensors"
    unpack(signed, paths, out)
    story.echo(
        f"buyer fetched the public foundation model from relay-b's shards {list(PLACEMENT['relay-b'])} "
        f"alone (relay-a could vanish now), {out.stat().st_size:,} bytes verified"
    )
    return out


def _split_bundle(bundle: Path, signed: SignedManifest, indices: tuple[int, ...], folder: Path) -> list[Path]:
    sizes = {s.index: s.size for s in signed.manifest.shards}
    paths = []
    with bundle.open("rb") as src:
        for index in indices:
            path = folder / shard_name(index)
            path.write_bytes(src.read(sizes[index]))
            paths.append(path)
    return paths


def indexed(story: Story) -> None:
    """The indexer followed the chain into the shared database: the order's whole history is there."""
    from sqlalchemy import select

    from agihub.chain.catalog import OrderState
    from agihub_services.db.engine import make_engine
    from agihub_services.db.schema import MarketOrder, OrderEvent

    engine = make_engine(story.facts["database_url"])
    deadline = time.monotonic() + 30
    try:
        while True:
            with engine.connect() as conn:
                row = conn.execute(
                    select(MarketOrder).where(MarketOrder.order_id == story.facts["order_id"])
                ).first()
                history = (
                    conn.execute(
                        select(OrderEvent.event)
                        .where(OrderEvent.order_id == story.facts["order_id"])
                        .order_by(OrderEvent.block_number, OrderEvent.log_index)
                    )
                    .scalars()
                    .all()
                )
            if row is not None and row.state == OrderState.COMPLETED:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the indexer did not record order #{story.facts['order_id']} as completed"
                )
            time.sleep(0.5)
    finally:
        engine.dispose()
    story.echo(
        f"indexer: order #{row.order_id} is {OrderState(row.state).name} in the shared database, "
        f"history {' -> '.join(history)}"
    )


def _wait_task(story: Story, name: str, timeout: float = 180) -> dict[str, Any]:
    """The newest ``name`` task in the shared database, once it succeeded (its result)."""
    from sqlalchemy import select

    from agihub_services.db.schema import TaskRecord

    engine = make_engine(story.facts["database_url"])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(
                    select(TaskRecord.state, TaskRecord.result, TaskRecord.error)
                    .where(TaskRecord.name == name)
                    .order_by(TaskRecord.created_at.desc())
                ).first()
            if row is not None and row.state == "SUCCESS":
                return row.result or {}
            if row is not None and row.state in ("FAILURE", "DEAD_LETTER"):
                raise RuntimeError(f"{name} failed: {row.error}")
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise RuntimeError(f"{name} did not finish in {timeout:.0f} s")


def score(story: Story) -> None:
    """The contributor submits its domain model for scoring; the validator's worker scores it with
    Proof-of-Work-of-Compression and posts the score through commit-then-reveal."""
    from agihub_services.packages import register_package
    from agihub_services.queue import make_producer, submit

    contributor, admin = story.chain("contributor"), story.chain("admin")
    key = story.nostr["contributor"]
    scored = pack_model(story.workdir / "domain.safetensors", story.workdir / "domain-scored-pkg", key,
                        Card(name="demo-domain", base_model="demo-foundation"), options=OPTIONS)  # fmt: skip
    settings = story.facts["stack"]
    engine = make_engine(settings.effective_database_url)
    try:
        register_package(engine, story.workdir / "foundation-pkg")
        register_package(engine, story.workdir / "domain-scored-pkg")
        parent = story.facts["foundation"].model_root
        cid = contributor.register_contribution(scored.model_root, parent).result
        assert cid is not None
        story.facts["contribution_id"] = cid
        admin.add_validator(story.chain("validator").address)
        story.echo(
            f"contributor {contributor.address} registered contribution #{cid} (its public domain model "
            f"{scored.model_root.hex()[:16]}... over the foundation); the admin enrolled validator "
            f"{story.chain('validator').address}"
        )
        producer = make_producer(settings)
        try:
            submit(engine, producer, "agihub.scoring.score", {"contribution_id": cid})
        finally:
            producer.close()
    finally:
        engine.dispose()
    result = _wait_task(story, "agihub.scoring.score")
    record = result["record"]
    story.echo(
        f"validator's worker scored it on {record['validation']['scored_bytes']:,} seeded validation bytes: "
        f"{record['parent_bits_per_byte']:.3f} -> {record['child_bits_per_byte']:.3f} bits/byte, delta "
        f"{record['delta']['bytes']:,} bytes ({record['delta']['mode']}); score {int(record['score_bits']):,} bits, "
        "committed on chain"
    )
    _wait_task(story, "agihub.scoring.reveal")
    c = admin.contribution(cid)
    story.echo(f"the validator revealed its score; contribution #{cid} is final with score {c.score:,}")


def reward(story: Story) -> None:
    """The epoch ends; the fee-funded reward pool is shared by final scores; the contributor claims."""
    admin, contributor = story.chain("admin"), story.chain("contributor")
    cid = story.facts["contribution_id"]
    w3 = admin.contract.w3
    w3.provider.make_request("evm_increaseTime", [3601])  # the local chain's clock: an epoch is an hour
    w3.provider.make_request("evm_mine", [])
    epoch = contributor.contribution(cid).epoch
    admin.close_epoch()
    result = admin.epoch_result(epoch)
    story.echo(
        f"an hour later anyone closes epoch {epoch}: its pool is {result.pool / ETH:.6f} ETH (the 2.5% "
        f"fees), shared over a total final score of {result.total_score:,}"
    )
    before = admin.balance(contributor.address)
    contributor.claim_reward(cid)
    contributor.withdraw()
    gained = admin.balance(contributor.address) - before
    story.echo(f"contributor claimed its share and withdrew it (net of gas: {gained / ETH:+.6f} ETH)")
    story.balances("contributor")


STEPS: list[tuple[str, Callable[[Story], None]]] = [
    ("the escrow contract is compiled and deployed on the local chain", deploy),
    ("two relay nodes register on chain with their Nostr keys", register_relays),
    ("a contributor publishes a foundation model and a private domain model as an encrypted delta", publish),
    ("a buyer orders the domain model from either relay", order),
    (
        "relay-a's order agent takes the order and serves the shards sealed under a committed key",
        take_and_deliver,
    ),
    ("the buyer confirms receipt on chain", confirm),
    ("relay-a's agent reveals the key and is paid", reveal_and_get_paid),
    ("the buyer decrypts, rebuilds the delta, applies it to the foundation model and loads it", rebuild),
    ("the indexer recorded every step of the order in the shared database", indexed),
    ("a validator's worker scores the contribution (PoWoC) and posts it by commit-then-reveal", score),
    ("the epoch closes and the contributor claims its reward", reward),
]
