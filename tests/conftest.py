"""Suite-wide options (``--full`` switches slow tests on, for ``make test-full``) and shared fixtures."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# CI machines are shared and loaded: a per-example deadline would turn slowness into flaky failures.
hypothesis_settings.register_profile("agihub", deadline=None)
hypothesis_settings.load_profile("agihub")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help="run slow fault-injection and fuzz tests too")


def pytest_configure(config: pytest.Config) -> None:
    config.full_run = config.getoption("--full")  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--full"):
        return
    skip_slow = pytest.mark.skip(reason="slow: runs in `make test-full`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# --- shared infrastructure fixtures -----------------------------------------------------------------
# PostgreSQL and Redis run on 127.0.0.1 on CI and developer machines. Where one is absent the tests
# that need it are skipped with a visible reason (pytest -ra prints it), never silently.

PG_ADMIN_URL = os.environ.get("AGIHUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("AGIHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    return _tcp_open("127.0.0.1", 5432)


def redis_available() -> bool:
    return _tcp_open("127.0.0.1", 6379)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AGIHUB_* variable leaks in from the machine; the data dir is a temp folder."""
    for name in list(os.environ):
        if name.startswith("AGIHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGIHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _create_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"agihub_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (set up by CI machines)")
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every database-touching test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    yield request.getfixturevalue("postgres_url")


_redis_db_counter = iter(range(1_000_000))


def _next_redis_db() -> int:
    """Databases 1-7 for xdist worker gw0 (or a serial run), 8-14 for gw1: parallel tests never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = 7 * (int(worker.removeprefix("gw") or 0) % 2)
    return 1 + offset + next(_redis_db_counter) % 7


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own, flushed afterwards."""
    if not redis_available():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (set up by CI machines)")
    import redis

    db = _next_redis_db()
    url = f"{REDIS_TEST_URL}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(params=["filesystem", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Celery tests run on kombu's filesystem transport and on Redis."""
    if request.param == "filesystem":
        return "filesystem://"
    return request.getfixturevalue("redis_url")
