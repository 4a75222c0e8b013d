"""Random single-bit flips in shards (headers and bodies) and manifests: all detected, none misread.

The default run flips 1,000 bits (500 in a public and 500 in a private package, ~6 s);
``make test-full`` flips 10,000.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from storage_testlib import shards_of, small_tensors, write_model

from agihub.identity import SecretKey
from agihub.storage.erasure import HEADER_SIZE
from agihub.storage.errors import ManifestError, StorageError
from agihub.storage.manifest import Card, parse_manifest
from agihub.storage.package import PackOptions, pack_model
from agihub.storage.unpack import private_version_key, unpack, verify_package


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _run_flips(tmp_path: Path, publisher: SecretKey, count: int, private: bool) -> dict[str, int]:
    src = write_model(tmp_path / "m.safetensors", small_tensors(7))
    secret = os.urandom(32) if private else None
    signed = pack_model(
        src,
        tmp_path / "pkg",
        publisher,
        Card(name="m"),
        options=PackOptions(chunk_size=4096, block_size=1024),
        owner_secret=secret,
    )
    key = private_version_key(signed, secret) if secret is not None else None
    manifest = (tmp_path / "pkg" / "manifest.json").read_bytes()
    shards = shards_of(tmp_path / "pkg", 6)
    originals = [s.read_bytes() for s in shards]
    expected = src.read_bytes()
    rng = random.Random(1234 + private)
    seen = {"manifest": 0, "header": 0, "body": 0}
    flipped = tmp_path / "flipped.bin"
    for trial in range(count):
        target = rng.choice(["manifest", "header", "body"])
        seen[target] += 1
        if target == "manifest":
            with pytest.raises(ManifestError):
                parse_manifest(_flip(manifest, rng.randrange(len(manifest) * 8)))
            continue
        index = rng.randrange(6)
        data = originals[index]
        bit = (
            rng.randrange(HEADER_SIZE * 8)
            if target == "header"
            else rng.randrange(HEADER_SIZE * 8, len(data) * 8)
        )
        flipped.write_bytes(_flip(data, bit))
        assert verify_package(signed, [flipped]).shards[0].ok is False, (trial, target, bit)
        # Exactly k shards including the flipped one: must fail, never return other bytes.
        others = [s for i, s in enumerate(shards) if i != index][:3]
        out = tmp_path / f"out{trial}"
        with pytest.raises(StorageError):
            unpack(signed, [flipped, *others], out, version_key=key)
        assert not out.exists()
        # With one spare shard the flipped one is excluded and the model comes back intact.
        unpack(signed, [flipped, *[s for i, s in enumerate(shards) if i != index]], out, version_key=key)
        assert out.read_bytes() == expected
        out.unlink()
    return seen


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_1000_random_bit_flips(tmp_path: Path, publisher: SecretKey, private: bool) -> None:
    seen = _run_flips(tmp_path, publisher, 500, private)
    assert all(v > 100 for v in seen.values())


@pytest.mark.slow
@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_10000_random_bit_flips(tmp_path: Path, publisher: SecretKey, private: bool) -> None:
    _run_flips(tmp_path, publisher, 5000, private)
