"""Event ids, signatures and validation (NIP-01), including random single-field mutations."""

from __future__ import annotations

import copy
import hashlib
import json
import random

import pytest

from agihub.identity import SecretKey
from agihub.nostr.event import InvalidEvent, canonical_serialization, parse_event, sign_event

# BIP-340 test vector 0's secret key: a fixed key makes the id below reproducible.
FIXED_KEY = SecretKey.from_hex("0000000000000000000000000000000000000000000000000000000000000003")


def test_canonical_serialization_is_compact_utf8_with_json_escapes() -> None:
    raw = canonical_serialization("ab" * 32, 1700000000, 1, [["t", "x"]], 'é "q"\n\t\\\x01')
    assert raw == ('[0,"' + "ab" * 32 + '",1700000000,1,[["t","x"]],"é \\"q\\"\\n\\t\\\\\\u0001"]').encode()


def test_id_is_sha256_of_the_canonical_serialization() -> None:
    ev = sign_event(FIXED_KEY, 1, "hi", [["p", "00" * 32]], created_at=1700000000)
    expected = hashlib.sha256(
        canonical_serialization(ev.pubkey, 1700000000, 1, [["p", "00" * 32]], "hi")
    ).hexdigest()
    assert ev.id == expected
    assert ev.pubkey == "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
    assert parse_event(json.loads(ev.to_json())) == ev


def test_a_valid_event_round_trips() -> None:
    key = SecretKey.generate()
    ev = sign_event(key, 30000, "content ✓", [["d", "x"], ["e", "00" * 32, "wss://r"]])
    assert parse_event(ev.to_dict()) == ev


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("id", "00" * 32, "event id does not match"),
        ("id", "AB" * 32, "id must be 64"),
        ("sig", "00" * 64, "signature does not verify"),
        ("sig", "zz" * 64, "sig must be 128"),
        ("pubkey", 5, "pubkey must be 64"),
        ("created_at", "1700000000", "created_at must be"),
        ("created_at", True, "created_at must be"),
        ("created_at", -1, "created_at must be"),
        ("kind", 1.5, "kind must be"),
        ("kind", 70000, "kind must be"),
        ("tags", [["t", 1]], "tag 0 must be"),
        ("tags", [[]], "tag 0 must be"),
        ("tags", {"t": "x"}, "tags must be"),
        ("content", None, "content must be"),
    ],
)
def test_wrong_fields_are_refused_with_a_named_reason(field: str, value: object, reason: str) -> None:
    obj = sign_event(SecretKey.generate(), 1, "x").to_dict()
    obj[field] = value
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(obj)


def test_missing_and_unknown_fields_are_refused() -> None:
    obj = sign_event(SecretKey.generate(), 1, "x").to_dict()
    with pytest.raises(InvalidEvent, match="lacks field"):
        parse_event({k: v for k, v in obj.items() if k != "sig"})
    with pytest.raises(InvalidEvent, match="unknown field"):
        parse_event({**obj, "extra": 1})
    with pytest.raises(InvalidEvent, match="JSON object"):
        parse_event([obj])


def _mutate(obj: dict, rng: random.Random) -> dict:
    """Change exactly one field of a signed event to a different value."""
    out = copy.deepcopy(obj)
    field = rng.choice(["id", "pubkey", "created_at", "kind", "tags", "content", "sig"])
    if field in {"id", "pubkey", "sig"}:
        chars = list(out[field])
        pos = rng.randrange(len(chars))
        chars[pos] = rng.choice([c for c in "0123456789abcdef" if c != chars[pos]])
        out[field] = "".join(chars)
    elif field in {"created_at", "kind"}:
        out[field] = out[field] + rng.choice([-1, 1, 7, 1000])
    elif field == "tags":
        out["tags"] = [*out["tags"], ["t", str(rng.random())]] if rng.random() < 0.5 else out["tags"][1:]
    else:
        out["content"] = out["content"] + rng.choice(["!", " ", "é", "\n"])
    assert out != obj
    return out


def _run_mutations(count: int) -> None:
    rng = random.Random(count)
    key = SecretKey.generate()
    for i in range(count):
        obj = sign_event(key, 1 + i % 3, f"event {i}", [["t", "a"], ["p", "11" * 32]]).to_dict()
        with pytest.raises(InvalidEvent):
            parse_event(_mutate(obj, rng))


def test_random_single_field_mutations_are_all_refused() -> None:
    _run_mutations(200)


@pytest.mark.slow
def test_random_single_field_mutations_are_all_refused_full() -> None:
    _run_mutations(1000)
