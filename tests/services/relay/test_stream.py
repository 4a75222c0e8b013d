"""Websocket chunk streaming of a blob, resumable from a chunk index."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agihub.identity import SecretKey
from agihub_services.relay.app import create_app
from tests.services.relay.conftest import blossom_header, make_settings


def upload(client: TestClient, key: SecretKey, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    header = blossom_header(key, "upload", digest)
    assert client.put("/upload", content=data, headers={"Authorization": header}).status_code == 201
    return digest


def read_stream(ws) -> tuple[dict, dict[int, bytes], dict]:
    header = json.loads(ws.receive_text())
    chunks: dict[int, bytes] = {}
    while True:
        message = ws.receive()
        if message.get("text") is not None:
            return header, chunks, json.loads(message["text"])
        frame = message["bytes"]
        chunks[int.from_bytes(frame[:4], "big")] = frame[4:]


def test_stream_whole_blob_and_resume_from_a_chunk(client: TestClient, key: SecretKey) -> None:
    data = os.urandom(1024 * 5 + 17)
    digest = upload(client, key, data)
    with client.websocket_connect(f"/stream/{digest}") as ws:
        header, chunks, done = read_stream(ws)
    assert header == {"sha256": digest, "size": len(data), "chunk_size": 1024, "chunks": 6, "from": 0}
    assert done == {"done": True}
    assert b"".join(chunks[i] for i in range(6)) == data
    with client.websocket_connect(f"/stream/{digest}?from=4") as ws:
        header, chunks, _ = read_stream(ws)
    assert header["from"] == 4 and sorted(chunks) == [4, 5]
    assert chunks[4] + chunks[5] == data[4096:]


def test_an_interrupted_stream_resumes_to_the_exact_bytes(client: TestClient, key: SecretKey) -> None:
    data = os.urandom(1024 * 8)
    digest = upload(client, key, data)
    received: dict[int, bytes] = {}
    with client.websocket_connect(f"/stream/{digest}") as ws:
        json.loads(ws.receive_text())
        for _ in range(3):
            frame = ws.receive_bytes()
            received[int.from_bytes(frame[:4], "big")] = frame[4:]
    with client.websocket_connect(f"/stream/{digest}?from={len(received)}") as ws:
        _, rest, _ = read_stream(ws)
    received.update(rest)
    assert hashlib.sha256(b"".join(received[i] for i in sorted(received))).hexdigest() == digest


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/stream/" + "ab" * 32, "not_found"),
        ("/stream/" + "AB" * 32, "invalid_hash"),
        ("/stream/%2e%2e", "invalid_hash"),
        ("/stream/{digest}?from=-1", "bad_request"),
        ("/stream/{digest}?from=99", "range_not_satisfiable"),
    ],
)
def test_bad_stream_requests_get_an_error_frame(
    client: TestClient, key: SecretKey, path: str, code: str
) -> None:
    digest = upload(client, key, b"x" * 3000)
    with client.websocket_connect(path.format(digest=digest)) as ws:
        assert json.loads(ws.receive_text())["error_code"] == code
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008


def test_stream_requires_a_get_token_when_configured(
    tmp_path: Path, isolated_env: Path, key: SecretKey
) -> None:
    with TestClient(create_app(make_settings(tmp_path, auth_required_for_get=True))) as client:
        digest = upload(client, key, b"secret" * 500)
        with client.websocket_connect(f"/stream/{digest}") as ws:
            assert json.loads(ws.receive_text())["error_code"] == "unauthorized"
        wrong = quote(blossom_header(key, "get", "ab" * 32).split()[1], safe="")
        with client.websocket_connect(f"/stream/{digest}?auth={wrong}") as ws:
            assert "x tags do not include" in json.loads(ws.receive_text())["message"]
        token = quote(blossom_header(key, "get", digest).split()[1], safe="")
        with client.websocket_connect(f"/stream/{digest}?auth={token}") as ws:
            _, chunks, _ = read_stream(ws)
        assert b"".join(chunks[i] for i in sorted(chunks)) == b"secret" * 500
