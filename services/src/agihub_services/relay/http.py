"""HTTP routes: the NIP-11 document at ``/`` and the Blossom blob store (BUD-01/02).

- ``GET|HEAD /<sha256>[.ext]`` with Range; ``PUT /upload``; ``DELETE /<sha256>``; ``GET /list/<pubkey>``.
- Errors are ``{"error_code", "message"}`` JSON with the same text in ``X-Reason`` (what Blossom
  clients read). Routes only adapt HTTP to :mod:`blobs` and :mod:`auth`.
"""

from __future__ import annotations

import logging

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from agihub.nostr.event import is_hex64
from agihub_services.relay.auth import AuthError, check_blossom
from agihub_services.relay.blobs import (
    SMALL_BLOB,
    BlobError,
    BlobInfo,
    BlobStore,
    clean_media_type,
    parse_blob_name,
)
from agihub_services.relay.info import NIP11_MEDIA_TYPE, relay_info
from agihub_services.relay.settings import RelaySettings

log = logging.getLogger(__name__)


class BlobFileResponse(FileResponse):
    """FileResponse reading 4 MiB at a time instead of 64 KiB.

    Each read is a hop to a worker thread; fewer, larger reads took loopback GET throughput from
    ~0.45x to ~0.57x of nginx's sendfile (tests/benchmarks/bench_relay.py). Memory stays bounded:
    one chunk per download in flight, and uvicorn waits for the socket to drain before the next.
    """

    chunk_size = 4 << 20


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The relay's HTTP error form: JSON body plus Blossom's ``X-Reason`` header."""
    return JSONResponse(
        {"error_code": code, "message": message}, status_code=status, headers={"X-Reason": message[:200]}
    )


def _state(request: Request) -> tuple[RelaySettings, BlobStore]:
    return request.app.state.settings, request.app.state.blobs


async def root(request: Request) -> Response:
    """NIP-11 when asked for ``application/nostr+json``; a short text otherwise."""
    settings = request.app.state.settings
    if NIP11_MEDIA_TYPE in request.headers.get("accept", ""):
        body = relay_info(settings, request.app.state.pubkey)
        return JSONResponse(body, media_type=NIP11_MEDIA_TYPE)
    return PlainTextResponse(f"{settings.name}: connect a Nostr client to {settings.public_url}\n")


async def get_blob(request: Request) -> Response:
    """BUD-01 ``GET``/``HEAD /<sha256>``: the bytes, Range supported."""
    settings, blobs = _state(request)
    try:
        sha256 = parse_blob_name(request.path_params["name"])
        if settings.auth_required_for_get:
            check_blossom(request.headers.get("authorization"), verb="get", sha256=sha256)
        info = blobs.cached(sha256) or await anyio.to_thread.run_sync(blobs.get, sha256)
    except AuthError as exc:
        return error_response(401, "unauthorized", str(exc))
    except BlobError as exc:
        return error_response(exc.status, exc.code, exc.message)
    if info is None:
        return error_response(404, "not_found", "no such blob")
    if info.size <= SMALL_BLOB and "range" not in request.headers:
        return _small_blob(request, blobs, info)
    return BlobFileResponse(blobs.path(sha256), media_type=info.type, headers=_cache_headers())


def _small_blob(request: Request, blobs: BlobStore, info: BlobInfo) -> Response:
    # Reading <= 64 KiB from the page cache takes microseconds; FileResponse would spend four thread
    # hops (stat, open, read, close) on it, which dominates small-blob latency.
    try:
        body = b"" if request.method == "HEAD" else blobs.path(info.sha256).read_bytes()
    except FileNotFoundError:  # deleted between the metadata lookup and the read
        return error_response(404, "not_found", "no such blob")
    headers = {**_cache_headers(), "Accept-Ranges": "bytes", "Content-Length": str(info.size)}
    return Response(body, media_type=info.type, headers=headers)


def _cache_headers() -> dict[str, str]:
    # Content-addressed: the bytes at a hash never change.
    return {"Cache-Control": "public, max-age=31536000, immutable"}


async def upload(request: Request) -> Response:
    """BUD-02 ``PUT /upload``: authorized, size-checked before the body, hash-checked after."""
    _, blobs = _state(request)
    try:
        token = check_blossom(request.headers.get("authorization"), verb="upload")
        size = _content_length(request)
        if not request.app.state.pubkey_limiter.allow(token.pubkey):
            raise BlobError(429, "rate_limited", "this pubkey uploads too fast; slow down")
        limit = await anyio.to_thread.run_sync(blobs.check_room, token.pubkey, size)
        temp, sha256, size = await blobs.receive(request.stream(), set(token.tag_values("x")), limit)
        media = clean_media_type(request.headers.get("content-type"))
        info = await anyio.to_thread.run_sync(blobs.commit, temp, sha256, size, media, token.pubkey)
    except AuthError as exc:
        return error_response(401, "unauthorized", str(exc))
    except BlobError as exc:
        return error_response(exc.status, exc.code, exc.message)
    log.info("stored blob %s (%d bytes) for %s", sha256, size, token.pubkey)
    request.app.state.offers.poke()  # a manifest or shard may change the models the relay offers
    return JSONResponse(info.descriptor(str(request.base_url)), status_code=201)


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise BlobError(400, "bad_request", "Content-Length must be a decimal integer")
    return int(value)


async def delete_blob(request: Request) -> Response:
    """BUD-02 ``DELETE /<sha256>``: removes only the blob in the path, whatever else the token names."""
    _, blobs = _state(request)
    try:
        sha256 = parse_blob_name(request.path_params["name"])
        token = check_blossom(request.headers.get("authorization"), verb="delete", sha256=sha256)
        await anyio.to_thread.run_sync(blobs.delete, sha256, token.pubkey)
    except AuthError as exc:
        return error_response(401, "unauthorized", str(exc))
    except BlobError as exc:
        return error_response(exc.status, exc.code, exc.message)
    request.app.state.offers.poke()
    return JSONResponse({"deleted": sha256})


async def list_blobs(request: Request) -> Response:
    """BUD-02 ``GET /list/<pubkey>``: descriptors of the blobs the pubkey uploaded."""
    settings, blobs = _state(request)
    pubkey = request.path_params["pubkey"]
    try:
        if not is_hex64(pubkey):
            raise BlobError(400, "invalid_pubkey", "pubkey must be 64 lower-case hex characters")
        if settings.auth_required_for_get:
            check_blossom(request.headers.get("authorization"), verb="list")
        since, until = _int_param(request, "since"), _int_param(request, "until")
        infos = await anyio.to_thread.run_sync(blobs.list, pubkey, since, until)
    except AuthError as exc:
        return error_response(401, "unauthorized", str(exc))
    except BlobError as exc:
        return error_response(exc.status, exc.code, exc.message)
    base = str(request.base_url)
    return JSONResponse([info.descriptor(base) for info in infos])


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 16:
        raise BlobError(400, "bad_request", f"{name} must be a Unix timestamp")
    return int(value)
