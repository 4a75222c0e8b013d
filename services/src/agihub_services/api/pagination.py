"""Opaque keyset cursors for list endpoints.

A cursor is ``base64url(json(payload) || tag)`` where the payload holds the sort key of the last row
served and a digest of the filters of the query it came from, and ``tag`` is a keyed BLAKE2b checksum.
Keyset pagination (rather than OFFSET) keeps every page an index range scan, so page 5,000 of a
million orders costs what page 1 costs: https://use-the-index-luke.com/no-offset.

The checksum is not a secret (cursors carry nothing the caller could not query directly); it makes an
edited or truncated cursor fail loudly with 422 ``cursor`` instead of silently serving another page,
and the filter digest refuses a cursor replayed against a different query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError

#: Largest page a client may ask for; larger ``limit`` values are refused with 422 naming ``limit``.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
#: A cursor longer than this cannot be one we issued (keys are a few short values).
MAX_CURSOR_CHARS = 512

_TAG_KEY = b"agihub-api-cursor-v1"
_TAG_BYTES = 8

Key = tuple[int | str, ...]

LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"page size, 1..{MAX_PAGE_SIZE}")]
CursorQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_CURSOR_CHARS,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page (opaque base64url)",
    ),
]


class CursorError(RequestValidationError):
    """A cursor that is not one this API issued for this query: 422 ``validation_error``, field ``cursor``."""

    def __init__(self, reason: str) -> None:
        super().__init__([{"loc": ("query", "cursor"), "msg": reason, "type": "value_error"}])


def filter_digest(filters: Mapping[str, object]) -> str:
    """A short digest of a query's filters (``None`` values ignored), bound into its cursors."""
    canonical = json.dumps({k: v for k, v in filters.items() if v is not None}, sort_keys=True, default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def _tag(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, key=_TAG_KEY, digest_size=_TAG_BYTES).digest()


def encode_cursor(key: Sequence[int | str], digest: str) -> str:
    """The cursor that resumes after the row whose sort key is ``key``."""
    payload = json.dumps({"k": list(key), "f": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload + _tag(payload)).decode().rstrip("=")


def decode_cursor(cursor: str, digest: str, types: Sequence[type]) -> Key:
    """The sort key inside ``cursor``; raise :class:`CursorError` unless it is intact and for this query."""
    raw = _unbase64(cursor)
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if len(raw) <= _TAG_BYTES or _tag(payload) != tag:
        raise CursorError("malformed or altered cursor")
    try:
        body = json.loads(payload)
    except ValueError:
        raise CursorError("malformed cursor") from None
    if not isinstance(body, dict) or body.get("f") != digest:
        raise CursorError("cursor belongs to a query with other filters")
    key = body.get("k")
    if not isinstance(key, list) or len(key) != len(types):
        raise CursorError("malformed cursor key")
    # bool is an int subclass: refuse it explicitly so a key is exactly the types we wrote.
    if any(type(v) is not t for v, t in zip(key, types, strict=True)):
        raise CursorError("malformed cursor key")
    return tuple(key)


def _unbase64(cursor: str) -> bytes:
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise CursorError("malformed cursor")
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise CursorError("not base64url") from None
