"""AES-256-GCM segments, per-version keys and per-order deliveries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agihub.storage.crypto import (
    SEGMENT_OVERHEAD,
    SegmentCipher,
    delivered_root_of,
    derive_version_key,
    load_secret,
    open_delivery,
    seal_delivery,
    version_cipher,
)
from agihub.storage.errors import DecryptionError, PayloadError


def test_version_keys_are_deterministic_and_separated() -> None:
    secret, salt = os.urandom(32), os.urandom(32)
    key = derive_version_key(secret, salt, "m@1")
    assert key == derive_version_key(secret, salt, "m@1")
    assert (
        len(
            {
                key,
                derive_version_key(secret, salt, "m@2"),
                derive_version_key(secret, os.urandom(32), "m@1"),
                derive_version_key(os.urandom(32), salt, "m@1"),
            }
        )
        == 4
    )
    with pytest.raises(DecryptionError, match="at least 16"):
        derive_version_key(b"short", salt, "m@1")
    with pytest.raises(DecryptionError, match="salt"):
        derive_version_key(secret, b"x", "m@1")


def test_segments_bind_key_index_count_and_salt() -> None:
    key, salt = os.urandom(32), os.urandom(32)
    cipher = version_cipher(key, salt, 3)
    seg = cipher.encrypt(1, b"hello")
    assert len(seg) == 5 + SEGMENT_OVERHEAD
    assert cipher.encrypt(1, b"hello") != seg  # fresh nonce every time
    assert cipher.decrypt(1, seg) == b"hello"
    failures = [
        lambda: cipher.decrypt(0, seg),  # moved
        lambda: version_cipher(key, salt, 4).decrypt(1, seg),  # truncated/extended stream
        lambda: version_cipher(key, os.urandom(32), 3).decrypt(1, seg),  # spliced from another package
        lambda: version_cipher(os.urandom(32), salt, 3).decrypt(1, seg),  # wrong key
        lambda: cipher.decrypt(1, seg[:-1] + bytes([seg[-1] ^ 1])),  # altered
        lambda: cipher.decrypt(1, seg[:10]),  # too short
        lambda: cipher.decrypt(3, seg),  # out of range
    ]
    for fail in failures:
        with pytest.raises(DecryptionError):
            fail()
    with pytest.raises(DecryptionError, match="AES-256"):
        SegmentCipher(b"k" * 16, b"", 1)


@pytest.mark.parametrize("size", [0, 1, 1000, 4096, 10_000])
def test_delivery_roundtrip(tmp_path: Path, size: int) -> None:
    src = tmp_path / "shard.bin"
    src.write_bytes(os.urandom(size))
    delivery = seal_delivery(src, tmp_path / "d.bin", segment_size=4096)
    assert len(delivery.order_key) == 32 and len(delivery.salt) == 32
    assert delivered_root_of(tmp_path / "d.bin", size, 4096) == delivery.delivered_root
    if size >= 16:  # shorter strings can occur in random ciphertext by chance
        assert src.read_bytes()[:16] not in (tmp_path / "d.bin").read_bytes()
    open_delivery(tmp_path / "d.bin", tmp_path / "out.bin", delivery.order_key, delivery.salt, size, 4096)
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


def test_delivery_keys_are_fresh_and_wrong_key_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "shard.bin"
    src.write_bytes(os.urandom(9000))
    a = seal_delivery(src, tmp_path / "a.bin", segment_size=4096)
    b = seal_delivery(src, tmp_path / "b.bin", segment_size=4096)
    assert a.order_key != b.order_key and a.delivered_root != b.delivered_root
    with pytest.raises(DecryptionError):
        open_delivery(tmp_path / "a.bin", tmp_path / "out.bin", b.order_key, a.salt, 9000, 4096)
    with pytest.raises(PayloadError, match="expected"):
        open_delivery(tmp_path / "a.bin", tmp_path / "out.bin", a.order_key, a.salt, 9001, 4096)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin", "shard.bin"]


def test_load_secret(tmp_path: Path) -> None:
    hex_file = tmp_path / "k.hex"
    hex_file.write_text("ab" * 32 + "\n")
    assert load_secret(hex_file) == bytes.fromhex("ab" * 32)
    raw_file = tmp_path / "k.raw"
    raw_file.write_bytes(b"\xff" * 32)
    assert load_secret(raw_file) == b"\xff" * 32
    (tmp_path / "short").write_text("abcd")
    with pytest.raises(DecryptionError, match="openssl rand"):
        load_secret(tmp_path / "short")
    with pytest.raises(DecryptionError, match="cannot read"):
        load_secret(tmp_path / "missing")
