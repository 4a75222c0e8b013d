"""``agihub.discovery`` against a real relay served by uvicorn (and a hostile websocket server)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from agihub import discovery
from agihub.discovery import DiscoveryError, ModelVersion, RelayOffer, newest
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import InvalidEvent, sign_event
from agihub_services.dev.ports import free_port
from tests.services.relay.conftest import RunningRelay, make_settings

BASE = 1_700_000_000


def publish(url: str, *events) -> None:  # type: ignore[no-untyped-def]
    """Send EVENTs over a real websocket and require an ``OK true`` for each."""
    with connect(url) as ws:
        for event in events:
            ws.send(json.dumps(["EVENT", event.to_dict()]))
            while True:
                message = json.loads(ws.recv(timeout=10))
                if message[0] == "OK" and message[1] == event.id:
                    assert message[2] is True, message
                    break


@pytest.fixture
def relay(tmp_path: Path, isolated_env: Path) -> Iterator[RunningRelay]:
    port = free_port()
    # max_limit 5: a query for more than five events has to page.
    settings = make_settings(tmp_path, public_url=f"ws://127.0.0.1:{port}", price=42, max_limit=5)
    with RunningRelay(settings, port) as running:
        yield running


def test_model_versions_page_past_the_relays_limit_and_filter(relay: RunningRelay) -> None:
    publisher, other = SecretKey.generate(), SecretKey.generate()
    roots = [f"{i:064x}" for i in range(1, 13)]
    # Twelve versions, several sharing a timestamp (paging must not lose the ties).
    versions = [
        kinds.model_version(
            publisher, root, f"m{i}", metadata='{"license":"mit"}', size=i, shards=4, topics=("llm",)
        )
        for i, root in enumerate(roots)
    ]
    versions = [
        sign_event(publisher, v.kind, v.content, [list(t) for t in v.tags], created_at=BASE + i // 3)
        for i, v in enumerate(versions)
    ]
    theirs = kinds.model_version(other, roots[0], "someone else's card", parent=roots[1])
    publish(relay.ws_url, *versions, theirs)

    found = discovery.model_versions(relay.ws_url)
    assert sorted(v.event_id for v in found) == sorted([v.id for v in versions] + [theirs.id])
    mine = discovery.model_versions(relay.ws_url, publisher=publisher.public_key.hex)
    assert len(mine) == 12 and mine[0].created_at >= mine[-1].created_at
    first = next(v for v in mine if v.model_root == roots[0])
    assert (first.name, first.size, first.shards, first.topics) == ("m0", 0, 4, ("llm",))
    assert first.card() == {"license": "mit"}
    of_root = discovery.model_versions(relay.ws_url, model_root="0x" + roots[0].upper())
    assert {v.publisher for v in of_root} == {publisher.public_key.hex, other.public_key.hex}
    assert next(v for v in of_root if v.publisher == other.public_key.hex).parent == roots[1]


def test_relay_offers_include_the_relays_own_and_filter_by_model(relay: RunningRelay) -> None:
    own = discovery.relay_offers(relay.ws_url)
    relay_key = SecretKey.parse(relay.settings.nostr_key).public_key.hex
    assert [(o.pubkey, o.endpoint, o.price, o.models) for o in own] == [(relay_key, relay.ws_url, 42, ())]
    other, root = SecretKey.generate(), "ab" * 32
    old = kinds.relay_offer(other, "wss://other.example", [root], price=1, created_at=BASE)
    new = kinds.relay_offer(other, "wss://other.example", [root, "cd" * 32], price=2, created_at=BASE + 1)
    publish(relay.ws_url, old, new)
    holding = discovery.relay_offers(relay.ws_url, model_root=root)
    assert [(o.pubkey, o.price, o.models) for o in holding] == [(other.public_key.hex, 2, (root, "cd" * 32))]


def test_bad_arguments_and_unreachable_relays_are_discovery_errors() -> None:
    with pytest.raises(DiscoveryError, match="must start with ws://"):
        discovery.relay_offers("http://127.0.0.1:1")
    with pytest.raises(DiscoveryError, match="model_root must be 64 hex"):
        discovery.relay_offers("ws://127.0.0.1:1", model_root="abc")
    with pytest.raises(DiscoveryError, match="publisher must be 64 hex"):
        discovery.model_versions("ws://127.0.0.1:1", publisher="zz" * 32)
    with pytest.raises(DiscoveryError, match=r"127\.0\.0\.1"):
        discovery.relay_offers(f"ws://127.0.0.1:{free_port()}", timeout=2)


def test_wrong_kinds_are_refused_by_the_typed_parsers() -> None:
    key = SecretKey.generate()
    offer = kinds.relay_offer(key, "wss://r.example", [])
    with pytest.raises(InvalidEvent, match="not a model version"):
        ModelVersion.from_event(offer)
    with pytest.raises(InvalidEvent, match="not a relay offer"):
        RelayOffer.from_event(kinds.model_version(key, "ab" * 32, "m"))


def test_newest_keeps_one_per_key_with_the_lower_id_on_a_tie() -> None:
    key = SecretKey.generate()
    a = kinds.relay_offer(key, "wss://a.example", [], created_at=BASE)
    b = kinds.relay_offer(key, "wss://b.example", [], created_at=BASE)
    c = kinds.relay_offer(key, "wss://c.example", [], created_at=BASE - 1)
    assert newest([a, b, c]) == [min(a, b, key=lambda e: e.id)]


class HostileRelay:
    """A websocket server that answers any REQ with a forged event, a valid one, then EOSE."""

    def __init__(self, events: list[dict]) -> None:
        self.events, self.port = events, free_port()
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _handler(self, ws) -> None:  # type: ignore[no-untyped-def]
        async for frame in ws:
            message = json.loads(frame)
            if message[0] == "REQ":
                # Only the first page carries events; later pages (with until) are empty.
                events = [] if "until" in message[2] else self.events
                for event in events:
                    await ws.send(json.dumps(["EVENT", message[1], event]))
                await ws.send(json.dumps(["EOSE", message[1]]))

    def __enter__(self) -> HostileRelay:
        from websockets.asyncio.server import serve

        self.thread.start()

        async def start():  # type: ignore[no-untyped-def]
            return await serve(self._handler, "127.0.0.1", self.port)

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def test_forged_and_malformed_events_from_a_relay_are_dropped() -> None:
    key = SecretKey.generate()
    good = kinds.relay_offer(key, "wss://good.example", ["ab" * 32], created_at=BASE)
    forged = {**good.to_dict(), "tags": [["d", key.public_key.hex], ["endpoint", "wss://evil.example"]]}
    resigned_bad = sign_event(key, kinds.RELAY_OFFER, "", [["d", "00" * 32], ["endpoint", "wss://x"]])
    with HostileRelay([forged, resigned_bad.to_dict(), {"not": "an event"}, good.to_dict()]) as hostile:
        offers = discovery.relay_offers(f"ws://127.0.0.1:{hostile.port}")
    assert [o.endpoint for o in offers] == ["wss://good.example"]
