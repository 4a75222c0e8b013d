"""The local cache: layout, resumable verified fetches, atomic installs, verified manifests."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import pytest
from storage_testlib import small_tensors, write_model

from agihub.identity import SecretKey
from agihub.storage.cache import ENV_CACHE_DIR, Cache, default_cache_dir
from agihub.storage.errors import CacheError, ManifestError
from agihub.storage.manifest import Card
from agihub.storage.package import PackOptions, pack_model

BLOB = os.urandom(300_000)
BLOB_ID = hashlib.sha256(BLOB).hexdigest()


class Flaky:
    """A source that serves ``BLOB`` from an offset in 10 KB pieces and dies after ``fail_after`` bytes."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data, self.fail_after, self.offsets = data, fail_after, []

    def __call__(self, offset: int) -> Iterable[bytes]:
        self.offsets.append(offset)
        sent = 0
        for start in range(offset, len(self.data), 10_000):
            if self.fail_after is not None and sent >= self.fail_after:
                raise ConnectionError("relay went away")
            piece = self.data[start : start + 10_000]
            sent += len(piece)
            yield piece


def test_layout_and_env_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    cache = Cache()
    assert sorted(p.name for p in cache.root.iterdir()) == ["blobs", "manifests", "tmp"]
    monkeypatch.delenv(ENV_CACHE_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "agihub"


def test_interrupted_fetch_resumes_and_installs_atomically(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    first = Flaky(BLOB, fail_after=120_000)
    with pytest.raises(ConnectionError):
        cache.fetch_blob(BLOB_ID, first)
    assert not cache.has_blob(BLOB_ID)
    assert cache.partial_path(BLOB_ID).stat().st_size == 120_000
    second = Flaky(BLOB)
    path = cache.fetch_blob(BLOB_ID, second)
    assert second.offsets == [120_000]
    assert path.read_bytes() == BLOB
    assert not cache.partial_path(BLOB_ID).exists()
    # Already cached: the source is not called again.
    third = Flaky(BLOB)
    assert cache.fetch_blob(BLOB_ID, third) == path and third.offsets == []


def test_wrong_bytes_are_discarded(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    tampered = BLOB[:-1] + bytes([BLOB[-1] ^ 1])
    with pytest.raises(CacheError, match="discarded"):
        cache.fetch_blob(BLOB_ID, Flaky(tampered))
    assert not cache.has_blob(BLOB_ID) and not cache.partial_path(BLOB_ID).exists()
    with pytest.raises(CacheError, match="declared size"):
        cache.fetch_blob(BLOB_ID, Flaky(BLOB + b"extra"), max_size=len(BLOB))
    assert not cache.partial_path(BLOB_ID).exists()
    assert list((tmp_path / "blobs").iterdir()) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "ab" * 31, ""])
def test_ids_are_validated(tmp_path: Path, bad: str) -> None:
    with pytest.raises(CacheError, match="64 lower-case hex"):
        Cache(tmp_path).blob_path(bad)


def test_put_file_and_manifests(tmp_path: Path, publisher: SecretKey) -> None:
    cache = Cache(tmp_path / "cache")
    src = write_model(tmp_path / "m.safetensors", small_tensors())
    signed = pack_model(
        src, tmp_path / "pkg", publisher, Card(name="m"), options=PackOptions(chunk_size=4096)
    )
    shard = tmp_path / "pkg" / "shard-000.bin"
    cache.put_file(shard, signed.manifest.shards[0].sha256)
    assert cache.has_blob(signed.manifest.shards[0].sha256)
    with pytest.raises(CacheError):
        cache.put_file(shard, signed.manifest.shards[1].sha256)
    data = (tmp_path / "pkg" / "manifest.json").read_bytes()
    stored = cache.put_manifest(data)
    assert cache.get_manifest(stored.manifest_id.hex()).manifest_id == signed.manifest_id
    with pytest.raises(ManifestError):
        cache.put_manifest(data.replace(b'"name":"m"', b'"name":"x"'))
    assert len(list((tmp_path / "cache" / "manifests").iterdir())) == 1
    with pytest.raises(CacheError, match="not cached"):
        cache.get_manifest("00" * 32)


def test_unusable_root(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheError, match="cannot create"):
        Cache(tmp_path / "file" / "sub")
