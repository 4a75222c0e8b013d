"""The NIP-01 websocket protocol through the ASGI app (Starlette TestClient), good and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import InvalidEvent, sign_event
from agihub_services.relay.app import create_app
from agihub_services.relay.filters import Filter
from tests.services.relay.conftest import PUBLIC_URL, challenge_of, make_settings, note, recv_until


def publish(ws, obj: object) -> list:
    ws.send_text(json.dumps(["EVENT", obj]))
    return json.loads(ws.receive_text())


def query(ws, sub: str, *filters: dict) -> list:
    ws.send_text(json.dumps(["REQ", sub, *filters]))
    return recv_until(ws, "EOSE")


def stored_count(client: TestClient) -> int:
    """Events stored from clients (the relay's own offer, kind 31338, is not counted)."""
    own = Filter(authors=frozenset({client.app.state.pubkey}), limit=None)
    return client.app.state.hub.store.count() - len(client.app.state.hub.store.query([own]))


def test_publish_then_query_returns_the_event(client: TestClient, key: SecretKey) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ev = note(key, "hello", tags=[["t", "agihub"]])
        assert publish(ws, ev.to_dict()) == ["OK", ev.id, True, ""]
        assert publish(ws, ev.to_dict()) == ["OK", ev.id, True, "duplicate: already have this event"]
        got = query(ws, "s1", {"authors": [key.public_key.hex], "#t": ["agihub"]})
        assert got == [["EVENT", "s1", ev.to_dict()], ["EOSE", "s1"]]
        assert query(ws, "s2", {"#t": ["other"]}) == [["EOSE", "s2"]]


def test_live_subscribers_receive_new_events_and_close_stops_them(client: TestClient, key: SecretKey) -> None:
    with client.websocket_connect("/") as sub, client.websocket_connect("/") as pub:
        challenge_of(sub), challenge_of(pub)
        assert query(sub, "live", {"kinds": [1]}) == [["EOSE", "live"]]
        ev = note(key, "live one")
        assert publish(pub, ev.to_dict())[2] is True
        assert json.loads(sub.receive_text()) == ["EVENT", "live", ev.to_dict()]
        sub.send_text(json.dumps(["CLOSE", "live"]))
        eph = sign_event(key, 20001, "ephemeral")
        assert publish(pub, eph.to_dict()) == ["OK", eph.id, True, ""]
        assert query(sub, "check", {"kinds": [1, 20001]}) == [
            ["EVENT", "check", ev.to_dict()],
            ["EOSE", "check"],
        ]


def test_invalid_signature_and_wrong_id_are_refused_and_not_stored(
    client: TestClient, key: SecretKey
) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        bad_sig = {**note(key).to_dict(), "sig": note(key, "other").sig}
        answer = publish(ws, bad_sig)
        assert answer[:3] == ["OK", bad_sig["id"], False] and answer[3].startswith("invalid: signature")
        wrong_id = {**note(key).to_dict(), "content": "tampered"}
        assert publish(ws, wrong_id)[3].startswith("invalid: event id does not match")
        wrong_type = {**note(key).to_dict(), "kind": "1"}
        assert publish(ws, wrong_type)[3].startswith("invalid: kind must be")
    assert stored_count(client) == 0


@pytest.mark.parametrize(
    "frame",
    ["not json", "{}", "[]", "[1,2]", '["NOPE"]', '["EVENT"]', '["CLOSE"]', '["REQ"]', '["REQ", 5, {}]'],
)
def test_malformed_messages_get_a_notice(client: TestClient, frame: str) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ws.send_text(frame)
        answer = json.loads(ws.receive_text())
        assert answer[0] == "NOTICE" and answer[1].startswith("invalid:")
    assert stored_count(client) == 0


def test_a_frame_one_byte_over_the_advertised_maximum_is_refused(client: TestClient, key: SecretKey) -> None:
    limit = client.get("/", headers={"Accept": "application/nostr+json"}).json()["limitation"]
    maximum = limit["max_message_length"]

    def frame_of_length(length: int) -> tuple[str, str]:
        pad = 0
        while True:
            ev = note(key, "x" * pad, created_at=1700000000)
            text = json.dumps(["EVENT", ev.to_dict()], separators=(",", ":"))
            if len(text) >= length:
                break
            pad += length - len(text)
        return text, ev.id

    big_settings = client.app.state.settings
    big_settings.max_content_length = maximum  # isolate the frame limit from the content limit
    at_limit, ok_id = frame_of_length(maximum)
    assert len(at_limit.encode()) == maximum
    over, over_id = frame_of_length(maximum + 1)
    assert len(over.encode()) == maximum + 1
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ws.send_text(at_limit)
        assert json.loads(ws.receive_text()) == ["OK", ok_id, True, ""]
        ws.send_text(over)
        answer = json.loads(ws.receive_text())
        assert answer[0] == "NOTICE" and "max_message_length" in answer[1]
        assert query(ws, "q", {"ids": [over_id]}) == [["EOSE", "q"]]


def test_too_many_tags_and_too_long_content_are_refused(client: TestClient, key: SecretKey) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ev = note(key, tags=[["t", str(i)] for i in range(11)])
        assert publish(ws, ev.to_dict()) == [
            "OK",
            ev.id,
            False,
            "invalid: event has 11 tags; max_event_tags is 10",
        ]
        ok = note(key, tags=[["t", str(i)] for i in range(10)])
        assert publish(ws, ok.to_dict())[2] is True
        long = note(key, "y" * 2001)
        assert publish(ws, long.to_dict())[3].startswith("invalid: content exceeds")
    assert stored_count(client) == 1


def test_created_at_too_far_in_the_future_is_refused(client: TestClient, key: SecretKey) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        future = note(key, created_at=int(time.time()) + 3600)
        assert publish(ws, future.to_dict())[3].startswith("invalid: created_at is more than")
        near = note(key, created_at=int(time.time()) + 60)
        assert publish(ws, near.to_dict())[2] is True
    assert stored_count(client) == 1


def test_too_many_subscriptions_and_filters_are_closed(client: TestClient) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        for i in range(4):
            assert query(ws, f"s{i}", {"kinds": [1]}) == [["EOSE", f"s{i}"]]
        assert query(ws, "s0", {"kinds": [2]}) == [["EOSE", "s0"]]  # replacing an id is not a new one
        ws.send_text(json.dumps(["REQ", "s4", {"kinds": [1]}]))
        assert json.loads(ws.receive_text()) == ["CLOSED", "s4", "blocked: max_subscriptions is 4"]
        ws.send_text(json.dumps(["CLOSE", "s3"]))
        assert query(ws, "s4", {"kinds": [1]}) == [["EOSE", "s4"]]
        ws.send_text(json.dumps(["REQ", "many", {}, {}, {}, {}]))
        answer = json.loads(ws.receive_text())
        assert answer[:2] == ["CLOSED", "many"] and "max_filters" in answer[2]
        ws.send_text(json.dumps(["REQ", "x" * 65, {}]))
        assert json.loads(ws.receive_text())[0] == "CLOSED"


@pytest.mark.parametrize(
    "flt",
    [{"ids": ["ABC"]}, {"kinds": ["1"]}, {"since": -5}, {"limit": "3"}, {"#tag": ["x"]}, {"bogus": 1}, []],
)
def test_malformed_filters_are_closed_with_invalid(client: TestClient, flt: object) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ws.send_text(json.dumps(["REQ", "bad", flt]))
        answer = json.loads(ws.receive_text())
        assert answer[:2] == ["CLOSED", "bad"] and answer[2].startswith("invalid:")


def test_a_filter_asking_for_more_than_max_limit_is_clamped(client: TestClient, key: SecretKey) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        events = [note(key, f"n{i}", created_at=1700000000 + i) for i in range(8)]
        for ev in events:
            assert publish(ws, ev.to_dict())[2] is True
        got = query(ws, "all", {"kinds": [1], "limit": 1000})
        newest_first = [ev.to_dict() for ev in reversed(events)][:5]
        assert got == [*[["EVENT", "all", e] for e in newest_first], ["EOSE", "all"]]
        assert len(query(ws, "default", {"kinds": [1]})) == 3 + 1  # default_limit, then EOSE
        assert query(ws, "none", {"kinds": [1], "limit": 0}) == [["EOSE", "none"]]


def auth_event(key: SecretKey, real_challenge: str, **kw: object) -> dict:
    tags = [["relay", kw.get("relay", PUBLIC_URL)], ["challenge", kw.get("challenge", real_challenge)]]
    return sign_event(key, kw.get("kind", kinds.AUTH), "", tags, created_at=kw.get("created_at")).to_dict()


@pytest.fixture
def auth_client(tmp_path: Path, isolated_env: Path):
    with TestClient(create_app(make_settings(tmp_path, auth_required=True))) as test_client:
        yield test_client


def test_auth_required_for_writes_and_accepted_after_auth(auth_client: TestClient, key: SecretKey) -> None:
    with auth_client.websocket_connect("/") as ws:
        challenge = challenge_of(ws)
        ev = note(key)
        assert publish(ws, ev.to_dict())[3].startswith("auth-required:")
        auth = auth_event(key, challenge, relay=PUBLIC_URL + "/")
        ws.send_text(json.dumps(["AUTH", auth]))
        assert json.loads(ws.receive_text()) == ["OK", auth["id"], True, ""]
        assert publish(ws, ev.to_dict()) == ["OK", ev.id, True, ""]
        other = note(SecretKey.generate())
        assert publish(ws, other.to_dict())[3].startswith("auth-required:")
    assert stored_count(auth_client) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kind": 1}, "must be kind 22242"),
        ({"challenge": "0" * 32}, "challenge tag does not match"),
        ({"relay": "ws://evil.example"}, "relay tag must be"),
        ({"created_at": 1_000_000}, "created_at is more than"),
    ],
)
def test_bad_auth_is_refused(auth_client: TestClient, key: SecretKey, change: dict, reason: str) -> None:
    with auth_client.websocket_connect("/") as ws:
        challenge = challenge_of(ws)
        auth = auth_event(key, challenge, **change)
        ws.send_text(json.dumps(["AUTH", auth]))
        answer = json.loads(ws.receive_text())
        assert answer[:3] == ["OK", auth["id"], False] and reason in answer[3]
        assert publish(ws, note(key).to_dict())[3].startswith("auth-required:")
    assert stored_count(auth_client) == 0


