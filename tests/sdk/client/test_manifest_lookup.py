"""A model's signed manifest found on real relays by its root alone (Client.manifest, open, download).

Relays are not trusted: a relay serving altered bytes, a blob that is not a signed manifest, a manifest
of another model, or one signed by someone other than the announcer is named in a ManifestMismatch."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from agihub import AsyncClient
from agihub.blobs import BlobClient
from agihub.client import ManifestMismatch, ManifestNotFound
from agihub.client.manifests import MANIFEST_TAG, announce, announcement, find_manifest
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import sign_event
from agihub.storage import load_manifest
from agihub.storage.errors import StorageError
from tests.sdk.client.conftest import Stack
from tests.sdk.client.test_client_flow import OPTIONS
from tests.services.relay.conftest import RunningRelay


def _announce(relay: RunningRelay, key: SecretKey, root: str, blob: str) -> None:
    """A hand-made announcement of ``root`` naming ``blob`` as its manifest."""
    event = sign_event(key, kinds.MODEL_VERSION, "{}", [["d", root], ["name", "m"], [MANIFEST_TAG, blob]])
    assert announce(relay.ws_url, event) is None


def test_manifest_found_by_root_on_each_relay(stack: Stack) -> None:
    publisher = stack.client("admin")
    published = publisher.publish(stack.model(), options=OPTIONS, happiness=2)
    expected = load_manifest(published.package_dir / "manifest.json")
    assert published.failed == {}
    for relay in stack.relay_urls:  # each relay alone holds the announcement and the manifest blob
        found = stack.client(relays=[relay]).manifest(published.model_root.hex())
        assert found == expected and found.manifest_id == expected.manifest_id
    assert asyncio.run(AsyncClient(relays=stack.relay_urls).manifest(published.model_root)) == expected


def test_unknown_root_names_the_relays_asked(stack: Stack) -> None:
    with pytest.raises(ManifestNotFound) as info:
        stack.client().manifest("ab" * 32)
    message = str(info.value)
    assert "ab" * 32 in message and all(url in message for url in stack.relay_urls)
    assert "pass manifest=" in message and isinstance(info.value, StorageError)


def test_unreachable_relay_is_named(stack: Stack) -> None:
    from tests.sdk.transfer.transfer_kit import dead_url

    dead = dead_url().replace("http", "ws")
    with pytest.raises(ManifestNotFound, match="unreachable"):
        find_manifest(bytes(32), [dead], timeout=2)


def test_manifest_of_another_model_is_a_mismatch(stack: Stack) -> None:
    """An announcement of root A naming the (valid, signed) manifest of model B."""
    key = SecretKey.generate()
    other = stack.client("admin", identity=key, relays=[stack.relay_urls[0]]).publish(
        stack.model("b", seed=7), options=OPTIONS
    )
    blob = hashlib.sha256((other.package_dir / "manifest.json").read_bytes()).hexdigest()
    wanted = "cd" * 32
    _announce(stack.relays[0], key, wanted, blob)
    with pytest.raises(ManifestMismatch) as info:
        stack.client(relays=[stack.relay_urls[0]]).manifest(wanted)
    assert info.value.relay == stack.relay_urls[0]
    assert f"manifest for model {other.model_root.hex()} when {wanted} was asked" in str(info.value)


def test_manifest_signed_by_someone_else_is_a_mismatch(stack: Stack) -> None:
    published = stack.client("admin", relays=[stack.relay_urls[0]]).publish(
        stack.model("c", seed=8), options=OPTIONS
    )
    blob = hashlib.sha256((published.package_dir / "manifest.json").read_bytes()).hexdigest()
    impostor = SecretKey.generate()
    _announce(stack.relays[1], impostor, published.model_root.hex(), blob)  # relay 1 holds only this
    with BlobClient(stack.relays[1].http_url, impostor) as up:
        up.upload(published.package_dir / "manifest.json")
    with pytest.raises(
        ManifestMismatch, match=f"but the announcement was signed by {impostor.public_key.hex}"
    ):
        stack.client(relays=[stack.relay_urls[1]]).manifest(published.model_root)


def test_tampered_manifest_is_a_mismatch_naming_the_relay(stack: Stack, tmp_path: Path) -> None:
    """A blob announced as a manifest whose signature does not verify (one bit of the body changed)."""
    key = SecretKey.generate()
    published = stack.client("admin", identity=key, relays=[stack.relay_urls[1]]).publish(
        stack.model("d", seed=9), options=OPTIONS, out_dir=tmp_path / "pkg"
    )
    signed = load_manifest(published.package_dir / "manifest.json")
    forged = signed.model_copy(
        update={"signature": ("00" if signed.signature[:2] != "00" else "11") + signed.signature[2:]}
    )
    path = tmp_path / "forged.json"
    path.write_bytes(forged.to_bytes())
    relay = stack.relays[0]
    with BlobClient(relay.http_url, key) as up:
        up.upload(path)
    _announce(relay, key, signed.manifest.model_root, hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(ManifestMismatch, match="is not a valid signed manifest") as info:
        stack.client(relays=[relay.ws_url]).manifest(published.model_root)
    assert info.value.relay == relay.ws_url
    # with the honest relay asked too, the genuine manifest is found despite the forged one
    assert stack.client(relays=[relay.ws_url, stack.relay_urls[1]]).manifest(published.model_root) == signed


def test_relay_serving_altered_bytes_is_named(stack: Stack, tmp_path: Path) -> None:
    """A relay whose stored manifest bytes changed on disk serves them under the old hash."""
    relay = stack.relays[1]
    published = stack.client("admin", relays=[relay.ws_url]).publish(
        stack.model("e", seed=10), options=OPTIONS, out_dir=tmp_path / "pkg"
    )
    data = (published.package_dir / "manifest.json").read_bytes()
    blob = hashlib.sha256(data).hexdigest()
    stored = relay.server.config.app.state.blobs.path(blob)
    original = stored.read_bytes()
    try:
        altered = original.replace(b'"name":"e"', b'"name":"x"', 1)
        assert altered != original and len(altered) == len(original)
        stored.write_bytes(altered)
        with pytest.raises(ManifestMismatch, match=f"relay {relay.ws_url} served bytes hashing to"):
            stack.client(relays=[relay.ws_url]).manifest(published.model_root)
    finally:
        stored.write_bytes(original)


def test_announcement_carries_the_manifest_blob(stack: Stack) -> None:
    key = SecretKey.generate()
    published = stack.client("admin", identity=key, relays=[stack.relay_urls[0]]).publish(
        stack.model("f", seed=11), name="tiny-f", options=OPTIONS
    )
    signed = load_manifest(published.package_dir / "manifest.json")
    event = announcement(key, signed)
    assert event.d_tag == published.model_root.hex() and event.first_tag("name") == "tiny-f"
    assert event.first_tag(MANIFEST_TAG) == hashlib.sha256(signed.to_bytes()).hexdigest()
    assert event.first_tag("shards") == str(OPTIONS.n) and event.pubkey == key.public_key.hex
    from agihub.discovery import model_versions

    [version] = model_versions(stack.relay_urls[0], model_root=published.model_root.hex())
    assert version.publisher == key.public_key.hex and version.name == "tiny-f"
