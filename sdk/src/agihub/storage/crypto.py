"""Encryption of private models and of per-order deliveries (AES-256-GCM, HKDF-SHA256).

Private model versions
    ``version_key = HKDF-SHA256(ikm=owner_secret, salt=key_salt, info="agihub/version-key/v1" || label)``
    where ``key_salt`` is 32 random bytes stored in the manifest and ``label`` is the card's
    ``name@version``. The owner keeps one secret; every version gets its own key, and the key is
    never written to the manifest. Each chunk becomes one segment ``nonce(12) || ciphertext || tag(16)``
    with a fresh random nonce (NIST SP 800-38D §8.2.2: random 96-bit nonces are safe far beyond
    2^20 segments per key). The segment's index and the segment count are bound as associated data,
    so segments cannot be reordered, dropped or spliced from another package without a tag failure.

Per-order delivery
    The relay re-encrypts what it delivers (a shard) under a fresh random 32-byte order key and a
    fresh 32-byte salt; the segment key is HKDF(order_key, salt). It publishes the Merkle root of
    the delivered segments' sha256 (``delivered_root``) before payment and reveals key and salt on
    chain afterwards (the chain layer computes the commitment). The buyer then opens the delivery
    with :func:`open_delivery`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agihub.storage.errors import DecryptionError, PayloadError
from agihub.storage.merkle import merkle_root

log = logging.getLogger(__name__)

KEY_SIZE = 32
SALT_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SEGMENT_OVERHEAD = NONCE_SIZE + TAG_SIZE
VERSION_INFO = b"agihub/version-key/v1"
ORDER_INFO = b"agihub/order-key/v1"
VERSION_AAD = b"agihub/segment/v1"
ORDER_AAD = b"agihub/order-segment/v1"
# Deliveries are cut into 1 MiB segments: big enough that GCM runs at full speed, small enough
# that a buyer can prove one bad segment with a short Merkle proof.
ORDER_SEGMENT_SIZE = 1024 * 1024
MIN_OWNER_SECRET = 16


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(ikm)


def derive_version_key(owner_secret: bytes, key_salt: bytes, label: str) -> bytes:
    """The AES-256 key of one private model version (see the module docstring)."""
    if len(owner_secret) < MIN_OWNER_SECRET:
        raise DecryptionError(
            f"owner secret is {len(owner_secret)} bytes; use at least {MIN_OWNER_SECRET} random bytes"
        )
    if len(key_salt) != SALT_SIZE:
        raise DecryptionError(f"key salt is {len(key_salt)} bytes; expected {SALT_SIZE}")
    return _hkdf(owner_secret, key_salt, VERSION_INFO + b"\x00" + label.encode("utf-8"))


def load_secret(path: str | os.PathLike[str]) -> bytes:
    """Read an owner secret / key file: 64+ hex characters on one line, or raw bytes."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DecryptionError(f"cannot read key file {path}: {exc}") from exc
    text = raw.strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = raw
    if len(secret) < MIN_OWNER_SECRET:
        raise DecryptionError(
            f"key file {path} holds {len(secret)} bytes; create one with `openssl rand -hex 32 > {path}`"
        )
    return secret


