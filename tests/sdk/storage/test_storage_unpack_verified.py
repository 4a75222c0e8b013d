"""unpack(verified=...): shards the caller already hashed are not hashed again, and are not trusted blindly."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest
from storage_testlib import shards_of, small_tensors, write_model

from agihub.identity import SecretKey
from agihub.storage.errors import InsufficientShardsError
from agihub.storage.manifest import Card, SignedManifest
from agihub.storage.package import PackOptions, pack_model
from agihub.storage.unpack import unpack

SMALL = PackOptions(chunk_size=2048, block_size=512)
# the module, not the function of the same name that agihub.storage re-exports
unpack_module = importlib.import_module("agihub.storage.unpack")


@pytest.fixture
def package(tmp_path: Path, publisher: SecretKey) -> tuple[Path, SignedManifest, list[Path]]:
    src = write_model(tmp_path / "m.safetensors", small_tensors(3))
    signed = pack_model(src, tmp_path / "pkg", publisher, Card(name="m"), options=SMALL)
    return src, signed, shards_of(tmp_path / "pkg", signed.manifest.erasure.n)


def _shard_hashers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record, per rebuild attempt, how many whole-shard sha256 hashers unpack feeds while reading."""
    fed: list[int] = []
    real = unpack_module._read_stripes

    def counting(files, hashers, block, stripes, workers):  # type: ignore[no-untyped-def]
        fed.append(len(hashers))
        return real(files, hashers, block, stripes, workers)

    monkeypatch.setattr(unpack_module, "_read_stripes", counting)
    return fed


def test_verified_shards_are_not_hashed_again(
    tmp_path: Path, package, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    src, signed, shards = package
    k = signed.manifest.erasure.k
    chosen = shards[:k]
    fed = _shard_hashers(monkeypatch)
    unpack(signed, chosen, tmp_path / "plain")
    verified = {p: signed.manifest.shards[i].sha256 for i, p in enumerate(chosen)}
    unpack(signed, chosen, tmp_path / "trusted", verified=verified)
    assert fed == [k, 0]  # first rebuild hashed k shards, the second none
    assert (tmp_path / "trusted").read_bytes() == (tmp_path / "plain").read_bytes() == src.read_bytes()


def test_a_claim_that_does_not_match_the_manifest_is_ignored(
    tmp_path: Path, package, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    src, signed, shards = package
    k = signed.manifest.erasure.k
    fed = _shard_hashers(monkeypatch)
    unpack(signed, shards[:k], tmp_path / "out", verified={shards[0]: "00" * 32})
    assert fed == [k]  # a digest other than the manifest's is not a verification: shard 0 is hashed
    assert (tmp_path / "out").read_bytes() == src.read_bytes()


def test_a_verified_shard_changed_afterwards_is_caught_and_replaced(tmp_path: Path, package) -> None:  # type: ignore[no-untyped-def]
    src, signed, shards = package
    body = signed.manifest
    k = body.erasure.k
    # shard 1 was verified, then changed on disk (a bit flip in its first data block)
    claimed = {p: body.shards[i].sha256 for i, p in enumerate(shards[:k])}
    data = bytearray(shards[1].read_bytes())
    data[-body.erasure.block_size * body.erasure.stripes] ^= 0x01
    shards[1].write_bytes(bytes(data))
    assert hashlib.sha256(data).hexdigest() != body.shards[1].sha256
    with pytest.raises(InsufficientShardsError, match="corrupt"):
        unpack(signed, shards[:k], tmp_path / "out", verified=claimed)
    assert not (tmp_path / "out").exists()
    # with a spare shard the corrupt one is found by re-hashing and replaced
    unpack(signed, [*shards[:k], shards[k]], tmp_path / "out", verified=claimed)
    assert (tmp_path / "out").read_bytes() == src.read_bytes()
