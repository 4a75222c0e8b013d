"""Local content-addressed cache of shards and manifests.

Layout (root = ``$AGIHUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/agihub``, else ``~/.cache/agihub``)::

    blobs/<sha256>             verified content (shard files, payloads), named by the sha256 of all bytes
    manifests/<manifest_id>.json  verified, signed manifests
    tmp/<sha256>.part          downloads in progress; a restart resumes from their length

A blob reaches ``blobs/`` only through temp file → sha256 check → ``os.replace`` (atomic on one
filesystem), so a reader never sees a partial or unverified file at a final path, and a crash at
any point leaves either nothing or a resumable ``.part`` file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from agihub.storage.errors import CacheError
from agihub.storage.manifest import SignedManifest, parse_manifest

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "AGIHUB_CACHE_DIR"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_READ_WINDOW = 4 * 1024 * 1024

# A source returns the blob's bytes starting at the given offset (e.g. an HTTP Range request).
Source = Callable[[int], Iterable[bytes]]


def default_cache_dir() -> Path:
    """The cache root from the environment (see the module docstring)."""
    if env := os.environ.get(ENV_CACHE_DIR):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agihub"


def _check_hex(value: str, what: str) -> str:
    if not _HEX64.match(value):
        raise CacheError(f"{what} must be 64 lower-case hex characters, got {value[:80]!r}")
    return value


class Cache:
    """Content-addressed blobs and verified manifests under one root directory."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        try:
            for sub in ("blobs", "manifests", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create cache directory {self.root}: {exc}; set {ENV_CACHE_DIR}"
            ) from exc

    def blob_path(self, sha256: str) -> Path:
        """Final path of a blob (it may not exist yet)."""
        return self.root / "blobs" / _check_hex(sha256, "blob id")

    def has_blob(self, sha256: str) -> bool:
        """True when the blob is cached."""
        return self.blob_path(sha256).is_file()

    def partial_path(self, sha256: str) -> Path:
        """Where an interrupted fetch of this blob keeps its bytes."""
        return self.root / "tmp" / f"{_check_hex(sha256, 'blob id')}.part"

    def fetch_blob(self, sha256: str, source: Source, *, max_size: int | None = None) -> Path:
        """Download a blob through ``source`` (resuming a previous partial fetch), verify, install.

        On a hash mismatch the partial file is deleted (it cannot be trusted for a resume) and
        :class:`CacheError` is raised; on an interrupted source the partial file is kept.
        """
        final = self.blob_path(sha256)
        if final.is_file():
            return final
        part = self.partial_path(sha256)
        hasher, offset = _hash_existing(part)
        with part.open("ab") as out:
            for piece in source(offset):
                offset += len(piece)
                if max_size is not None and offset > max_size:
                    out.close()
                    part.unlink(missing_ok=True)
                    raise CacheError(f"blob {sha256[:12]} exceeds its declared size {max_size}")
                hasher.update(piece)
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        return self._install(part, final, hasher.hexdigest(), sha256)

    def put_file(self, path: str | os.PathLike[str], sha256: str) -> Path:
        """Copy a local file into the cache after checking its hash."""
        src = Path(path)

        def read_from(offset: int) -> Iterable[bytes]:
            with src.open("rb") as f:
                f.seek(offset)
                while block := f.read(_READ_WINDOW):
                    yield block

        return self.fetch_blob(sha256, read_from)

    def _install(self, part: Path, final: Path, actual: str, expected: str) -> Path:
        if actual != expected:
            part.unlink(missing_ok=True)
            raise CacheError(
                f"fetched blob hashes to {actual[:12]}…, expected {expected[:12]}…; discarded it"
            )
        os.replace(part, final)
        log.debug("cached blob %s", expected)
        return final

    def put_manifest(self, data: bytes) -> SignedManifest:
        """Verify a manifest (signature, canonical form, consistency) and store it by its id."""
        signed = parse_manifest(data)
        final = self.manifest_path(signed.manifest_id.hex())
        tmp = self.root / "tmp" / f"{final.name}.part"
        tmp.write_bytes(data)
        os.replace(tmp, final)
        return signed

    def manifest_path(self, manifest_id: str) -> Path:
        """Final path of a manifest."""
        return self.root / "manifests" / f"{_check_hex(manifest_id, 'manifest id')}.json"

    def get_manifest(self, manifest_id: str) -> SignedManifest:
        """Load and re-verify a cached manifest."""
        path = self.manifest_path(manifest_id)
        if not path.is_file():
            raise CacheError(f"manifest {manifest_id[:12]} is not cached; fetch it from a relay first")
        signed = parse_manifest(path.read_bytes())
        if signed.manifest_id.hex() != manifest_id:
            raise CacheError(f"cached manifest {manifest_id[:12]} has another id; delete {path}")
        return signed


def _hash_existing(part: Path) -> tuple[hashlib._Hash, int]:
    """Hash what an earlier, interrupted fetch left, so the download resumes after it."""
    hasher = hashlib.sha256()
    offset = 0
    if part.exists():
        with part.open("rb") as f:
            while block := f.read(_READ_WINDOW):
                hasher.update(block)
                offset += len(block)
        log.info("resuming %s at byte %d", part.name, offset)
    return hasher, offset
