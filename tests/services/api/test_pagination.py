"""Cursor encoding: round trips, and every way a cursor can be wrong is a CursorError."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agihub_services.api.pagination import CursorError, decode_cursor, encode_cursor, filter_digest

TYPES = (int, str, int)
DIGEST = filter_digest({"state": 1, "buyer": None})


@given(block=st.integers(0, 2**63 - 1), chain=st.text(max_size=40), order_id=st.integers(0, 2**63 - 1))
def test_cursor_round_trips(block: int, chain: str, order_id: int) -> None:
    assert decode_cursor(encode_cursor((block, chain, order_id), DIGEST), DIGEST, TYPES) == (
        block,
        chain,
        order_id,
    )


def test_digest_ignores_absent_filters_and_order() -> None:
    assert filter_digest({"a": 1, "b": None}) == filter_digest({"a": 1}) != filter_digest({"a": 2})


def _forge(body: object, key: bytes = b"agihub-api-cursor-v1") -> str:
    """A cursor with a valid checksum around ``body``: only the structure checks can refuse it."""
    payload = json.dumps(body).encode()
    tag = hashlib.blake2b(payload, key=key, digest_size=8).digest()
    return base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("", "malformed"),
        ("!!!!", "base64"),
        (_forge({"k": [1, "c", 2], "f": DIGEST}, key=b"another key"), "altered"),
        (_forge({"k": [1, "c", 2], "f": "0" * 16}), "other filters"),
        (_forge({"k": [1, "c"], "f": DIGEST}), "key"),
        (_forge({"k": [True, "c", 2], "f": DIGEST}), "key"),
        (_forge({"k": [1.5, "c", 2], "f": DIGEST}), "key"),
        (_forge({"k": "1,c,2", "f": DIGEST}), "key"),
        (_forge([1, "c", 2]), "other filters"),
    ],
)
def test_wrong_cursors_are_refused(cursor: str, reason: str) -> None:
    with pytest.raises(CursorError) as info:
        decode_cursor(cursor, DIGEST, TYPES)
    [error] = info.value.errors()
    assert error["loc"] == ("query", "cursor") and reason in error["msg"]
