"""The buyer's whole story through agihub.Client against a real chain, relays and relay agent."""

from __future__ import annotations

import hashlib

from agihub.chain.catalog import OrderState
from agihub.storage import PackOptions
from tests.sdk.client.conftest import GWEI, ServedApi, Stack, manifest_of

OPTIONS = PackOptions(k=2, n=4, chunk_size=4096, block_size=1024)


def test_publish_order_confirm_open(stack: Stack, api: ServedApi) -> None:
    """Publish, order through the API's offer check, confirm, and open with the manifest found by root."""
    stack.market.admin.set_fee(250)  # 2.5% of each paid order goes to the epoch's reward pool
    relay = stack.client("relay")
    relay.register_relay(stack.relays[0].ws_url)  # Nostr key read from the node's NIP-11
    assert relay.relay_info().endpoint == stack.relays[0].ws_url

    publisher = stack.client("admin")
    src = stack.model()
    published = publisher.publish(src, name="tiny", options=OPTIONS, happiness=2)
    assert sorted(published.placements) == [0, 1, 2, 3]
    assert {u for urls in published.placements.values() for u in urls} == {r.http_url for r in stack.relays}

    api.discover(stack.relays, published.model_root)  # the relays' offers name the model now
    buyer = stack.client("buyer", api_url=api.url)
    placed = buyer.place_order(
        published.model_root,
        [stack.market.relay.address],
        down=2_000_000 * GWEI,
        cost=10_000_000 * GWEI,
        tip=GWEI,
    )
    assert buyer.order(placed.order_id).state == OrderState.OPEN
    agent = stack.agent()
    agent.poll()  # takes the order, seals relay 0's shards under a committed key
    assert buyer.order(placed.order_id).state == OrderState.TAKEN

    seen: list[tuple[int, int]] = []
    delivery = buyer.confirm(placed.order_id, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == delivery.sealed_path.stat().st_size
    assert buyer.order(placed.order_id).state == OrderState.ACKED
    agent.poll()  # reveals the key, is paid

    events = buyer.events(placed.order_id)
    assert [e.name for e in events] == ["OrderPulled", "OrderTaken", "OrderConfirmed", "KeyRevealed"]
    assert [e.state for e in events][-1] == OrderState.COMPLETED
    assert [e.name for e in buyer.follow(placed.order_id, poll=0.05, timeout=5)] == [e.name for e in events]

    out = stack.base / "bought.safetensors"
    result = buyer.open(placed.order_id, out)  # the signed manifest is looked up by the order's root
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert len(result.shard_indices) >= 1
    assert result.delivery_root == delivery.delivery_root
    assert relay.rewards().credits > 0  # the relay was paid down payment + cost + tip minus the fee
    _reward_round(stack, published.model_root)


def _reward_round(stack: Stack, model_root: bytes) -> None:
    """A contribution is scored by a validator, the epoch closes, the contributor claims its reward."""
    from agihub.chain.commitment import new_secret, score_commit

    contributor = stack.client("other")
    cid = contributor.register_contribution(model_root, bytes(32))
    admin = stack.market.admin
    admin.add_validator(admin.address)
    salt = new_secret()
    admin.commit_score(cid, score_commit(1000, salt, cid, admin.address))
    admin.reveal_score(cid, 1000, salt)
    assert contributor.score(cid).final and contributor.score(cid).score == 1000
    stack.market.travel(3601)
    admin.close_epoch()
    before = contributor.rewards().credits
    contributor.claim_reward(cid)
    gained = contributor.rewards().credits - before
    assert gained == admin.epoch_result(contributor.score(cid).epoch).pool > 0
    contributor.withdraw()
    assert contributor.rewards().credits == 0


def test_relay_registry_lifecycle(stack: Stack) -> None:
    relay = stack.client("relay")
    relay.register_relay(stack.relays[0].ws_url)
    relay.update_relay(stack.relays[1].ws_url)
    info = relay.relay_info()
    assert info.endpoint == stack.relays[1].ws_url
    assert info.nostr_pubkey == relay.relay_pubkey(stack.relays[1].ws_url)
    relay.deregister_relay()
    assert not relay.relay_info().registered


def test_publish_a_private_delta(stack: Stack) -> None:
    """A domain model published as an encrypted delta over a published parent."""
    from agihub.delta import encode_delta
    from agihub.storage import load_manifest, private_version_key
    from agihub.transfer import fetch_package

    publisher = stack.client("admin")
    parent_path = stack.model("parent", seed=1)
    parent = publisher.publish(parent_path, options=OPTIONS, happiness=2)
    child_path = stack.model("child", seed=2)
    delta = encode_delta(parent_path, child_path, stack.base / "child.delta").delta_bytes
    assert delta > 0
    secret = bytes(range(1, 33))
    child = publisher.publish(
        stack.base / "child.delta",
        parent_root=parent.model_root,
        options=OPTIONS,
        owner_secret=secret,
        happiness=2,
    )
    signed = load_manifest(child.package_dir / "manifest.json")
    assert signed.manifest.payload.kind == "delta"
    assert signed.manifest.payload.parent_root == parent.model_root.hex()
    assert signed.manifest.encryption is not None
    out = stack.base / "child-again.delta"
    fetch_package(
        signed, [r.http_url for r in stack.relays], stack.base / "fetch", out,
        version_key=private_version_key(signed, secret),
    )  # fmt: skip
    assert out.read_bytes() == (stack.base / "child.delta").read_bytes()


def test_download_waits_then_rebuilds_with_shards_from_other_relays(stack: Stack) -> None:
    """The taker holds one shard only; download() waits, confirms, and fetches the rest elsewhere."""
    stack.client("relay").register_relay(stack.relays[0].ws_url)
    publisher = stack.client("admin", relays=[stack.relay_urls[1]])
    src = stack.model("other", seed=3)
    published = publisher.publish(src, options=OPTIONS)
    manifest = manifest_of(published.package_dir)
    from agihub.blobs import BlobClient
    from agihub.identity import SecretKey
    from agihub.storage.package import shard_name

    with BlobClient(stack.relays[0].http_url, SecretKey.generate()) as up:  # relay 0 holds shard 2 only
        up.upload(published.package_dir / "manifest.json")
        up.upload(published.package_dir / shard_name(2))
    buyer = stack.client("buyer")
    placed = buyer.place_order(
        manifest.model_root.hex(), [stack.market.relay.address], down=0, cost=GWEI, check_offers=False
    )

    import threading

    agent = stack.agent()
    done = threading.Event()

    def run_agent() -> None:
        while not done.is_set():
            agent.poll()
            done.wait(0.1)

    thread = threading.Thread(target=run_agent, daemon=True)
    thread.start()
    try:
        out = stack.base / "downloaded.safetensors"
        result = buyer.download(placed.order_id, out, manifest=manifest, timeout=30, poll=0.1)
    finally:
        done.set()
        thread.join(5)
    assert result.shard_indices == (2,)
    assert out.read_bytes() == src.read_bytes()


def test_raise_cancel_withdraw(stack: Stack) -> None:
    buyer = stack.client("buyer")
    root = bytes(range(32))
    placed = buyer.place_order(
        root, [stack.market.other.address], down=GWEI, cost=2 * GWEI, check_offers=False
    )
    buyer.raise_payment(placed.order_id, tip=5 * GWEI)
    assert buyer.order(placed.order_id).tip == 5 * GWEI
    buyer.cancel(placed.order_id)
    assert buyer.rewards().credits == 8 * GWEI
    buyer.withdraw()
    assert buyer.rewards().credits == 0
    names = [e.name for e in buyer.events(placed.order_id)]
    assert names == ["OrderPulled", "PaymentRaised", "OrderCancelled"]


def test_settle_after_deadline(stack: Stack) -> None:
    buyer = stack.client("buyer")
    placed = buyer.place_order(
        bytes(32), [stack.market.other.address], down=0, cost=GWEI, windows=(60, 60, 60), check_offers=False
    )
    stack.market.travel(61)
    buyer.settle(placed.order_id)
    assert buyer.order(placed.order_id).state == OrderState.EXPIRED
    assert buyer.events(placed.order_id)[-1].name == "OrderSettled"


def test_contribution_and_scores(stack: Stack) -> None:
    contributor = stack.client("other")
    cid = contributor.register_contribution("11" * 32, "22" * 32)
    c = contributor.score(cid)
    assert (c.contribution_id, c.contributor, c.final) == (cid, stack.market.other.address, False)
    assert c.model_root == bytes.fromhex("11" * 32)