def test_auth_replayed_on_a_new_connection_is_refused(auth_client: TestClient, key: SecretKey) -> None:
    with auth_client.websocket_connect("/") as first:
        auth = auth_event(key, challenge_of(first))
        first.send_text(json.dumps(["AUTH", auth]))
        assert json.loads(first.receive_text())[2] is True
    with auth_client.websocket_connect("/") as second:
        challenge_of(second)
        second.send_text(json.dumps(["AUTH", auth]))
        answer = json.loads(second.receive_text())
        assert answer[2] is False and "challenge" in answer[3]
        assert publish(second, note(key).to_dict())[3].startswith("auth-required:")


def test_a_flooding_pubkey_is_rate_limited_while_others_are_served(
    tmp_path: Path, isolated_env: Path
) -> None:
    settings = make_settings(tmp_path, rate_per_pubkey=0.5, burst_per_pubkey=5)
    flooder, other = SecretKey.generate(), SecretKey.generate()
    with TestClient(create_app(settings)) as client, client.websocket_connect("/") as a:
        challenge_of(a)
        answers = [publish(a, note(flooder, f"f{i}").to_dict()) for i in range(20)]
        assert sum(x[2] for x in answers) == 5
        assert all(x[3].startswith("rate-limited:") for x in answers[5:])
        with client.websocket_connect("/") as b:
            challenge_of(b)
            assert publish(b, note(other, "still served").to_dict())[2] is True
        assert stored_count(client) == 6


