"""Authentication events: NIP-42 (websocket AUTH) and Blossom kind 24242 (HTTP Authorization header).

- NIP-42: https://github.com/nostr-protocol/nips/blob/master/42.md — the relay sends a fresh challenge
  per connection; the client answers with a signed kind-22242 event carrying ``relay`` and
  ``challenge`` tags. A per-connection challenge makes an AUTH event useless on any other connection.
- Blossom BUD-01/02: https://github.com/hzrd149/blossom — ``Authorization: Nostr <base64 event>``;
  the event has kind 24242, a ``t`` verb (get, upload, list, delete), an ``expiration`` tag and ``x``
  tags naming the blobs it is good for.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from urllib.parse import urlsplit

from agihub.nostr import kinds
from agihub.nostr.event import Event, InvalidEvent, is_hex64, parse_event

#: Largest accepted ``Authorization`` header (a token with a few x tags is well under 2 KiB).
MAX_TOKEN_BYTES = 8192
#: Seconds a Blossom token's created_at may lie ahead of our clock (client clock skew).
CLOCK_SKEW = 30
BLOSSOM_VERBS = frozenset({"get", "upload", "list", "delete"})


class AuthError(InvalidEvent):
    """An AUTH event or Blossom token is refused; the message names the reason."""


def new_challenge() -> str:
    """A fresh, unguessable NIP-42 challenge for one connection."""
    return secrets.token_hex(16)


def normalize_relay_url(url: str) -> str:
    """Compare relay URLs without case in scheme/host or a trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def check_nip42(obj: object, *, challenge: str, relay_url: str, window: int, now: int | None = None) -> Event:
    """Validate a NIP-42 AUTH event for this connection; returns it, or raises :class:`AuthError`."""
    try:
        ev = parse_event(obj)
    except InvalidEvent as exc:
        raise AuthError(str(exc)) from None
    now = int(time.time()) if now is None else now
    if ev.kind != kinds.AUTH:
        raise AuthError(f"AUTH event must be kind {kinds.AUTH}, got {ev.kind}")
    if ev.first_tag("challenge") != challenge:
        raise AuthError("challenge tag does not match this connection's challenge")
    relay = ev.first_tag("relay")
    if relay is None or normalize_relay_url(relay) != normalize_relay_url(relay_url):
        raise AuthError(f"relay tag must be {relay_url}")
    if abs(now - ev.created_at) > window:
        raise AuthError(f"created_at is more than {window} s away from the relay's clock")
    return ev


def decode_authorization(header: str | None) -> object:
    """Decode ``Nostr <base64 JSON>`` into the JSON value; raises :class:`AuthError`."""
    if not header:
        raise AuthError("missing Authorization header (Nostr <base64 kind-24242 event>)")
    if len(header) > MAX_TOKEN_BYTES:
        raise AuthError(f"Authorization header exceeds {MAX_TOKEN_BYTES} bytes")
    scheme, _, token = header.strip().partition(" ")
    if scheme != "Nostr" or not token:
        raise AuthError("Authorization scheme must be 'Nostr'")
    try:
        return json.loads(base64.b64decode(token.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise AuthError(f"Authorization token is not base64 JSON: {exc}") from None


def check_blossom(
    header: str | None, *, verb: str, sha256: str | None = None, now: int | None = None
) -> Event:
    """Validate a Blossom token for ``verb`` (and for blob ``sha256`` when given); returns the event.

    ``upload`` and ``delete`` tokens must name the blob in an ``x`` tag; a ``get`` token with ``x``
    tags is only good for those blobs.
    """
    try:
        ev = parse_event(decode_authorization(header))
    except AuthError:
        raise
    except InvalidEvent as exc:
        raise AuthError(str(exc)) from None
    now = int(time.time()) if now is None else now
    _check_token_fields(ev, verb, now)
    hashes = ev.tag_values("x")
    if verb in {"upload", "delete"} and not hashes:
        raise AuthError(f"a {verb} token must name the blob in an x tag")
    if sha256 is not None and hashes and sha256 not in hashes:
        raise AuthError(f"token's x tags do not include {sha256}")
    return ev


def _check_token_fields(ev: Event, verb: str, now: int) -> None:
    if ev.kind != kinds.BLOSSOM_AUTH:
        raise AuthError(f"token must be kind {kinds.BLOSSOM_AUTH}, got {ev.kind}")
    if ev.created_at > now + CLOCK_SKEW:
        raise AuthError("token's created_at is in the future")
    expiration = ev.first_tag("expiration")
    if expiration is None or not expiration.isdigit():
        raise AuthError("token needs an expiration tag (Unix time)")
    if int(expiration) <= now:
        raise AuthError("token has expired")
    if ev.first_tag("t") != verb:
        raise AuthError(f"token's t tag must be {verb!r}, got {ev.first_tag('t')!r}")
    if not all(is_hex64(x) for x in ev.tag_values("x")):
        raise AuthError("x tags must be sha256 hashes as 64 lower-case hex characters")
