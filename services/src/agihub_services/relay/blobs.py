"""The blob store: files named by their sha256 on disk, metadata and ownership in SQL.

Blossom (BUD-01/02, https://github.com/hzrd149/blossom) addresses a blob by the sha256 of its bytes.
An upload streams into a temp file inside the blob root while hashing; only when the hash matches
the one the uploader signed is the file renamed into place (an atomic rename on one filesystem),
so a failed or lying upload never becomes retrievable and never leaves a partial file behind.
Paths are built only from validated 64-hex names, never from request text, so no request can
reach outside the blob root.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select

from agihub.errors import StorageError
from agihub.nostr.event import is_hex64
from agihub_services.db.schema import RelayBlob, RelayBlobOwner

log = logging.getLogger(__name__)

_blobs = RelayBlob.__table__
_owners = RelayBlobOwner.__table__
_NAME = re.compile(r"([0-9a-f]{64})(\.[A-Za-z0-9]{1,16})?")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,63}/[A-Za-z0-9!#$&^_.+-]{1,63}")
DEFAULT_TYPE = "application/octet-stream"
#: Blob descriptors kept in memory (about 200 bytes each).
CACHE_ENTRIES = 100_000
#: Blobs up to this size are read in one go on the event loop instead of streamed via threads.
SMALL_BLOB = 65_536


class BlobError(StorageError):
    """A blob request is refused; ``status`` and ``code`` are the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class BlobInfo:
    """A blob's metadata (the BUD-02 blob descriptor without the URL)."""

    sha256: str
    size: int
    type: str
    uploaded: int

    def descriptor(self, base_url: str) -> dict[str, object]:
        """The BUD-02 blob descriptor."""
        return {
            "url": f"{base_url.rstrip('/')}/{self.sha256}",
            "sha256": self.sha256,
            "size": self.size,
            "type": self.type,
            "uploaded": self.uploaded,
        }