def test_a_flooding_address_is_rate_limited(tmp_path: Path, isolated_env: Path) -> None:
    settings = make_settings(tmp_path, rate_per_address=0.5, burst_per_address=10)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/") as ws:
        challenge_of(ws)
        for i in range(10):
            assert query(ws, f"s{i % 3}", {"kinds": [1]})[-1][0] == "EOSE"
        ws.send_text(json.dumps(["REQ", "x", {}]))
        assert json.loads(ws.receive_text())[1].startswith("rate-limited:")
        limiter = client.app.state.hub.address_limiter
        assert limiter.allow("another-address")


def test_agihub_kinds_are_validated(client: TestClient, key: SecretKey) -> None:
    root = "ab" * 32
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        bad = sign_event(key, kinds.MODEL_VERSION, "", [["d", "not-hex"], ["name", "m"]])
        assert publish(ws, bad.to_dict())[3].startswith("invalid: model version: d tag")
        no_blob = sign_event(
            key, kinds.MODEL_VERSION, "", [["d", root], ["name", "m"], ["x", "manifest.json"]]
        )
        assert publish(ws, no_blob.to_dict())[3].startswith("invalid: model version: x tag")
        good = sign_event(key, kinds.MODEL_VERSION, "{}", [["d", root], ["name", "m"], ["size", "10"]])
        assert publish(ws, good.to_dict())[2] is True
        offer = sign_event(
            key, kinds.RELAY_OFFER, "", [["d", "cd" * 32], ["endpoint", "wss://r"], ["m", root]]
        )
        assert publish(ws, offer.to_dict())[3] == "invalid: relay offer: d tag must equal the relay's pubkey"
        head = [["d", "repo"], ["branch", "master"], ["c", root], ["x", "ef" * 32]]
        broken = sign_event(key, kinds.REPO_HEAD, "", [*head[:2], ["c", "HEAD"], head[3]])
        assert (
            publish(ws, broken.to_dict())[3]
            == "invalid: repository head: c tag must be 64 lower-case hex characters"
        )
        assert publish(ws, sign_event(key, kinds.REPO_HEAD, "", head).to_dict())[2] is True
    assert stored_count(client) == 2


