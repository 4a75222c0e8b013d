"""A model's signed manifest, found on relays from its root alone.

Why: a buyer knows the root it ordered (the chain holds it) but not the manifest's blob id, and relays
store blobs by sha256 only. So :meth:`agihub.Client.publish` announces each version it pushes as a
kind-31337 event (``d`` = the model root, signed by the publisher, see
``services/src/agihub_services/relay/README.md``) with one extra tag, ``["x", <sha256 of
manifest.json>]``, naming the manifest blob it uploaded beside the shards. :func:`find_manifest`
asks each relay for the announcements of a root, downloads the named blob from any of the relays and
trusts nothing it got: the bytes must hash to the announced id, parse as a canonical manifest whose
BIP-340 signature verifies, carry the root asked for and be signed by the announcement's author.
A relay failing one of these is named in a :class:`~agihub.client.core.ManifestMismatch`.

Announcements without an ``x`` tag (made by other tools) name no manifest and are skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence

import httpx
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from agihub import discovery
from agihub.client.core import ManifestMismatch, ManifestNotFound, check_found_manifest
from agihub.errors import StorageError
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import Event
from agihub.storage import SignedManifest, parse_manifest
from agihub.storage.manifest import MAX_MANIFEST_SIZE
from agihub.transfer import http_base
from agihub.transfer.relays import ws_url

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_TAG", "announce", "announcement", "find_manifest", "ws_url"]

#: The tag of a model-version announcement naming the manifest blob (sha256 of manifest.json).
MANIFEST_TAG = kinds.MANIFEST_TAG


def announcement(key: SecretKey, signed: SignedManifest) -> Event:
    """The kind-31337 announcement of ``signed``: root, name, parent, size, shard count and the
    ``x`` tag naming its manifest blob; the content is the manifest's card as JSON."""
    return kinds.manifest_announcement(key, signed)


def announce(url: str, event: Event, timeout: float = 10.0) -> str | None:
    """Send ``event`` to the relay at ``url``; None once it is stored, else the relay's reason."""
    try:
        with connect(ws_url(url), open_timeout=timeout, close_timeout=2) as ws:
            ws.send(json.dumps(["EVENT", event.to_dict()]))
            while True:
                message = json.loads(ws.recv(timeout=timeout))
                if isinstance(message, list) and message[:2] == ["OK", event.id]:
                    if message[2:3] == [True]:
                        return None
                    return str(message[3] if len(message) > 3 else "refused")
                if isinstance(message, list) and message[:1] == ["NOTICE"]:
                    return f"notice: {message[1:]}"
    except (OSError, TimeoutError, ValueError, WebSocketException) as exc:
        return f"{type(exc).__name__}: {exc}"


def find_manifest(model_root: bytes, relays: Sequence[str], *, timeout: float = 10.0) -> SignedManifest:
    """The signed manifest of ``model_root`` from the first relay that announces it and serves it.

    Raises :class:`ManifestMismatch` (naming the relay) when the only manifests found are wrong,
    :class:`ManifestNotFound` when no relay announces one.
    """
    root_hex = model_root.hex()
    urls = list(dict.fromkeys(relays))
    mismatches: list[ManifestMismatch] = []
    unreachable: list[str] = []
    announced = 0
    for url in urls:
        try:
            events = asyncio.run(
                discovery.fetch_events(
                    ws_url(url), [{"kinds": [kinds.MODEL_VERSION], "#d": [root_hex]}], timeout=timeout
                )
            )
        except discovery.DiscoveryError as exc:
            unreachable.append(f"{url} ({exc})")
            continue
        for event in discovery.newest(events):
            blob = event.first_tag(MANIFEST_TAG)
            if event.d_tag != root_hex or blob is None:
                continue
            announced += 1
            for holder in [url, *(u for u in urls if u != url)]:  # the announcing relay first
                try:
                    signed = _fetch(holder, blob, model_root, event.pubkey, timeout)
                except ManifestMismatch as exc:
                    mismatches.append(exc)
                    continue
                if signed is not None:
                    return signed
    if mismatches:
        raise mismatches[0]
    where = ", ".join(urls) or "no relays (configure relays= or AGIHUB_RELAYS)"
    detail = f"; unreachable: {'; '.join(unreachable)}" if unreachable else ""
    found = (
        f"{announced} announcement(s) name a manifest no relay serves" if announced else "none announces it"
    )
    raise ManifestNotFound(
        f"no signed manifest of model {root_hex} on the relays asked ({where}): {found}{detail}. "
        "Ask a relay the publisher used (relays=), or pass manifest= (the publisher's manifest.json)"
    )


def _fetch(url: str, blob: str, model_root: bytes, publisher: str, timeout: float) -> SignedManifest | None:
    """The checked manifest at blob ``blob`` on ``url``; None when the relay does not hold it."""
    try:
        with httpx.Client(base_url=http_base(url), timeout=timeout) as http:
            response = http.get(f"/{blob}")
    except httpx.HTTPError as exc:
        log.info("relay %s unreachable for manifest %s: %s", url, blob, exc)
        return None
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        log.info("relay %s answered %s for manifest %s", url, response.status_code, blob)
        return None
    data = response.content
    if len(data) > MAX_MANIFEST_SIZE:
        raise ManifestMismatch(
            f"relay {url} served {len(data)} bytes as manifest blob {blob}: larger than any manifest", url
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != blob:
        raise ManifestMismatch(
            f"relay {url} served bytes hashing to {digest} as blob {blob}: it altered the manifest", url
        )
    try:
        signed = parse_manifest(data)
    except StorageError as exc:
        raise ManifestMismatch(
            f"relay {url}: blob {blob}, announced as the manifest of {model_root.hex()}, is not a valid "
            f"signed manifest ({exc}); use another relay or pass manifest=",
            url,
        ) from exc
    check_found_manifest(signed, model_root, url, publisher=publisher)
    return signed
