"""A client for a relay's blob store (Blossom BUD-01/02): upload, download, check, list, delete.

Writes are authorized by a signed kind-24242 event in the ``Authorization`` header
(https://github.com/hzrd149/blossom, BUD-01/02). Downloads stream to a temporary file beside the
destination, are checked against the requested sha256 and only then renamed into place, so a
wrong or partial answer never reaches the final path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from agihub.errors import ApiError, StorageError
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import sign_event

CHUNK = 1 << 20
TOKEN_LIFETIME_S = 300


class BlobMismatch(StorageError):
    """The relay answered with bytes whose sha256 is not the one asked for."""


def authorization(
    key: SecretKey, verb: str, hashes: tuple[str, ...] = (), lifetime_s: int = TOKEN_LIFETIME_S
) -> str:
    """``Nostr <base64 event>`` authorizing ``verb`` (get, upload, list, delete) for ``hashes``."""
    tags = [["t", verb], ["expiration", str(int(time.time()) + lifetime_s)]] + [["x", h] for h in hashes]
    event = sign_event(key, kinds.BLOSSOM_AUTH, f"agihub {verb}", tags)
    return "Nostr " + base64.b64encode(json.dumps(event.to_dict()).encode()).decode()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for block in iter(lambda: src.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class BlobClient:
    """One relay's blob store, acting as the holder of ``key``."""

    def __init__(self, base_url: str, key: SecretKey, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> BlobClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def upload(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Upload a file (streamed); returns the relay's blob descriptor."""
        src = Path(path)
        digest = sha256_file(src)
        headers = {
            "authorization": authorization(self.key, "upload", (digest,)),
            "content-length": str(src.stat().st_size),
            "content-type": "application/octet-stream",
        }

        def body() -> Iterator[bytes]:
            with src.open("rb") as fin:
                yield from iter(lambda: fin.read(CHUNK), b"")

        return self._json(self.http.put("/upload", content=body(), headers=headers))

    def has(self, sha256: str) -> bool:
        response = self.http.head(f"/{sha256}")
        if response.status_code == 404:
            return False
        self._check(response)
        return True

    def download(self, sha256: str, dest: str | os.PathLike[str]) -> Path:
        """Fetch blob ``sha256`` into ``dest``, verified before it is renamed into place."""
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        tmp, digest = Path(tmp_name), hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, self.http.stream("GET", f"/{sha256}") as response:
                self._check(response)
                for block in response.iter_bytes(CHUNK):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != sha256:
                raise BlobMismatch(
                    f"{self.base_url} served bytes hashing to {digest.hexdigest()}, not {sha256}"
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def list(self, pubkey_hex: str | None = None) -> list[dict[str, Any]]:
        owner = pubkey_hex or self.key.public_key.hex
        return self._json(
            self.http.get(f"/list/{owner}", headers={"authorization": authorization(self.key, "list")})
        )

    def delete(self, sha256: str) -> None:
        self._check(
            self.http.delete(
                f"/{sha256}", headers={"authorization": authorization(self.key, "delete", (sha256,))}
            )
        )

    def _json(self, response: httpx.Response) -> Any:
        self._check(response)
        return response.json()

    def _check(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        response.read()
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text or response.reason_phrase
        raise ApiError(
            f"http_{response.status_code}", f"{self.base_url}: {message}", status=response.status_code
        )