def test_binary_frames_get_a_notice(client: TestClient) -> None:
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        ws.send_bytes(b'["REQ","x",{}]')
        answer = json.loads(ws.receive_text())
        assert answer[0] == "NOTICE" and answer[1].startswith("invalid:")


def test_mutated_events_over_the_wire_are_refused_and_never_stored(
    client: TestClient, key: SecretKey
) -> None:
    import random

    from tests.services.relay.test_events import _mutate

    rng = random.Random(7)
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        for i in range(50):
            obj = _mutate(note(key, f"m{i}", tags=[["t", "a"]]).to_dict(), rng)
            answer = publish(ws, obj)
            assert answer[0] == "OK" and answer[2] is False and answer[3].startswith("invalid:")
    assert stored_count(client) == 0


def test_agihub_kind_builders_produce_events_the_relay_accepts(client: TestClient, key: SecretKey) -> None:
    root = "ef" * 32
    version = kinds.model_version(key, root, "tiny", parent="01" * 32, size=10, shards=3, topics=("llm",))
    offer = kinds.relay_offer(key, "wss://relay.example", [root], price=5)
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        assert publish(ws, version.to_dict())[2] is True
        assert publish(ws, offer.to_dict())[2] is True
        got = query(ws, "m", {"kinds": [kinds.RELAY_OFFER], "#m": [root]})
        assert got == [["EVENT", "m", offer.to_dict()], ["EOSE", "m"]]
    with pytest.raises(InvalidEvent, match="d tag"):
        kinds.model_version(key, "nothex", "bad")


def test_a_subscriber_too_slow_to_drain_its_queue_is_cut_off(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agihub_services.relay import ws as ws_module

    monkeypatch.setattr(ws_module, "SEND_QUEUE_MAX", 3)
    conn = ws_module.Connection(client.app.state.hub, "10.0.0.9")
    conn.subscriptions["s"] = []
    for i in range(4):
        conn.send("NOTICE", str(i))
    assert conn.too_slow and conn.subscriptions == {}
    assert conn.outbox.qsize() == 3


def test_the_relay_runs_on_each_database(database_url: str, tmp_path: Path, isolated_env: Path) -> None:
    settings = make_settings(tmp_path, relay_database_url=database_url)
    key = SecretKey.generate()
    with TestClient(create_app(settings)) as client, client.websocket_connect("/") as ws:
        challenge_of(ws)
        first = sign_event(key, 30001, "v1", [["d", "list"]], created_at=1_700_000_000)
        second = sign_event(key, 30001, "v2", [["d", "list"]], created_at=1_700_000_001)
        assert publish(ws, first.to_dict())[2] is True
        assert publish(ws, second.to_dict())[2] is True
        assert publish(ws, first.to_dict())[2] is False
        got = query(ws, "q", {"kinds": [30001], "authors": [key.public_key.hex]})
        assert got == [["EVENT", "q", second.to_dict()], ["EOSE", "q"]]
        assert stored_count(client) == 1


def test_pipelined_events_are_all_answered_and_visible_to_a_following_req(
    client: TestClient, key: SecretKey
) -> None:
    events = [note(key, f"p{i}", created_at=1_700_000_000 + i) for i in range(30)]
    with client.websocket_connect("/") as ws:
        challenge_of(ws)
        for ev in events:
            ws.send_text(json.dumps(["EVENT", ev.to_dict()]))
        ws.send_text(json.dumps(["REQ", "after", {"authors": [key.public_key.hex], "limit": 5}]))
        seen = recv_until(ws, "EOSE", limit=100)
    oks = {m[1]: m[2] for m in seen if m[0] == "OK"}
    assert oks == {ev.id: True for ev in events}
    got = [m[2]["id"] for m in seen if m[0] == "EVENT"]
    assert got == [ev.id for ev in reversed(events)][:5]
