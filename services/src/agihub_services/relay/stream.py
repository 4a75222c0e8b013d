"""Websocket chunk streaming of a blob to browser clients, resumable from a chunk index.

``ws://<relay>/stream/<sha256>?from=<chunk index>[&auth=<base64 kind-24242 get token>]``

1. The relay sends a text frame ``{"sha256", "size", "chunk_size", "chunks", "from"}``.
2. Then one binary frame per chunk: a 4-byte big-endian chunk index followed by the chunk's bytes
   (chunk ``i`` is bytes ``[i*chunk_size, (i+1)*chunk_size)`` of the blob).
3. Then a text frame ``{"done": true}`` and a normal close.

A client that loses the connection reconnects with ``from`` = the first chunk it lacks. Errors are
one text frame ``{"error_code", "message"}`` and a close with code 1008. Browsers cannot set headers
on a websocket, hence the token in the query string when the relay requires auth for downloads.
One chunk is in memory at a time and each send waits for the socket, so memory stays bounded.
"""

from __future__ import annotations

import json
import logging

import anyio
import anyio.to_thread
from starlette.websockets import WebSocket, WebSocketDisconnect

from agihub_services.relay.auth import AuthError, check_blossom
from agihub_services.relay.blobs import BlobError, BlobStore, parse_blob_name
from agihub_services.relay.settings import RelaySettings

log = logging.getLogger(__name__)

INDEX_BYTES = 4


async def stream_blob(websocket: WebSocket) -> None:
    """The websocket endpoint (Starlette)."""
    settings: RelaySettings = websocket.app.state.settings
    blobs: BlobStore = websocket.app.state.blobs
    await websocket.accept()
    try:
        sha256, start = _parse_request(websocket, settings)
        info = await anyio.to_thread.run_sync(blobs.get, sha256)
        if info is None:
            raise BlobError(404, "not_found", "no such blob")
        chunk = settings.stream_chunk_bytes
        chunks = (info.size + chunk - 1) // chunk
        if start > chunks:
            raise BlobError(416, "range_not_satisfiable", f"from={start} is past the last chunk {chunks - 1}")
        header = {"sha256": sha256, "size": info.size, "chunk_size": chunk, "chunks": chunks, "from": start}
        await websocket.send_text(json.dumps(header))
        await _send_chunks(websocket, blobs, sha256, chunk, start, chunks)
        await websocket.send_text('{"done":true}')
        await websocket.close()
    except AuthError as exc:
        await _fail(websocket, "unauthorized", str(exc))
    except BlobError as exc:
        await _fail(websocket, exc.code, exc.message)
    except WebSocketDisconnect:
        log.debug("stream client left early")


def _parse_request(websocket: WebSocket, settings: RelaySettings) -> tuple[str, int]:
    sha256 = parse_blob_name(websocket.path_params["name"])
    raw_start = websocket.query_params.get("from", "0")
    if not raw_start.isdigit() or len(raw_start) > 12:
        raise BlobError(400, "bad_request", "from must be a non-negative chunk index")
    if settings.auth_required_for_get:
        token = websocket.query_params.get("auth")
        check_blossom(f"Nostr {token}" if token else None, verb="get", sha256=sha256)
    return sha256, int(raw_start)


async def _send_chunks(
    websocket: WebSocket, blobs: BlobStore, sha256: str, chunk: int, start: int, chunks: int
) -> None:
    path = blobs.path(sha256)
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start * chunk)
        for index in range(start, chunks):
            data = await handle.read(chunk)
            await websocket.send_bytes(index.to_bytes(INDEX_BYTES, "big") + data)


async def _fail(websocket: WebSocket, code: str, message: str) -> None:
    try:
        await websocket.send_text(json.dumps({"error_code": code, "message": message}))
        await websocket.close(code=1008, reason=code)
    except (WebSocketDisconnect, RuntimeError):
        pass
