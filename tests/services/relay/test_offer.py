"""The relay's own offer (kind 31338): published at start, republished when its held models change."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agihub.errors import ConfigError
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import Event, parse_event
from agihub.storage.package import shard_name
from agihub_services.config import load_settings
from agihub_services.relay.app import create_app
from agihub_services.relay.settings import RelaySettings
from tests.services.relay.conftest import PUBLIC_URL, blossom_header, challenge_of, make_settings, recv_until
from tests.services.relay.test_agent_kit import pack_tiny_model


def offers(client: TestClient) -> list[Event]:
    """Every kind-31338 event the relay returns to a plain NIP-01 REQ."""
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ws.send_text(json.dumps(["REQ", "o", {"kinds": [kinds.RELAY_OFFER]}]))
        got = recv_until(ws, "EOSE")
    return [parse_event(message[2]) for message in got if message[0] == "EVENT"]


def wait_for_offer(client: TestClient, check: Callable[[Event], bool], timeout: float = 10.0) -> Event:
    """The stored offer once ``check`` accepts it (the refresh runs in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        current = client.app.state.offers.publisher.current()
        if current is not None and check(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"offer never matched; last {current}")
        time.sleep(0.02)


def upload(client: TestClient, key: SecretKey, path: Path) -> str:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    response = client.put(
        "/upload", content=data, headers={"Authorization": blossom_header(key, "upload", digest)}
    )
    assert response.status_code == 201, response.text
    return digest


def test_a_fresh_relay_offers_its_endpoint_and_price(tmp_path: Path, isolated_env: Path) -> None:
    settings = make_settings(tmp_path, price=1234)
    with TestClient(create_app(settings)) as client:
        [offer] = offers(client)
    assert offer.pubkey == SecretKey.parse(settings.nostr_key).public_key.hex
    assert offer.d_tag == offer.pubkey
    assert offer.first_tag("endpoint") == PUBLIC_URL
    assert offer.first_tag("price") == "1234"
    assert offer.tag_values("m") == []


def test_uploading_a_manifest_and_a_shard_offers_the_model_and_deleting_withdraws_it(
    tmp_path: Path, isolated_env: Path
) -> None:
    signed = pack_tiny_model(tmp_path / "model")
    root = signed.model_root.hex()
    publisher = SecretKey.generate()
    pkg = tmp_path / "model" / "pkg"
    with TestClient(create_app(make_settings(tmp_path))) as client:
        first = wait_for_offer(client, lambda ev: True)
        upload(client, publisher, pkg / "manifest.json")
        # A manifest without any of its shards here is not a held model.
        assert client.app.state.offers.publisher.terms().models == ()
        with client.websocket_connect("/") as live:
            challenge_of(live)
            live.send_text(json.dumps(["REQ", "live", {"kinds": [kinds.RELAY_OFFER], "#m": [root]}]))
            assert recv_until(live, "EOSE") == [["EOSE", "live"]]
            shard = upload(client, publisher, pkg / shard_name(1))
            pushed = json.loads(live.receive_text())
        assert pushed[0] == "EVENT" and pushed[2]["tags"].count(["m", root]) == 1
        held = wait_for_offer(client, lambda ev: ev.tag_values("m") == [root])
        assert held.created_at > first.created_at
        assert [ev.id for ev in offers(client)] == [held.id]  # the new offer replaced the old one

        response = client.delete(
            f"/{shard}", headers={"Authorization": blossom_header(publisher, "delete", shard)}
        )
        assert response.status_code == 200
        gone = wait_for_offer(client, lambda ev: ev.tag_values("m") == [])
        assert gone.created_at > held.created_at
        assert [ev.id for ev in offers(client)] == [gone.id]


def test_a_restart_keeps_the_offer_unless_its_terms_changed(tmp_path: Path, isolated_env: Path) -> None:
    extra = "ab" * 32
    with TestClient(create_app(make_settings(tmp_path, offer_models=[extra]))) as client:
        [before] = offers(client)
    assert before.tag_values("m") == [extra]
    with TestClient(create_app(make_settings(tmp_path, offer_models=[extra]))) as client:
        assert [ev.id for ev in offers(client)] == [before.id]
    with TestClient(create_app(make_settings(tmp_path, offer_models=[extra], price=7))) as client:
        [after] = offers(client)
    assert after.id != before.id and after.first_tag("price") == "7"
    assert after.created_at > before.created_at


def test_offer_models_must_be_model_roots(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGIHUB_RELAY_OFFER_MODELS", '["0xABAB"]')
    with pytest.raises(ConfigError, match="AGIHUB_RELAY_OFFER_MODELS"):
        load_settings(RelaySettings)
    monkeypatch.setenv("AGIHUB_RELAY_OFFER_MODELS", json.dumps(["0x" + "AB" * 32]))
    assert load_settings(RelaySettings).offer_models == ["ab" * 32]
