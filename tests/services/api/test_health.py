"""``/health`` and the API's error contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from agihub_services.api.app import create_app
from agihub_services.api.body_limit import BodyLimitMiddleware
from agihub_services.api.settings import ApiSettings
from agihub_services.db import migrate
from agihub_worker.health import record_heartbeat


def _client(database_url: str, **overrides: object) -> TestClient:
    settings = ApiSettings(AGIHUB_DATABASE_URL=database_url, **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings))


@pytest.fixture
def client(database_url: str, isolated_env: Path) -> Iterator[TestClient]:
    migrate.upgrade(database_url)
    with _client(database_url, max_body_bytes=1024) as c:
        yield c


def test_health_reports_database_revision_and_heartbeats(client: TestClient) -> None:
    record_heartbeat(client.app.state.engine, "worker", "host:1", {"origin": "test"})  # type: ignore[attr-defined]
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {
        "ok": True,
        "revision": migrate.head_revision(),
        "head": migrate.head_revision(),
        "error": None,
    }
    assert [(h["component"], h["instance"]) for h in body["heartbeats"]] == [("worker", "host:1")]
    assert body["indexer_lag"] is None


def test_heartbeat_upsert_keeps_one_row_per_instance(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    first = record_heartbeat(engine, "worker", "host:1", {})
    second = record_heartbeat(engine, "worker", "host:1", {"n": 2})
    beats = client.get("/health").json()["heartbeats"]
    assert len(beats) == 1 and second >= first


def test_unmigrated_database_is_unavailable_with_the_fix(database_url: str, isolated_env: Path) -> None:
    with _client(database_url) as c:
        response = c.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["database"]["ok"] is False


def test_unknown_route_has_an_error_code(client: TestClient) -> None:
    response = client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


def test_wrong_method_has_an_error_code(client: TestClient) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error_code"] == "method_not_allowed"


def test_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post("/health", content=b"x" * 2048)
    assert response.status_code == 413
    assert response.json()["error_code"] == "payload_too_large"


def test_streamed_body_is_cut_off_once_past_the_limit() -> None:
    """A chunked body has no Content-Length: the middleware counts while the route reads."""
    seen: list[int] = []
    echo = FastAPI()

    @echo.post("/echo")
    async def _echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"size": len(body)}

    echo.add_middleware(BodyLimitMiddleware, max_bytes=1024)

    def chunks(n: int) -> Iterator[bytes]:
        for _ in range(n):
            yield b"y" * 512

    with TestClient(echo) as c:
        assert c.post("/echo", content=chunks(2)).json() == {"size": 1024}
        response = c.post("/echo", content=chunks(8))
    assert response.status_code == 413
    assert response.json()["error_code"] == "payload_too_large"
    assert seen == [1024]  # the oversized body never reached the route


def test_openapi_is_published(client: TestClient) -> None:
    assert "/health" in client.get("/openapi.json").json()["paths"]


def test_health_reports_the_indexer_lag(client: TestClient) -> None:
    from agihub_services.db.engine import session_scope
    from agihub_services.db.schema import IndexerCursor

    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.add(IndexerCursor(chain="evm:31337", position=90, head=100))
        session.add(IndexerCursor(chain="aptos:4", position=7, head=None))
    assert client.get("/health").json()["indexer_lag"] == 10
