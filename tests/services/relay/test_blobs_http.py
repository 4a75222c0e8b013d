"""The Blossom blob store over HTTP (BUD-01/02): uploads, ranges, deletes, lists and every refusal."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agihub.identity import SecretKey
from agihub_services.relay.app import create_app
from tests.services.relay.conftest import blossom_header, make_settings


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(client: TestClient, key: SecretKey, data: bytes, *hashes: str, **kw):
    header = blossom_header(key, "upload", *(hashes or (sha(data),)), **kw)
    return client.put(
        "/upload", content=data, headers={"Authorization": header, "Content-Type": "text/plain"}
    )


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_upload_get_head_range_list_delete(client: TestClient, key: SecretKey) -> None:
    data = os.urandom(5000)
    digest = sha(data)
    response = put(client, key, data)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "url": f"http://testserver/{digest}",
        "sha256": digest,
        "size": 5000,
        "type": "text/plain",
        "uploaded": response.json()["uploaded"],
    }
    assert client.get(f"/{digest}").content == data
    assert client.get(f"/{digest}.bin").content == data
    head = client.head(f"/{digest}")
    assert head.status_code == 200 and head.headers["content-length"] == "5000" and head.content == b""
    part = client.get(f"/{digest}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == "bytes 100-199/5000"
    assert client.get(f"/{digest}", headers={"Range": "bytes=-10"}).content == data[-10:]
    assert client.get(f"/{digest}", headers={"Range": "bytes=9000-"}).status_code == 416
    listed = client.get(f"/list/{key.public_key.hex}").json()
    assert [d["sha256"] for d in listed] == [digest]
    deleted = client.delete(f"/{digest}", headers={"Authorization": blossom_header(key, "delete", digest)})
    assert deleted.status_code == 200
    missing = client.get(f"/{digest}")
    assert missing.status_code == 404 and missing.json()["message"] == "no such blob"
    assert client.get(f"/list/{key.public_key.hex}").json() == []


def test_a_blob_shared_by_two_owners_survives_one_delete(client: TestClient) -> None:
    data, alice, bob = b"shared bytes", SecretKey.generate(), SecretKey.generate()
    assert put(client, alice, data).status_code == 201
    assert put(client, bob, data).status_code == 201
    assert (
        client.delete(
            f"/{sha(data)}", headers={"Authorization": blossom_header(alice, "delete", sha(data))}
        ).status_code
        == 200
    )
    assert client.get(f"/{sha(data)}").content == data
    again = client.delete(
        f"/{sha(data)}", headers={"Authorization": blossom_header(alice, "delete", sha(data))}
    )
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("token_args", "reason"),
    [
        ({"verb": "upload", "kind": 1}, "must be kind 24242"),
        ({"verb": "upload", "expires_in": -10}, "expired"),
        ({"verb": "upload", "created_at": int(time.time()) + 3600}, "in the future"),
        ({"verb": "get"}, "t tag must be 'upload'"),
        ({"verb": "upload", "hashes": ()}, "x tag"),
        ({"verb": "upload", "tags": [["t", "upload"]]}, "expiration"),
    ],
)
def test_bad_upload_tokens_are_refused_before_the_body(
    client: TestClient, key: SecretKey, token_args: dict, reason: str, settings
) -> None:
    data = b"payload"
    args = dict(token_args)
    verb, hashes = args.pop("verb"), args.pop("hashes", (sha(data),))
    header = blossom_header(key, verb, *hashes, **args)
    response = client.put("/upload", content=data, headers={"Authorization": header})
    assert response.status_code == 401
    assert reason in response.json()["message"] and reason in response.headers["x-reason"]
    assert client.get(f"/{sha(data)}").status_code == 404
    assert files_under(settings.effective_blob_dir) == []


def test_bad_signature_and_garbage_tokens_are_refused(client: TestClient, key: SecretKey) -> None:
    data = b"payload"
    import base64
    import json

    token = json.loads(base64.b64decode(blossom_header(key, "upload", sha(data)).split()[1]))
    token["sig"] = "00" * 64
    forged = "Nostr " + base64.b64encode(json.dumps(token).encode()).decode()
    for header in (forged, "Nostr !!!", "Bearer abc", ""):
        response = client.put("/upload", content=data, headers={"Authorization": header})
        assert response.status_code == 401, header
    assert (
        "signature"
        in client.put("/upload", content=data, headers={"Authorization": forged}).json()["message"]
    )
    assert client.get(f"/{sha(data)}").status_code == 404


def test_a_body_whose_hash_differs_from_x_is_never_stored(
    client: TestClient, key: SecretKey, settings
) -> None:
    response = put(client, key, b"the real bytes", sha(b"claimed bytes"))
    assert response.status_code == 400 and response.json()["error_code"] == "hash_mismatch"
    assert client.get(f"/{sha(b'the real bytes')}").status_code == 404
    assert client.get(f"/{sha(b'claimed bytes')}").status_code == 404
    assert files_under(settings.effective_blob_dir) == []


def test_oversized_upload_is_refused_with_413_before_the_body_is_read(
    client: TestClient, key: SecretKey, settings
) -> None:
    too_big = (1 << 20) + 1
    header = blossom_header(key, "upload", "ab" * 32)
    fake = client.put(
        "/upload", content=b"tiny", headers={"Authorization": header, "Content-Length": str(too_big)}
    )
    # The declared length alone decides: the 4 bytes actually sent were never consumed.
    assert fake.status_code == 413 and fake.json()["error_code"] == "payload_too_large"

    def chunks():
        for _ in range(17):
            yield b"z" * 65536

    streamed = client.put("/upload", content=chunks(), headers={"Authorization": header})
    assert streamed.status_code == 413
    assert files_under(settings.effective_blob_dir) == []


def test_quota_is_enforced_per_pubkey(client: TestClient, key: SecretKey) -> None:
    blobs = [os.urandom(1 << 20) for _ in range(4)]
    assert [put(client, key, b).status_code for b in blobs[:3]] == [201, 201, 201]
    over = put(client, key, blobs[3])
    assert over.status_code == 413 and over.json()["error_code"] == "quota_exceeded"
    assert put(client, SecretKey.generate(), blobs[3]).status_code == 201


def test_delete_with_several_x_tags_deletes_only_the_named_blob(client: TestClient, key: SecretKey) -> None:
    one, two = b"first blob", b"second blob"
    assert put(client, key, one).status_code == 201 and put(client, key, two).status_code == 201
    header = blossom_header(key, "delete", sha(one), sha(two))
    assert client.delete(f"/{sha(one)}", headers={"Authorization": header}).status_code == 200
    assert client.get(f"/{sha(one)}").status_code == 404
    assert client.get(f"/{sha(two)}").content == two


def test_delete_needs_a_delete_token_naming_the_blob(client: TestClient, key: SecretKey) -> None:
    data = b"keep me"
    assert put(client, key, data).status_code == 201
    get_token = blossom_header(key, "get", sha(data))
    refused = client.delete(f"/{sha(data)}", headers={"Authorization": get_token})
    assert refused.status_code == 401 and "t tag must be 'delete'" in refused.json()["message"]
    other = blossom_header(key, "delete", sha(b"something else"))
    assert client.delete(f"/{sha(data)}", headers={"Authorization": other}).status_code == 401
    stranger = blossom_header(SecretKey.generate(), "delete", sha(data))
    assert client.delete(f"/{sha(data)}", headers={"Authorization": stranger}).status_code == 404
    assert client.get(f"/{sha(data)}").content == data


def raw_get(port_or_client, target: str) -> int:
    """Send a request line verbatim (no client-side path normalisation) and return the status."""
    host, port = port_or_client
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = sock.recv(4096).decode(errors="replace")
    return int(reply.split()[1])


@pytest.mark.parametrize(
    "target",
    [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e%2fetc%2fpasswd",
        "/" + "AB" * 32,
        "/" + "g" * 64,
        "/" + "a" * 63,
        "/..%2f" + "a" * 64,
        "/tmp",
    ],
)
def test_traversal_and_malformed_hashes_never_leave_the_blob_root(target: str, relay_server) -> None:
    status = raw_get(relay_server.address, target)
    assert status in {400, 404}


def test_malformed_hash_is_a_400_with_a_message(client: TestClient) -> None:
    response = client.get("/" + "AB" * 32)
    assert response.status_code == 400 and "lower-case hex" in response.json()["message"]
    assert client.get("/list/nothex").status_code == 400


def test_get_requires_a_token_when_configured(tmp_path: Path, isolated_env: Path, key: SecretKey) -> None:
    settings = make_settings(tmp_path, auth_required_for_get=True)
    with TestClient(create_app(settings)) as client:
        data = b"private"
        assert put(client, key, data).status_code == 201
        assert client.get(f"/{sha(data)}").status_code == 401
        upload_token = blossom_header(key, "upload", sha(data))
        assert client.get(f"/{sha(data)}", headers={"Authorization": upload_token}).status_code == 401
        token = blossom_header(key, "get", sha(data))
        assert client.get(f"/{sha(data)}", headers={"Authorization": token}).content == data


def test_http_flood_from_one_address_is_rate_limited(tmp_path: Path, isolated_env: Path) -> None:
    settings = make_settings(tmp_path, rate_per_address=0.1, burst_per_address=5)
    with TestClient(create_app(settings)) as client:
        statuses = [client.get("/" + "ab" * 32).status_code for _ in range(8)]
        assert statuses[:5] == [404] * 5 and statuses[5:] == [429] * 3
        assert client.app.state.hub.address_limiter.allow("10.0.0.2")
