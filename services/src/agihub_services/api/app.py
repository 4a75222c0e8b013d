"""Build the marketplace API application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import agihub
from agihub_services.api import errors
from agihub_services.api.body_limit import BodyLimitMiddleware
from agihub_services.api.routes import contributions, earnings, health, live, models, orders, relays, tasks
from agihub_services.api.settings import ApiSettings
from agihub_services.config import load_settings
from agihub_services.db.engine import make_engine
from agihub_services.web.router import router as web_router


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The API with its routers, error handlers, CORS and body limit; the engine lives on app.state."""
    settings = settings or load_settings(ApiSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.engine.dispose()

    app = FastAPI(title="agihub marketplace API", version=agihub.__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = make_engine(settings.effective_database_url)
    errors.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(live.router)
    app.include_router(orders.router)
    app.include_router(relays.router)
    app.include_router(models.router)
    app.include_router(contributions.router)
    app.include_router(earnings.router)
    app.include_router(tasks.router)
    app.include_router(web_router)
    return app
