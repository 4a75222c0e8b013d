"""Event kinds: NIP-01's classes (regular, replaceable, ephemeral, addressable) and agihub's own kinds.

agihub kinds are in the parameterized-replaceable ("addressable") range 30000-39999, so a relay keeps
only the newest event per ``(kind, pubkey, d)``. Their tags are documented in README.md and validated
here, so a malformed announcement is refused at the relay instead of confusing every client.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from agihub.nostr.event import Event, InvalidEvent, is_hex64, sign_event

if TYPE_CHECKING:
    from agihub.identity import SecretKey
    from agihub.storage.manifest import SignedManifest

#: A model version: ``d`` = model_root hex; published by the model's publisher. Its optional ``x``
#: tag (MANIFEST_TAG) is the sha256 of the signed manifest.json, the blob a buyer fetches by root.
MODEL_VERSION = 31337
MANIFEST_TAG = "x"
#: A relay offer: ``d`` = the relay's Nostr pubkey hex; published by the relay itself.
RELAY_OFFER = 31338
#: A repository head: ``d`` = repository name; ``branch``, ``c`` = head commit id, ``x`` = sha256 of the
#: head blob listing the branch's commits (written by agigit push, see agihub.agigit.heads).
REPO_HEAD = 31339
#: NIP-42 client authentication (never stored).
AUTH = 22242
#: Blossom authorization token (BUD-01/02; sent in an HTTP header, never stored).
BLOSSOM_AUTH = 24242


def is_replaceable(kind: int) -> bool:
    """NIP-01: kinds 0, 3 and 10000-19999 keep only the newest event per (pubkey, kind)."""
    return kind in (0, 3) or 10_000 <= kind < 20_000


def is_ephemeral(kind: int) -> bool:
    """NIP-01: kinds 20000-29999 are relayed to live subscribers and never stored."""
    return 20_000 <= kind < 30_000


def is_addressable(kind: int) -> bool:
    """NIP-01: kinds 30000-39999 keep only the newest event per (pubkey, kind, ``d`` tag)."""
    return 30_000 <= kind < 40_000


def validate_agihub_event(event: Event) -> None:
    """Check the tags of agihub kinds; other kinds pass untouched."""
    if event.kind == MODEL_VERSION:
        _check_model_version(event)
    elif event.kind == RELAY_OFFER:
        _check_relay_offer(event)
    elif event.kind == REPO_HEAD:
        _check_repo_head(event)


def model_version(
    key: SecretKey,
    model_root: str,
    name: str,
    *,
    metadata: str = "{}",
    parent: str | None = None,
    size: int | None = None,
    shards: int | None = None,
    topics: tuple[str, ...] = (),
    manifest_blob: str | None = None,
) -> Event:
    """Sign a model-version announcement (kind 31337) as the publisher ``key``."""
    tags = [["d", model_root], ["name", name]]
    tags += [["parent", parent]] if parent else []
    tags += [["size", str(size)]] if size is not None else []
    tags += [["shards", str(shards)]] if shards is not None else []
    tags += [["t", topic] for topic in topics]
    tags += [[MANIFEST_TAG, manifest_blob]] if manifest_blob is not None else []
    event = sign_event(key, MODEL_VERSION, metadata, tags)
    validate_agihub_event(event)
    return event


def manifest_announcement(key: SecretKey, signed: SignedManifest) -> Event:
    """The model-version announcement of a signed package: root, name, parent, size, shard count and
    the ``x`` tag naming its manifest blob; the content is the manifest's card as JSON."""
    body = signed.manifest
    return model_version(
        key,
        body.model_root,
        body.card.name,
        metadata=json.dumps(body.card.model_dump(mode="json", exclude_none=True), sort_keys=True),
        parent=body.payload.parent_root,
        size=body.payload.size,
        shards=len(body.shards),
        manifest_blob=hashlib.sha256(signed.to_bytes()).hexdigest(),
    )


def relay_offer(
    key: SecretKey,
    endpoint: str,
    model_roots: list[str],
    price: int | None = None,
    *,
    created_at: int | None = None,
) -> Event:
    """Sign the relay's offer (kind 31338): where it is, which models it holds, at what price.

    ``created_at`` (default: now) lets a relay that republishes within one second keep its offers
    strictly increasing, so the newest one wins replacement (NIP-01 breaks ties by the lower id).
    """
    tags = [["d", key.public_key.hex], ["endpoint", endpoint]]
    tags += [["m", root] for root in model_roots]
    tags += [["price", str(price)]] if price is not None else []
    event = sign_event(key, RELAY_OFFER, "", tags, created_at=created_at)
    validate_agihub_event(event)
    return event


def _check_model_version(event: Event) -> None:
    if not is_hex64(event.first_tag("d")):
        raise InvalidEvent("model version: d tag must be the model_root as 64 lower-case hex characters")
    if not event.first_tag("name"):
        raise InvalidEvent("model version: name tag is required")
    parent = event.first_tag("parent")
    if parent is not None and not is_hex64(parent):
        raise InvalidEvent("model version: parent tag must be 64 lower-case hex characters")
    blob = event.first_tag(MANIFEST_TAG)
    if blob is not None and not is_hex64(blob):
        raise InvalidEvent(
            "model version: x tag must be the manifest's sha256 as 64 lower-case hex characters"
        )
    _check_sizes(event, "size", "shards")


def _check_relay_offer(event: Event) -> None:
    if event.first_tag("d") != event.pubkey:
        raise InvalidEvent("relay offer: d tag must equal the relay's pubkey")
    endpoint = event.first_tag("endpoint") or ""
    if not endpoint.startswith(("ws://", "wss://", "http://", "https://")):
        raise InvalidEvent("relay offer: endpoint tag must be a ws(s):// or http(s):// URL")
    if not all(is_hex64(root) for root in event.tag_values("m")):
        raise InvalidEvent("relay offer: every m tag must be a model_root as 64 lower-case hex characters")
    _check_sizes(event, "price")


def _check_sizes(event: Event, *names: str) -> None:
    for name in names:
        value = event.first_tag(name)
        if value is not None and not (value.isdigit() and value.isascii()):
            raise InvalidEvent(f"{event.kind}: {name} tag must be a non-negative decimal integer")


def _check_repo_head(event: Event) -> None:
    if not event.first_tag("d"):
        raise InvalidEvent("repository head: d tag (the repository name) is required")
    if not event.first_tag("branch"):
        raise InvalidEvent("repository head: branch tag is required")
    for name in ("c", "x"):
        if not is_hex64(event.first_tag(name)):
            raise InvalidEvent(f"repository head: {name} tag must be 64 lower-case hex characters")
