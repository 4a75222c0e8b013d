"""The blob store's metadata and files without HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.relay.blobs import BlobError, BlobStore, clean_media_type, parse_blob_name

ALICE, BOB = "aa" * 32, "bb" * 32


@pytest.fixture
def blobs(database_url: str, tmp_path: Path) -> Iterator[BlobStore]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    yield BlobStore(tmp_path / "blobs", engine, quota_bytes=100, max_blob_bytes=60)
    engine.dispose()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def store(blobs: BlobStore, data: bytes, owner: str) -> str:
    digest = hashlib.sha256(data).hexdigest()

    async def run() -> str:
        temp, got, size = await blobs.receive(_chunks(data[:3], data[3:]), {digest}, 60)
        blobs.commit(temp, got, size, "text/plain", owner)
        return got

    return anyio.run(run)


def test_store_list_quota_and_delete(blobs: BlobStore) -> None:
    one = store(blobs, b"x" * 50, ALICE)
    assert blobs.path(one).read_bytes() == b"x" * 50
    assert blobs.used_bytes(ALICE) == 50 and blobs.used_bytes(BOB) == 0
    assert blobs.check_room(ALICE, 40) == 50
    with pytest.raises(BlobError, match="quota"):
        blobs.check_room(ALICE, 51)
    with pytest.raises(BlobError, match="max_blob_bytes"):
        blobs.check_room(BOB, 61)
    store(blobs, b"x" * 50, BOB)
    assert [i.sha256 for i in blobs.list(BOB)] == [one]
    blobs.delete(one, ALICE)
    assert blobs.get(one) is not None and blobs.path(one).exists()
    blobs.delete(one, BOB)
    assert blobs.get(one) is None and not blobs.path(one).exists()
    with pytest.raises(BlobError, match="no such blob"):
        blobs.delete(one, BOB)


def test_a_wrong_hash_or_an_overflow_leaves_no_file(blobs: BlobStore) -> None:
    async def run(parts: tuple[bytes, ...], expected: set[str], limit: int) -> None:
        await blobs.receive(_chunks(*parts), expected, limit)

    with pytest.raises(BlobError, match="not named"):
        anyio.run(run, (b"abc",), {"00" * 32}, 60)
    with pytest.raises(BlobError, match="exceeds"):
        anyio.run(run, (b"a" * 40, b"a" * 40), {"00" * 32}, 60)
    assert list(blobs.root.rglob("*")) == [blobs.tmp]


@pytest.mark.parametrize("name", ["..", "%2e%2e", "AB" * 32, "a" * 65, "a" * 64 + "/x", "a" * 64 + ".", ""])
def test_only_hex_names_parse(name: str) -> None:
    with pytest.raises(BlobError):
        parse_blob_name(name)
    assert parse_blob_name("ab" * 32 + ".safetensors") == "ab" * 32


def test_media_types_are_sanitized() -> None:
    assert clean_media_type("text/plain; charset=utf-8") == "text/plain"
    assert clean_media_type("evil\r\nheader: x") == "application/octet-stream"
    assert clean_media_type(None) == "application/octet-stream"
