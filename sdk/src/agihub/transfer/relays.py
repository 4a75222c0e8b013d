"""Relays as transfer targets, and the HTTP calls of a transfer (Blossom BUD-01/02).

A relay's registered endpoint may be its websocket URL (``ws://host:port``); its blob store is
served by the same process over HTTP on the same address, so ``ws`` maps to ``http`` and ``wss``
to ``https``.

Transfers use the standard library's ``http.client`` rather than httpx: on large bodies it reads
straight into a reused buffer (``readinto``) several times faster, and it builds no TLS context
for plain-HTTP relays. One connection per call; each call is one large request.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from agihub.blobs import authorization, sha256_file
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


def ws_url(url: str) -> str:
    """The relay's websocket URL for an ``http(s)://`` or ``ws(s)://`` relay address."""
    text = url.strip().rstrip("/")
    for http_prefix, ws_prefix in (("http://", "ws://"), ("https://", "wss://")):
        if text.startswith(http_prefix):
            return ws_prefix + text[len(http_prefix) :]
    return text


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


READ_BLOCK = 4 << 20


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


@contextmanager
def _connection(url: str, timeout: float) -> Iterator[http.client.HTTPConnection]:
    """A connection to the relay at ``url``; network failures become :class:`RelayFailure`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=_tls()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        yield conn
    except TimeoutError as exc:
        raise RelayFailure(url, f"timed out after {timeout:g} s", transient=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise RelayFailure(url, f"unreachable: {exc}", transient=True) from exc
    finally:
        conn.close()


def _refusal(url: str, what: str, response: http.client.HTTPResponse) -> RelayFailure:
    body = response.read(64 << 10)
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")[:200]
    status = response.status
    reason = f"{what} answered {status}" + (f": {message}" if message else "")
    return RelayFailure(url, reason, transient=status >= 500 or status == 429)


def upload(url: str, key: SecretKey, path: Path, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Upload ``path`` to the relay at ``url`` (Blossom ``PUT /upload`` with a signed kind-24242
    token); returns its sha256, the blob id. Idempotent: the relay keeps one copy per hash."""
    digest = sha256_file(path)
    headers = {
        "authorization": authorization(key, "upload", (digest,)),
        "content-length": str(path.stat().st_size),
        "content-type": "application/octet-stream",
    }
    with _connection(url, timeout) as conn, path.open("rb") as body:
        conn.request("PUT", urlsplit(url).path + "/upload", body=body, headers=headers)
        response = conn.getresponse()
        if response.status >= 300:
            raise _refusal(url, f"upload of {digest[:12]}…", response)
        response.read()
    return digest


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
    watch: Callable[[Path, int], None] | None = None,
) -> Path:
    """Stream blob ``sha256`` into ``dest`` via a temp file; renamed into place only if it hashes right.

    ``watch(temp_path, bytes_in_file)`` is called after every block reaches the temp file, for a
    reader that follows the download (the bytes are not verified until this function returns).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp, digest = Path(tmp_name), hashlib.sha256()
    buffer = bytearray(READ_BLOCK)
    view = memoryview(buffer)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, _connection(url, timeout) as conn:
            conn.request("GET", f"{urlsplit(url).path}/{sha256}")
            response = conn.getresponse()
            if response.status != 200:
                raise _refusal(url, f"GET {sha256[:12]}…", response)
            while count := response.readinto(buffer):
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                digest.update(view[:count])
                out.write(view[:count])
                written += count
                if watch is not None:
                    out.flush()
                    watch(tmp, written)
                if on_bytes is not None:
                    on_bytes(count)
        if digest.hexdigest() != sha256:
            raise RelayFailure(
                url,
                f"served bytes hashing to {digest.hexdigest()[:12]}…, not {sha256[:12]}…",
                transient=False,
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def read_range(url: str, sha256: str, offset: int, length: int, timeout: float) -> bytes:
    """Bytes ``[offset, offset+length)`` of a blob (HTTP Range); RelayFailure if refused."""
    headers = {"range": f"bytes={offset}-{offset + length - 1}"}
    with _connection(url, timeout) as conn:
        conn.request("GET", f"{urlsplit(url).path}/{sha256}", headers=headers)
        response = conn.getresponse()
        if response.status not in (200, 206):
            raise _refusal(url, "range GET", response)
        body = response.read()
    if response.status == 200:  # a relay ignoring Range sends the whole blob
        body = body[offset : offset + length]
    return body
