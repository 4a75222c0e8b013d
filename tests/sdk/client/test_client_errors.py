"""Bad input through agihub.Client: each failure is a typed AgihubError naming the problem and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agihub import Client
from agihub.chain.errors import (
    ChainConnectionError,
    ChainInputError,
    NotBuyer,
    NotDue,
    RelayNotRegistered,
    TransactionRejected,
    UnknownOrder,
    WrongState,
)
from agihub.client import ApiNotFound, ApiRequestError, ApiUnavailable, DeliveryError
from agihub.errors import AgihubError, ApiError, ConfigError
from tests.sdk.client.conftest import GWEI, ServedApi, Stack
from tests.sdk.transfer.transfer_kit import dead_url


def test_follow_times_out_with_a_typed_error(stack: Stack) -> None:
    from agihub.client import FollowTimeout

    buyer = stack.client()
    placed = buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI, check_offers=False)
    seen = []
    with pytest.raises(FollowTimeout, match="still OPEN after 0 s") as info:
        for event in buyer.follow(placed.order_id, poll=0.05, timeout=0.2):
            seen.append(event.name)
    assert seen == ["OrderPulled"] and isinstance(info.value, TimeoutError)


def test_unknown_order(stack: Stack) -> None:
    buyer = stack.client()
    with pytest.raises(UnknownOrder):
        buyer.order(999)
    with pytest.raises(UnknownOrder):
        buyer.cancel(999)
    with pytest.raises(UnknownOrder):
        buyer.events(999)


def test_wrong_address_and_bad_roots(stack: Stack) -> None:
    buyer = stack.client()
    with pytest.raises(ChainInputError, match="model_root must be 32 bytes"):
        buyer.place_order("abcd", [stack.market.other.address], down=0, cost=GWEI)
    with pytest.raises(ChainInputError, match="model_root"):
        buyer.place_order("zz" * 32, [stack.market.other.address], down=0, cost=GWEI)
    with pytest.raises(AgihubError):
        buyer.place_order(bytes(32), ["0x1234"], down=0, cost=GWEI, check_offers=False)
    with pytest.raises(RelayNotRegistered):  # a well-formed address that is no registered relay
        buyer.place_order(bytes(32), [stack.market.admin.address], down=0, cost=GWEI, check_offers=False)
    with pytest.raises(ChainInputError, match="cost must be a non-negative integer"):
        buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=-1)


def test_insufficient_funds_names_the_fix(stack: Stack) -> None:
    buyer = stack.client()
    with pytest.raises(TransactionRejected, match=r"insufficient funds.*fund the account"):
        buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=10**30)


def test_state_machine_refuses_before_sending(stack: Stack) -> None:
    buyer = stack.client()
    placed = buyer.place_order(bytes(32), [stack.market.other.address], down=0, cost=GWEI, check_offers=False)
    with pytest.raises(WrongState, match="confirm once a relay has TAKEN"):
        buyer.confirm(placed.order_id)
    with pytest.raises(NotDue, match="can be settled after its deadline"):
        buyer.settle(placed.order_id)
    with pytest.raises(NotBuyer, match="use the buyer's account"):
        stack.client("other").cancel(placed.order_id)
    with pytest.raises(WrongState, match="key is revealed only after you confirm"):
        buyer.revealed_key(placed.order_id)
    buyer.cancel(placed.order_id)
    with pytest.raises(WrongState, match="CANCELLED"):
        buyer.cancel(placed.order_id)


def test_unreachable_node_and_missing_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGIHUB_RPC_URL", "AGIHUB_MARKET", "AGIHUB_ACCOUNT_KEY", "AGIHUB_RELAYS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="AGIHUB_RPC_URL"):
        _ = Client().chain
    with pytest.raises(ConfigError, match="AGIHUB_MARKET"):
        _ = Client(dead_url()).chain
    with pytest.raises(ConfigError, match="not an EVM address"):
        Client(dead_url(), market="0x1234")
    with pytest.raises(ConfigError, match="AGIHUB_ACCOUNT_KEY"):
        Client(dead_url(), market="0x" + "11" * 20, account="nothex")
    client = Client(dead_url(), market="0x" + "11" * 20, account="0x" + "22" * 32)
    with pytest.raises(ChainConnectionError, match="no EVM JSON-RPC node answers"):
        _ = client.chain
    with pytest.raises(ConfigError, match="no relays configured"):
        Client(workdir=tmp_path).publish(Path(__file__))
    with pytest.raises(ConfigError, match="not a ws"):
        Client(relays=["ftp://x"])


def test_environment_defaults_and_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_RELAYS", "ws://a:1, ws://b:2")
    monkeypatch.setenv("AGIHUB_API_URL", "http://api.example/")
    monkeypatch.setenv("AGIHUB_MARKET", "0x" + "ab" * 20)
    client = Client()
    assert client.config.relays == ("ws://a:1", "ws://b:2")
    assert client.config.api_url == "http://api.example"
    assert client.config.market == "0x" + "ab" * 20
    explicit = Client(relays=["ws://c:3"], api_url="http://other", market="0x" + "cd" * 20)
    assert explicit.config.relays == ("ws://c:3",)
    assert (explicit.config.api_url, explicit.config.market) == ("http://other", "0x" + "cd" * 20)


def test_unreachable_relay_on_publish_and_delivery(stack: Stack) -> None:
    from agihub.transfer import TransferError

    publisher = stack.client("admin", relays=[dead_url()])
    with pytest.raises(TransferError):
        publisher.publish(stack.model())
    relay = stack.client("relay")
    with pytest.raises(ConfigError, match="no relay answers NIP-11"):
        relay.register_relay(dead_url().replace("http", "ws"))
    # a taker registered at an endpoint where nothing listens: the buyer's confirm names it
    relay.register_relay(dead_url().replace("http", "ws"), "01" * 32)
    buyer = stack.client()
    placed = buyer.place_order(bytes(32), [stack.market.relay.address], down=0, cost=GWEI, check_offers=False)
    stack.market.relay.take_order(placed.order_id, b"\x05" * 32)
    with pytest.raises(DeliveryError, match=r"unreachable.*settle the order after its deadline"):
        buyer.confirm(placed.order_id)


def test_wrong_key_wrong_manifest_and_tampered_delivery(stack: Stack, api: ServedApi) -> None:
    """A private model: a wrong version key, the wrong manifest or a tampered delivery are typed
    errors and leave nothing at ``dest``; the right key rebuilds the model."""
    from agihub.storage import load_manifest, private_version_key
    from agihub.storage.errors import DecryptionError
    from tests.sdk.client.test_client_flow import OPTIONS

    secret = bytes(range(32))
    stack.client("relay").register_relay(stack.relays[0].ws_url)
    src = stack.model("private", seed=5)
    published = stack.client("admin").publish(src, options=OPTIONS, happiness=2, owner_secret=secret)
    api.discover(stack.relays, published.model_root)
    buyer = stack.client(api_url=api.url)
    placed = buyer.place_order(published.model_root, [stack.market.relay.address], down=0, cost=GWEI)
    agent = stack.agent()
    agent.poll()
    delivery = buyer.confirm(placed.order_id)
    agent.poll()
    out = stack.base / "out.safetensors"
    with pytest.raises(DecryptionError):
        buyer.open(placed.order_id, out, manifest=published.package_dir, version_key=b"\x07" * 32)
    assert not out.exists()
    other = stack.client("admin").publish(stack.model("x", seed=9), options=OPTIONS, happiness=2)
    with pytest.raises(DeliveryError, match="pass the ordered model's manifest"):
        buyer.open(placed.order_id, out, manifest=other.package_dir)
    with pytest.raises(DecryptionError):  # the manifest found by root is right; the key still is not
        buyer.open(placed.order_id, out, version_key=b"\x07" * 32)
    assert not out.exists()
    signed = load_manifest(published.package_dir / "manifest.json")
    key = private_version_key(signed, secret)
    buyer.open(placed.order_id, out, manifest=signed, version_key=key)
    assert out.read_bytes() == src.read_bytes()
    out.unlink()
    sealed = bytearray(delivery.sealed_path.read_bytes())
    sealed[10] ^= 0xFF
    delivery.sealed_path.write_bytes(bytes(sealed))
    with pytest.raises(DeliveryError, match="revealed key does not open the delivery"):
        buyer.open(placed.order_id, out, manifest=signed, version_key=key)
    assert not out.exists()


def test_api_error_codes_map_to_the_exception_tree(stack: Stack, api: ServedApi) -> None:
    client = stack.client("other", api_url=api.url)
    with pytest.raises(ApiNotFound) as info:
        client.score(12345)
    assert info.value.error_code == "not_found" and info.value.status == 404
    with pytest.raises(ApiRequestError) as bad:
        client.api_get("/earnings/relays/not-an-address")
    assert bad.value.status == 422 and isinstance(bad.value, ApiError)
    rewards = client.rewards()
    assert rewards.account == stack.market.other.address and rewards.paid_by_chain == {}
    with pytest.raises(ApiUnavailable, match="check AGIHUB_API_URL"):
        stack.client(api_url=dead_url()).rewards()
