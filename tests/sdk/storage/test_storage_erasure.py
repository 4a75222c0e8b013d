"""zfec stripes: any k of n blocks rebuild a stripe; headers round-trip and reject foreign bytes."""

from __future__ import annotations

import itertools
import os

import pytest

from agihub.storage.erasure import (
    HEADER_SIZE,
    ShardHeader,
    StripeDecoder,
    StripeEncoder,
    check_params,
    choose_block_size,
    stripe_range,
)
from agihub.storage.errors import InsufficientShardsError, ParameterError, ShardMismatchError


@pytest.mark.parametrize(("k", "n"), [(1, 1), (1, 3), (2, 3), (3, 5), (4, 6), (5, 5)])
def test_every_k_subset_rebuilds(k: int, n: int) -> None:
    block = 128
    stripe = os.urandom(k * block)
    blocks = StripeEncoder(k, n, block).encode(stripe)
    assert b"".join(bytes(b) for b in blocks[:k]) == stripe  # systematic
    decoder = StripeDecoder(k, n)
    for subset in itertools.combinations(range(n), k):
        out = decoder.decode({i: bytes(blocks[i]) for i in subset})
        assert b"".join(bytes(b) for b in out) == stripe, subset
    for subset in itertools.combinations(range(n), k - 1):
        with pytest.raises(InsufficientShardsError):
            decoder.decode({i: bytes(blocks[i]) for i in subset})


def test_header_roundtrip_and_rejections() -> None:
    header = ShardHeader(4, 6, 5, 1 << 20, 9, os.urandom(32), os.urandom(8))
    raw = header.pack()
    assert len(raw) == HEADER_SIZE
    assert ShardHeader.unpack(raw + b"body") == header
    with pytest.raises(ShardMismatchError, match="shorter"):
        ShardHeader.unpack(raw[:10])
    with pytest.raises(ShardMismatchError, match="magic"):
        ShardHeader.unpack(b"X" + raw[1:])
    with pytest.raises(ShardMismatchError, match="reserved"):
        ShardHeader.unpack(raw[:-1] + b"\x01")


@pytest.mark.parametrize(("k", "n", "block"), [(0, 1, 64), (3, 2, 64), (1, 257, 64), (2, 3, 10)])
def test_bad_parameters(k: int, n: int, block: int) -> None:
    with pytest.raises(ParameterError):
        check_params(k, n, block)


def test_block_size_and_stripe_ranges() -> None:
    assert choose_block_size(10, 4) == 64
    assert choose_block_size(10_000, 4) == 2560
    assert choose_block_size(1 << 30, 4) == 1 << 20
    assert stripe_range(0, 0, 4, 64) == range(0)
    assert stripe_range(0, 256, 4, 64) == range(0, 1)
    assert stripe_range(255, 257, 4, 64) == range(0, 2)