class SegmentCipher:
    """AES-256-GCM over numbered segments of one stream (a package or a delivery)."""

    def __init__(self, key: bytes, context: bytes, count: int) -> None:
        if len(key) != KEY_SIZE:
            raise DecryptionError(f"key is {len(key)} bytes; AES-256 needs {KEY_SIZE}")
        self._aead = AESGCM(key)
        self._context = context
        self._count = count

    def _aad(self, index: int) -> bytes:
        if not 0 <= index < self._count:
            raise DecryptionError(f"segment {index} outside 0..{self._count - 1}")
        return self._context + struct.pack(">QQ", index, self._count)

    def encrypt(self, index: int, plaintext: bytes) -> bytes:
        """``nonce || ciphertext || tag`` for segment ``index`` with a fresh random nonce."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, self._aad(index))

    def decrypt(self, index: int, segment: bytes) -> bytes:
        """Plaintext of segment ``index``; a wrong key or altered byte raises DecryptionError."""
        if len(segment) < SEGMENT_OVERHEAD:
            raise DecryptionError(f"segment {index} is {len(segment)} bytes, shorter than nonce + tag")
        try:
            return self._aead.decrypt(segment[:NONCE_SIZE], segment[NONCE_SIZE:], self._aad(index))
        except InvalidTag as exc:
            raise DecryptionError(
                f"segment {index} failed authentication: wrong key, or the ciphertext was altered"
            ) from exc


def version_cipher(version_key: bytes, key_salt: bytes, count: int) -> SegmentCipher:
    """Cipher of a private package's chunks (context binds the package's key salt)."""
    return SegmentCipher(version_key, VERSION_AAD + key_salt, count)


@dataclass(frozen=True)
class Delivery:
    """What a relay needs after sealing a delivery: publish ``delivered_root``, later reveal key+salt."""

    order_key: bytes
    salt: bytes
    delivered_root: bytes
    size: int
    segments: int


def _order_cipher(order_key: bytes, salt: bytes, count: int) -> SegmentCipher:
    if len(salt) != SALT_SIZE:
        raise DecryptionError(f"order salt is {len(salt)} bytes; expected {SALT_SIZE}")
    if len(order_key) != KEY_SIZE:
        raise DecryptionError(f"order key is {len(order_key)} bytes; expected {KEY_SIZE}")
    return SegmentCipher(_hkdf(order_key, salt, ORDER_INFO), ORDER_AAD + salt, count)


def _segment_count(size: int, segment_size: int) -> int:
    return max(1, -(-size // segment_size))


def seal_delivery(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    order_key: bytes | None = None,
    segment_size: int = ORDER_SEGMENT_SIZE,
) -> Delivery:
    """Re-encrypt the file ``src`` (e.g. a shard) for one order, streaming, into ``dst``.

    A fresh random order key and salt are drawn unless ``order_key`` is given (tests only).
    """
    key = secrets.token_bytes(KEY_SIZE) if order_key is None else order_key
    salt = secrets.token_bytes(SALT_SIZE)
    size = Path(src).stat().st_size
    count = _segment_count(size, segment_size)
    cipher = _order_cipher(key, salt, count)
    digests: list[bytes] = []
    tmp = Path(f"{dst}.part")
    with open(src, "rb") as fin, tmp.open("wb") as fout:
        for index in range(count):
            segment = cipher.encrypt(index, fin.read(segment_size))
            digests.append(hashlib.sha256(segment).digest())
            fout.write(segment)
    os.replace(tmp, dst)
    return Delivery(key, salt, merkle_root(digests), size, count)


def open_delivery(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    order_key: bytes,
    salt: bytes,
    plain_size: int,
    segment_size: int = ORDER_SEGMENT_SIZE,
) -> None:
    """Buyer side: decrypt a delivery with the revealed key and salt into ``dst`` (atomic)."""
    count = _segment_count(plain_size, segment_size)
    expected = plain_size + count * SEGMENT_OVERHEAD
    if Path(src).stat().st_size != expected:
        raise PayloadError(f"delivery is {Path(src).stat().st_size} bytes; expected {expected}")
    cipher = _order_cipher(order_key, salt, count)
    tmp = Path(f"{dst}.part")
    try:
        with open(src, "rb") as fin, tmp.open("wb") as fout:
            for index in range(count):
                length = min(segment_size, plain_size - index * segment_size) + SEGMENT_OVERHEAD
                fout.write(cipher.decrypt(index, fin.read(length)))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)


def delivered_root_of(
    path: str | os.PathLike[str], plain_size: int, segment_size: int = ORDER_SEGMENT_SIZE
) -> bytes:
    """Recompute ``delivered_root`` from a received delivery (before the key is revealed)."""
    count = _segment_count(plain_size, segment_size)
    digests = []
    with open(path, "rb") as fin:
        for index in range(count):
            length = min(segment_size, plain_size - index * segment_size) + SEGMENT_OVERHEAD
            digests.append(hashlib.sha256(fin.read(length)).digest())
    return merkle_root(digests)
