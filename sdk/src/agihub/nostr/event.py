"""Nostr events (NIP-01): the wire model, the canonical id, the signature check and validation.

https://github.com/nostr-protocol/nips/blob/master/01.md

An event's id is the sha256 of ``[0, pubkey, created_at, kind, tags, content]`` serialized as compact
JSON in UTF-8 without escaping non-ASCII characters; ``sig`` is a BIP-340 signature of that id by
``pubkey``. Every check raises :class:`InvalidEvent` with a message that the relay sends back after
``invalid:``, so a client learns which field was wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from agihub.errors import AgihubError
from agihub.identity import SecretKey, verify

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_FIELDS = frozenset({"id", "pubkey", "created_at", "kind", "tags", "content", "sig"})
# NIP-01 kinds are integers in [0, 65535].
MAX_KIND = 65_535
# created_at is a Unix timestamp; anything past 2^53 cannot be represented by JavaScript clients.
MAX_TIMESTAMP = 2**53 - 1


class InvalidEvent(AgihubError):
    """An event is malformed, has the wrong id or signature, or breaks a relay limit."""


@dataclass(frozen=True, slots=True)
class Event:
    """A validated Nostr event. Build it with :func:`parse_event` or :func:`sign_event`."""

    id: str
    pubkey: str
    created_at: int
    kind: int
    tags: tuple[tuple[str, ...], ...]
    content: str
    sig: str

    def to_dict(self) -> dict[str, Any]:
        """The event as the JSON object NIP-01 sends on the wire."""
        return {
            "id": self.id,
            "pubkey": self.pubkey,
            "created_at": self.created_at,
            "kind": self.kind,
            "tags": [list(tag) for tag in self.tags],
            "content": self.content,
            "sig": self.sig,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    def tag_values(self, name: str) -> list[str]:
        """Second elements of every tag named ``name``."""
        return [tag[1] for tag in self.tags if len(tag) > 1 and tag[0] == name]

    def first_tag(self, name: str) -> str | None:
        values = self.tag_values(name)
        return values[0] if values else None

    @property
    def d_tag(self) -> str:
        """The ``d`` tag of a parameterized replaceable event ("" when absent, as NIP-01 says)."""
        return self.first_tag("d") or ""


def canonical_serialization(
    pubkey: str, created_at: int, kind: int, tags: list[list[str]] | tuple, content: str
) -> bytes:
    """The bytes whose sha256 is the event id (NIP-01 "Events and signatures")."""
    payload = [0, pubkey, created_at, kind, [list(t) for t in tags], content]
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def compute_id(pubkey: str, created_at: int, kind: int, tags: list[list[str]] | tuple, content: str) -> str:
    """The NIP-01 event id, lower-case hex."""
    return hashlib.sha256(canonical_serialization(pubkey, created_at, kind, tags, content)).hexdigest()


def sign_event(
    key: SecretKey,
    kind: int,
    content: str = "",
    tags: list[list[str]] | None = None,
    created_at: int | None = None,
) -> Event:
    """Build and sign an event with ``key`` (used by clients, tests and the relay's own offers)."""
    pubkey = key.public_key.hex
    stamp = int(time.time()) if created_at is None else created_at
    tag_list = [list(t) for t in (tags or [])]
    event_id = compute_id(pubkey, stamp, kind, tag_list, content)
    sig = key.sign(bytes.fromhex(event_id)).hex()
    return Event(event_id, pubkey, stamp, kind, tuple(tuple(t) for t in tag_list), content, sig)


def parse_event(obj: object) -> Event:
    """Check shape, types, id and signature of a decoded JSON event; raise :class:`InvalidEvent`."""
    event = _parse_shape(obj)
    expected = compute_id(event.pubkey, event.created_at, event.kind, event.tags, event.content)
    if expected != event.id:
        raise InvalidEvent("event id does not match the sha256 of its canonical serialization")
    if not verify(bytes.fromhex(event.pubkey), bytes.fromhex(event.sig), bytes.fromhex(event.id)):
        raise InvalidEvent("signature does not verify against pubkey")
    return event


def _parse_shape(obj: object) -> Event:
    if not isinstance(obj, dict):
        raise InvalidEvent("event must be a JSON object")
    missing = _FIELDS - obj.keys()
    if missing:
        raise InvalidEvent(f"event lacks field(s) {', '.join(sorted(missing))}")
    extra = obj.keys() - _FIELDS
    if extra:
        raise InvalidEvent(f"event has unknown field(s) {', '.join(sorted(extra))}")
    for name, pattern in (("id", _HEX64), ("pubkey", _HEX64), ("sig", _HEX128)):
        value = obj[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InvalidEvent(f"{name} must be {_hexlen(name)} lower-case hex characters")
    created_at, kind = obj["created_at"], obj["kind"]
    if not _is_int(created_at) or not 0 <= created_at <= MAX_TIMESTAMP:
        raise InvalidEvent("created_at must be a non-negative integer Unix timestamp")
    if not _is_int(kind) or not 0 <= kind <= MAX_KIND:
        raise InvalidEvent(f"kind must be an integer in [0, {MAX_KIND}]")
    if not isinstance(obj["content"], str):
        raise InvalidEvent("content must be a string")
    tags = _parse_tags(obj["tags"])
    return Event(obj["id"], obj["pubkey"], created_at, kind, tags, obj["content"], obj["sig"])


def _hexlen(name: str) -> int:
    return 128 if name == "sig" else 64


def _is_int(value: object) -> bool:
    # bool is a subclass of int in Python, but true/false are not numbers in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_tags(tags: object) -> tuple[tuple[str, ...], ...]:
    if not isinstance(tags, list):
        raise InvalidEvent("tags must be an array of arrays of strings")
    parsed = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, list) or not tag or not all(isinstance(v, str) for v in tag):
            raise InvalidEvent(f"tag {index} must be a non-empty array of strings")
        parsed.append(tuple(tag))
    return tuple(parsed)


def is_hex64(value: object) -> bool:
    """True for 64 lower-case hex characters (ids, pubkeys, sha256 hashes)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None
