"""Relays as transfer targets, and the HTTP calls of a transfer (Blossom BUD-01/02).

A relay's registered endpoint may be its websocket URL (``ws://host:port``); its blob store is
served by the same process over HTTP on the same address, so ``ws`` maps to ``http`` and ``wss``
to ``https``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from agihub.blobs import CHUNK, BlobClient
from agihub.errors import ApiError
from agihub.identity import SecretKey
from agihub.transfer.errors import RelayFailure

DEFAULT_TIMEOUT_S = 30.0


def http_base(endpoint: str) -> str:
    """The blob store's base URL for a relay endpoint (``ws(s)://`` or ``http(s)://``)."""
    url = endpoint.strip().rstrip("/")
    if url.startswith("ws://"):
        return "http://" + url[5:]
    if url.startswith("wss://"):
        return "https://" + url[6:]
    if url.startswith(("http://", "https://")):
        return url
    raise ValueError(f"relay endpoint {endpoint!r} is not a ws(s):// or http(s):// URL")


@dataclass(frozen=True)
class RelayTarget:
    """A relay a shard may be placed on. ``operator`` groups relays run by one party (its chain
    address, or its Nostr key when no address is known): placement never counts two relays of one
    operator as two independent copies."""

    url: str
    operator: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", http_base(self.url))
        if not self.operator:
            raise ValueError(f"relay {self.url}: operator must not be empty")


def upload(url: str, key: SecretKey, path: Path, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Upload ``path`` to the relay at ``url``; returns its sha256 (the blob id). Idempotent."""
    try:
        with BlobClient(url, key, timeout=timeout) as client:
            descriptor = client.upload(path)
    except httpx.TimeoutException as exc:
        raise RelayFailure(url, f"timed out after {timeout:g} s", transient=True) from exc
    except httpx.TransportError as exc:
        raise RelayFailure(url, f"unreachable: {exc}", transient=True) from exc
    except ApiError as exc:
        raise RelayFailure(url, str(exc), transient=(exc.status or 0) >= 500 or exc.status == 429) from exc
    return str(descriptor["sha256"])


class Cancelled(Exception):
    """A download stopped because enough shards had already arrived."""


def download(
    url: str,
    sha256: str,
    dest: Path,
    *,
    cancel: threading.Event | None = None,
    on_bytes: Callable[[int], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Stream blob ``sha256`` into ``dest`` via a temp file; renamed into place only if it hashes right."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp, digest = Path(tmp_name), hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, httpx.stream("GET", f"{url}/{sha256}", timeout=timeout) as response:
            if response.status_code != 200:
                raise RelayFailure(
                    url, f"GET {sha256[:12]}… answered {response.status_code}", transient=False
                )
            for block in response.iter_bytes(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                digest.update(block)
                out.write(block)
                if on_bytes is not None:
                    on_bytes(len(block))
        if digest.hexdigest() != sha256:
            raise RelayFailure(
                url,
                f"served bytes hashing to {digest.hexdigest()[:12]}…, not {sha256[:12]}…",
                transient=False,
            )
        os.replace(tmp, dest)
    except httpx.TimeoutException as exc:
        raise RelayFailure(url, f"timed out after {timeout:g} s", transient=True) from exc
    except httpx.TransportError as exc:
        raise RelayFailure(url, f"unreachable: {exc}", transient=True) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def read_range(url: str, sha256: str, offset: int, length: int, timeout: float) -> bytes:
    """Bytes ``[offset, offset+length)`` of a blob (HTTP Range); RelayFailure if refused or short."""
    headers = {"range": f"bytes={offset}-{offset + length - 1}"}
    try:
        response = httpx.get(f"{url}/{sha256}", headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise RelayFailure(url, f"timed out after {timeout:g} s", transient=True) from exc
    except httpx.TransportError as exc:
        raise RelayFailure(url, f"unreachable: {exc}", transient=True) from exc
    if response.status_code not in (200, 206):
        raise RelayFailure(
            url, f"range GET answered {response.status_code}", transient=response.status_code >= 500
        )
    body = response.content
    if response.status_code == 200:  # a relay ignoring Range sends the whole blob
        body = body[offset : offset + length]
    return body