def parse_blob_name(name: str) -> str:
    """``<sha256>`` or ``<sha256>.<ext>`` → the hash; anything else (``..``, uppercase, %2e) is refused."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise BlobError(400, "invalid_hash", "blob path must be 64 lower-case hex characters (sha256)")
    return match.group(1)


def clean_media_type(value: str | None) -> str:
    """A ``type/subtype`` media type from a Content-Type header, or application/octet-stream."""
    media = (value or "").split(";", 1)[0].strip().lower()
    return media if _MEDIA_TYPE.fullmatch(media) else DEFAULT_TYPE


class BlobStore:
    """Blob files under ``root`` and their rows in the relay database."""

    def __init__(self, root: Path, engine: Engine, *, quota_bytes: int, max_blob_bytes: int) -> None:
        self.root, self.engine = root.resolve(), engine
        self.quota_bytes, self.max_blob_bytes = quota_bytes, max_blob_bytes
        # Metadata of a content-addressed blob never changes while it exists, and this process is the
        # only writer, so a read cache needs invalidating only on delete (a relay is one process).
        self._cache: dict[str, BlobInfo] = {}
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the blob's bytes live; ``sha256`` must already be validated."""
        if not is_hex64(sha256):
            raise BlobError(400, "invalid_hash", "blob hash must be 64 lower-case hex characters")
        return self.root / sha256[:2] / sha256

    def get(self, sha256: str) -> BlobInfo | None:
        """The blob's metadata, or None. Served from memory after the first read (see ``_cache``)."""
        cached = self._cache.get(sha256)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            row = conn.execute(select(_blobs).where(_blobs.c.sha256 == sha256)).first()
        if row is None:
            return None
        info = BlobInfo(row.sha256, row.size, row.type, row.uploaded)
        self._remember(info)
        return info

    def cached(self, sha256: str) -> BlobInfo | None:
        """The metadata if it is in memory (no database round trip, safe on the event loop)."""
        return self._cache.get(sha256)

    def _remember(self, info: BlobInfo) -> None:
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[info.sha256] = info

    def used_bytes(self, pubkey: str) -> int:
        """Bytes of the blobs ``pubkey`` owns (its quota use)."""
        stmt = (
            select(func.coalesce(func.sum(_blobs.c.size), 0))
            .select_from(_owners.join(_blobs, _owners.c.sha256 == _blobs.c.sha256))
            .where(_owners.c.pubkey == pubkey)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def check_room(self, pubkey: str, size: int | None) -> int:
        """Refuse (413) an upload of ``size`` bytes (None: unknown yet) that is too big or would pass
        the quota; returns how many bytes the body may have."""
        if size is not None and size > self.max_blob_bytes:
            raise BlobError(413, "payload_too_large", f"blob exceeds max_blob_bytes {self.max_blob_bytes}")
        room = self.quota_bytes - self.used_bytes(pubkey)
        if size is not None and size > room:
            raise BlobError(413, "quota_exceeded", f"quota of {self.quota_bytes} bytes would be exceeded")
        return min(room, self.max_blob_bytes)

    async def receive(
        self, chunks: AsyncIterator[bytes], expected: set[str], limit: int
    ) -> tuple[Path, str, int]:
        """Stream ``chunks`` to a temp file; returns (temp path, sha256, size) if the hash is expected.

        At most ``limit`` bytes are accepted (413 beyond); a hash not in ``expected`` is refused (400).
        The temp file is removed on every failure.
        """
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        temp, hasher, size = Path(name), hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise BlobError(413, "payload_too_large", f"upload exceeds {limit} bytes")
                    hasher.update(chunk)
                    out.write(chunk)
            digest = hasher.hexdigest()
            if digest not in expected:
                raise BlobError(
                    400, "hash_mismatch", f"body sha256 {digest} is not named by the token's x tag"
                )
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, digest, size

    def commit(self, temp: Path, sha256: str, size: int, media_type: str, pubkey: str) -> BlobInfo:
        """Move a verified temp file into place and record ``pubkey`` as an owner (idempotent)."""
        now = int(time.time())
        final = self.path(sha256)
        try:
            final.parent.mkdir(exist_ok=True)
            if final.exists():
                temp.unlink(missing_ok=True)  # same hash, same bytes: keep the stored copy
            else:
                os.replace(temp, final)
            return self._record(sha256, size, media_type, pubkey, now)
        finally:
            temp.unlink(missing_ok=True)

    def _record(self, sha256: str, size: int, media_type: str, pubkey: str, now: int) -> BlobInfo:
        with self.engine.begin() as conn:
            row = conn.execute(select(_blobs).where(_blobs.c.sha256 == sha256)).first()
            if row is None:
                conn.execute(insert(_blobs).values(sha256=sha256, size=size, type=media_type, uploaded=now))
                row = conn.execute(select(_blobs).where(_blobs.c.sha256 == sha256)).first()
            owned = conn.execute(
                select(_owners.c.sha256).where(_owners.c.sha256 == sha256, _owners.c.pubkey == pubkey)
            ).first()
            if owned is None:
                conn.execute(insert(_owners).values(sha256=sha256, pubkey=pubkey, uploaded=now))
        return BlobInfo(row.sha256, row.size, row.type, row.uploaded)

    def delete(self, sha256: str, pubkey: str) -> None:
        """Drop ``pubkey``'s ownership; the file goes with the last owner. 404 if it owns nothing."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(_owners).where(_owners.c.sha256 == sha256, _owners.c.pubkey == pubkey)
            ).rowcount
            if not gone:
                raise BlobError(404, "not_found", "no such blob uploaded by this pubkey")
            left = conn.execute(select(_owners.c.pubkey).where(_owners.c.sha256 == sha256)).first()
            if left is None:
                conn.execute(delete(_blobs).where(_blobs.c.sha256 == sha256))
        if left is None:
            self._cache.pop(sha256, None)
            with contextlib.suppress(FileNotFoundError):
                self.path(sha256).unlink()

    def list(self, pubkey: str, since: int | None = None, until: int | None = None) -> list[BlobInfo]:
        """Blobs owned by ``pubkey``, newest upload first (BUD-02 ``GET /list``)."""
        stmt = (
            select(_blobs.c.sha256, _blobs.c.size, _blobs.c.type, _owners.c.uploaded)
            .select_from(_owners.join(_blobs, _owners.c.sha256 == _blobs.c.sha256))
            .where(_owners.c.pubkey == pubkey)
        )
        if since is not None:
            stmt = stmt.where(_owners.c.uploaded >= since)
        if until is not None:
            stmt = stmt.where(_owners.c.uploaded <= until)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(_owners.c.uploaded.desc(), _blobs.c.sha256)).all()
        return [BlobInfo(*row) for row in rows]
