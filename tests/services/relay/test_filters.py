"""Filter parsing and matching (NIP-01), and the token-bucket rate limiter."""

from __future__ import annotations

import pytest

from agihub.identity import SecretKey
from agihub.nostr.event import sign_event
from agihub_services.relay.filters import MAX_FILTER_VALUES, InvalidFilter, parse_filter
from agihub_services.relay.ratelimit import RateLimiter


def parse(obj: object):
    return parse_filter(obj, max_limit=50, default_limit=10)


def test_matching_covers_every_condition() -> None:
    key = SecretKey.generate()
    ev = sign_event(key, 7, "x", [["t", "a"], ["p", "cc" * 32]], created_at=100)
    assert parse({}).matches(ev)
    assert parse({"ids": [ev.id], "authors": [ev.pubkey], "kinds": [7], "since": 100, "until": 100}).matches(
        ev
    )
    assert parse({"#t": ["b", "a"], "#p": ["cc" * 32]}).matches(ev)
    for miss in (
        {"ids": ["00" * 32]},
        {"kinds": [1]},
        {"since": 101},
        {"until": 99},
        {"#t": ["b"]},
        {"#e": ["a"]},
    ):
        assert not parse(miss).matches(ev), miss


def test_limit_is_defaulted_and_clamped() -> None:
    assert parse({}).limit == 10
    assert parse({"limit": 1000}).limit == 50
    assert parse({"limit": 0}).limit == 0


@pytest.mark.parametrize(
    "obj",
    [
        {"ids": "ab"},
        {"authors": ["AB" * 32]},
        {"kinds": [True]},
        {"kinds": [-1]},
        {"since": 1.5},
        {"limit": -1},
        {"#ab": ["x"]},
        {"#t": [1]},
        {"search": "x"},
        {"kinds": list(range(MAX_FILTER_VALUES + 1))},
        "filter",
    ],
)
def test_malformed_filters_raise(obj: object) -> None:
    with pytest.raises(InvalidFilter):
        parse(obj)


def test_rate_limiter_refills_and_isolates_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    now[0] += 0.5  # one token back for "a"
    assert limiter.allow("a") and not limiter.allow("a")


def test_rate_limiter_table_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=10, clock=lambda: now[0])
    for i in range(100):
        now[0] += 2  # every earlier key is idle and full again
        assert limiter.allow(f"k{i}")
    assert len(limiter._buckets) <= 10
