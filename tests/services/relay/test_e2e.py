"""A real websocket client (the ``websockets`` package) against the relay served by uvicorn."""

from __future__ import annotations

import asyncio
import hashlib
import json

import httpx
from websockets.asyncio.client import connect

from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import sign_event
from tests.services.relay.conftest import RunningRelay, blossom_header


async def _next(ws, wanted: str) -> list:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if message[0] == wanted:
            return message


async def _publish_and_subscribe(relay: RunningRelay) -> None:
    publisher, root = SecretKey.generate(), "cd" * 32
    async with connect(relay.ws_url) as sub, connect(relay.ws_url) as pub:
        challenge = (await _next(pub, "AUTH"))[1]
        await sub.send(json.dumps(["REQ", "models", {"kinds": [kinds.MODEL_VERSION], "#d": [root]}]))
        assert await _next(sub, "EOSE") == ["EOSE", "models"]
        announce = sign_event(
            publisher, kinds.MODEL_VERSION, '{"format":"safetensors"}', [["d", root], ["name", "tiny"]]
        )
        await pub.send(json.dumps(["EVENT", announce.to_dict()]))
        assert await _next(pub, "OK") == ["OK", announce.id, True, ""]
        assert await _next(sub, "EVENT") == ["EVENT", "models", announce.to_dict()]
        auth = sign_event(
            publisher, kinds.AUTH, "", [["relay", relay.ws_url + "/"], ["challenge", challenge]]
        )
        await pub.send(json.dumps(["AUTH", auth.to_dict()]))
        assert await _next(pub, "OK") == ["OK", auth.id, True, ""]
    async with connect(relay.ws_url) as late:
        await late.send(json.dumps(["REQ", "again", {"authors": [publisher.public_key.hex]}]))
        assert await _next(late, "EVENT") == ["EVENT", "again", announce.to_dict()]


def test_websockets_client_publishes_and_subscribes_end_to_end(relay_server: RunningRelay) -> None:
    asyncio.run(_publish_and_subscribe(relay_server))


def test_oversized_frame_over_the_wire_gets_a_notice(relay_server: RunningRelay) -> None:
    async def run() -> list:
        async with connect(relay_server.ws_url, max_size=None) as ws:
            await _next(ws, "AUTH")
            await ws.send(json.dumps(["REQ", "x", {"#t": ["y" * 9000]}]))
            return await _next(ws, "NOTICE")

    notice = asyncio.run(run())
    assert "max_message_length" in notice[1]


def test_blob_upload_nip11_and_stream_over_real_http(relay_server: RunningRelay) -> None:
    key, data = SecretKey.generate(), bytes(range(256)) * 40
    digest = hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=relay_server.http_url) as http:
        info = http.get("/", headers={"Accept": "application/nostr+json"})
        assert info.headers["content-type"].startswith("application/nostr+json")
        assert info.headers["access-control-allow-origin"] == "*"
        assert info.json()["limitation"]["max_message_length"] == relay_server.settings.max_message_length
        header = blossom_header(key, "upload", digest)
        assert http.put("/upload", content=data, headers={"Authorization": header}).status_code == 201
        assert http.get(f"/{digest}").content == data

    async def stream() -> bytes:
        parts: dict[int, bytes] = {}
        async with connect(f"{relay_server.ws_url}/stream/{digest}?from=2") as ws:
            json.loads(await ws.recv())
            while isinstance(frame := await ws.recv(), bytes):
                parts[int.from_bytes(frame[:4], "big")] = frame[4:]
        return b"".join(parts[i] for i in sorted(parts))

    assert asyncio.run(stream()) == data[2048:]
