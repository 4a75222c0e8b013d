"""The relay application: Nostr websocket, NIP-11, Blossom HTTP and chunk streaming on one port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from agihub.identity import SecretKey
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine
from agihub_services.relay import delivery, http, stream
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.offer import OfferPublisher, OfferRefresher
from agihub_services.relay.ratelimit import RateLimiter
from agihub_services.relay.settings import RelaySettings
from agihub_services.relay.store import EventStore
from agihub_services.relay.ws import Hub, serve_connection

log = logging.getLogger(__name__)


class AddressRateLimit:
    """HTTP requests per client address (websocket messages are limited per message in :mod:`ws`)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            if not self.limiter.allow(client[0] if client else "unknown"):
                response = http.error_response(429, "rate_limited", "too many requests from your address")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _http_error(_: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    return http.error_response(status, code, str(getattr(exc, "detail", "error")))


_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"X-Reason, Content-Range, Content-Length"),
]
_PREFLIGHT = [
    *_CORS,
    (b"access-control-allow-methods", b"GET, HEAD, PUT, DELETE"),
    (b"access-control-allow-headers", b"Authorization, Content-Type, Accept, Range, *"),
    (b"access-control-max-age", b"86400"),
]


class OpenCors:
    """``Access-Control-Allow-Origin: *`` on every response, even without an Origin header.

    NIP-11 and Blossom (BUD-01 "CORS") require it unconditionally: any web page may read a relay.
    Starlette's CORSMiddleware only answers requests that carry an Origin, hence this small one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_CORS]
            await send(message)

        await self.app(scope, receive, with_cors)


def create_app(settings: RelaySettings, *, migrate_database: bool = True) -> Starlette:
    """Build the relay; with ``migrate_database`` its database is brought to the newest schema."""
    url = settings.effective_relay_database_url
    if migrate_database:
        migrate.upgrade(url)
    engine = make_engine(url)
    store = EventStore(engine)
    hub = Hub.create(settings, store)
    blobs = BlobStore(
        settings.effective_blob_dir,
        engine,
        quota_bytes=settings.quota_bytes,
        max_blob_bytes=settings.max_blob_bytes,
    )

    offers = OfferRefresher(
        OfferPublisher(settings, store, blobs), on_publish=lambda ev: hub.broadcast(ev, ev.to_json())
    )

    async def nostr(websocket: WebSocket) -> None:
        await serve_connection(hub, websocket)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await offers.start()  # the relay's own offer (kind 31338), republished when its held models change
        yield
        await offers.aclose()
        await hub.writer.aclose()
        engine.dispose()

    routes = [
        WebSocketRoute("/", nostr),
        Route("/", http.root, methods=["GET", "HEAD"]),
        Route("/upload", http.upload, methods=["PUT"]),
        Route("/list/{pubkey}", http.list_blobs, methods=["GET"]),
        WebSocketRoute("/stream/{name}", stream.stream_blob),
        Route("/delivery/{market}/{order_id}", delivery.get_delivery, methods=["GET"]),
        Route("/{name}", http.get_blob, methods=["GET", "HEAD"]),
        Route("/{name}", http.delete_blob, methods=["DELETE"]),
    ]
    middleware = [
        Middleware(OpenCors),
        Middleware(
            AddressRateLimit, limiter=RateLimiter(settings.rate_per_address, settings.burst_per_address)
        ),
    ]
    handlers = {404: _http_error, 405: _http_error}
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers=handlers)
    app.state.settings = settings
    app.state.hub = hub
    app.state.blobs = blobs
    app.state.offers = offers
    app.state.pubkey = SecretKey.parse(settings.nostr_key).public_key.hex
    app.state.pubkey_limiter = hub.pubkey_limiter
    return app
