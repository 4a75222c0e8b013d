"""Fixtures for the relay node: settings in a temp data dir, the app, a TestClient and signed tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import Event, sign_event
from agihub_services.relay.app import create_app
from agihub_services.relay.settings import RelaySettings

PUBLIC_URL = "ws://testserver"


def make_settings(tmp_path: Path, **overrides: Any) -> RelaySettings:
    """Settings isolated in ``tmp_path`` (explicit arguments, so no environment leaks in)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "public_url": PUBLIC_URL,
        "max_message_length": 8192,
        "max_subscriptions": 4,
        "max_filters": 3,
        "max_limit": 5,
        "default_limit": 3,
        "max_event_tags": 10,
        "max_content_length": 2000,
        "max_blob_bytes": 1 << 20,
        "quota_bytes": 3 << 20,
        "stream_chunk_bytes": 1024,
    }
    values.update(overrides)
    return RelaySettings(**values)


@pytest.fixture
def settings(tmp_path: Path, isolated_env: Path) -> RelaySettings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: RelaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def key() -> SecretKey:
    return SecretKey.generate()


def blossom_header(key: SecretKey, verb: str, *hashes: str, expires_in: int = 600, **kw: Any) -> str:
    """``Authorization: Nostr <base64>`` for a kind-24242 token (overridable kind/created_at/tags)."""
    tags = [["t", verb], ["expiration", str(int(time.time()) + expires_in)]]
    tags += [["x", h] for h in hashes]
    ev = sign_event(
        key,
        kw.get("kind", kinds.BLOSSOM_AUTH),
        "test token",
        kw.get("tags", tags),
        created_at=kw.get("created_at"),
    )
    return encode_token(ev.to_dict())


def encode_token(obj: object) -> str:
    return "Nostr " + base64.b64encode(json.dumps(obj).encode()).decode()


def note(key: SecretKey, content: str = "hello", kind: int = 1, tags: list | None = None, **kw: Any) -> Event:
    return sign_event(key, kind, content, tags or [], created_at=kw.get("created_at"))


def recv_until(ws: Any, first: str, limit: int = 50) -> list:
    """Read messages until one whose type is ``first``; returns all read."""
    seen = []
    for _ in range(limit):
        message = json.loads(ws.receive_text())
        seen.append(message)
        if message[0] == first:
            return seen
    raise AssertionError(f"no {first} in {seen}")


def open_nostr(client: TestClient) -> Any:
    """Connect and consume the relay's AUTH challenge; returns (context manager, challenge)."""
    return client.websocket_connect("/")


def challenge_of(ws: Any) -> str:
    message = json.loads(ws.receive_text())
    assert message[0] == "AUTH"
    return message[1]


class RunningRelay:
    """A relay served by a real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, settings: RelaySettings, port: int) -> None:
        import threading

        import uvicorn

        self.settings, self.port = settings, port
        from agihub_services.relay.cli import uvicorn_options

        options = {**uvicorn_options(settings), "log_level": "warning"}
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningRelay:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def relay_server(tmp_path: Path, isolated_env: Path) -> Iterator[RunningRelay]:
    from agihub_services.dev.ports import free_port

    settings = make_settings(tmp_path, public_url="ws://127.0.0.1")
    port = free_port()
    settings.public_url = f"ws://127.0.0.1:{port}"
    with RunningRelay(settings, port) as running:
        yield running
