"""A migrated database (SQLite and PostgreSQL) filled with market rows, and a client of the API over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agihub_services.api.app import create_app
from agihub_services.api.settings import ApiSettings
from agihub_services.db import migrate
from tests.services.api.market_rows import seed_market


@pytest.fixture
def market(database_url: str, isolated_env: Path) -> Iterator[TestClient]:
    """A client of the API over a database seeded by :func:`seed_market`."""
    migrate.upgrade(database_url)
    settings = ApiSettings(AGIHUB_DATABASE_URL=database_url)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        seed_market(client.app.state.engine)  # type: ignore[attr-defined]
        yield client


def assert_invalid(response, field: str) -> None:  # type: ignore[no-untyped-def]
    """A 422 whose body names ``field``."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "validation_error"
    assert body["field"] == field, body
