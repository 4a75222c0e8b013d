"""Server-sent event streams over a real uvicorn server: order events and a relay's queue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from agihub_services.api.app import create_app
from agihub_services.api.settings import ApiSettings
from agihub_services.db import migrate
from agihub_services.db.engine import session_scope
from agihub_services.dev.ports import free_port
from tests.services.api.market_rows import CHAIN, RELAY_A, RELAY_B, order, order_event, seed_market

TIMEOUT = httpx.Timeout(10.0)


@pytest.fixture
def server(database_url: str, isolated_env: Path) -> Iterator[tuple[str, object]]:
    """The API served by uvicorn on a free port; yields its base URL and its engine."""
    migrate.upgrade(database_url)
    app = create_app(ApiSettings(AGIHUB_DATABASE_URL=database_url))  # type: ignore[call-arg]
    seed_market(app.state.engine)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app.state.engine
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _events(lines: Iterator[str], count: int) -> list[tuple[str, str, dict]]:
    """Read ``count`` (id, event, data) frames, skipping keep-alive comments."""
    out: list[tuple[str, str, dict]] = []
    frame: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line == "":
            if frame:
                out.append((frame.get("id", ""), frame["event"], json.loads(frame["data"])))
                frame = {}
            if len(out) == count:
                return out
            continue
        name, _, value = line.partition(": ")
        frame[name] = value
    raise AssertionError(f"stream ended after {len(out)} events")


def test_order_events_stream_history_then_new_rows(server: tuple[str, object]) -> None:
    base, engine = server
    url = f"{base}/orders/{CHAIN}/1/events"
    with httpx.stream("GET", url, params={"interval": 0.05}, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        history = _events(lines, 3)
        assert [(i, e["event"]) for i, _, e in history] == [
            ("10:0", "OrderCreated"),
            ("13:2", "OrderTaken"),
            ("15:0", "KeyRevealed"),
        ]
        with session_scope(engine) as s:  # type: ignore[arg-type]
            s.add(order_event(1, 16, 3, "Withdrawn", 4))
            s.add(order_event(2, 16, 4, "OtherOrder", 2))
        [(event_id, name, data)] = _events(lines, 1)
    assert (event_id, name, data["event"], data["order_id"]) == ("16:3", "order_event", "Withdrawn", 1)


def test_last_event_id_resumes_after_it(server: tuple[str, object]) -> None:
    base, _ = server
    headers = {"Last-Event-ID": "13:2"}
    with httpx.stream(
        "GET", f"{base}/orders/{CHAIN}/1/events", params={"interval": 0.05}, headers=headers, timeout=TIMEOUT
    ) as response:
        [(event_id, _, data)] = _events(response.iter_lines(), 1)
    assert (event_id, data["event"]) == ("15:0", "KeyRevealed")


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        (f"/orders/{CHAIN}/99/events", {}, 404, "not_found"),
        (f"/orders/{CHAIN}/1/events", {"Last-Event-ID": "yesterday"}, 422, "validation_error"),
        (f"/orders/{CHAIN}/1/events?interval=0", {}, 422, "validation_error"),
        (f"/relays/{CHAIN}/0xbad/queue", {}, 422, "validation_error"),
    ],
)
def test_streams_refuse_bad_requests_before_streaming(
    server: tuple[str, object], path: str, headers: dict[str, str], status: int, code: str
) -> None:
    base, _ = server
    response = httpx.get(base + path, headers=headers, timeout=TIMEOUT)
    assert response.status_code == status
    assert response.json()["error_code"] == code


def test_relay_queue_streams_open_orders_then_changes(server: tuple[str, object]) -> None:
    base, engine = server
    with httpx.stream(
        "GET", f"{base}/relays/{CHAIN}/{RELAY_A.lower()}/queue", params={"interval": 0.05}, timeout=TIMEOUT
    ) as response:
        lines = response.iter_lines()
        [(_, name, first)] = _events(lines, 1)
        assert (name, first["order_id"], first["state_name"]) == ("order", 3, "open")
        with session_scope(engine) as s:  # type: ignore[arg-type]
            s.add(order(7, 30, relays=[RELAY_B]))  # offered to another relay: not in this queue
            s.add(order(8, 30, relays=[RELAY_B, RELAY_A]))
        [(event_id, _, new)] = _events(lines, 1)
    assert (event_id, new["order_id"], new["relays"]) == ("30:8", 8, [RELAY_B, RELAY_A])
