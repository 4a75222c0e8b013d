"""Latency of filtered ``GET /orders`` pages over 1,000,000 orders in PostgreSQL (goal: p99 <= 50 ms).

Run: ``.venv/bin/python tests/benchmarks/bench_api.py [--rows N] [--repeat N]`` with PostgreSQL on
127.0.0.1:5432 (``AGIHUB_TEST_PG_URL``). Rows are bulk-loaded with COPY into a fresh, migrated
database that is dropped afterwards. Every query is timed twice: through the API (uvicorn in a child process, HTTP with keep-alive:
routing, validation, cursor, SQLAlchemy, JSON) and, as the anchor, the same SQL statement sent directly
with psycopg, so the ratio is the API's own overhead over the database's work.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
from eth_utils import to_checksum_address
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from agihub_services.api import pagination
from agihub_services.api.routes.orders import _filtered
from agihub_services.db import migrate
from agihub_services.db.schema import MarketOrder
from agihub_services.dev.ports import free_port

log = logging.getLogger("bench_api")
ADMIN_URL = os.environ.get("AGIHUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHAIN = "evm:31337"
COLUMNS = [c.name for c in MarketOrder.__table__.columns]


def _address(n: int, salt: int) -> str:
    return to_checksum_address(f"{salt:02x}{n:038x}")


def _rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Orders spread over 1,000 buyers, 50 relays, 100 models and 7 states, ~10 per block."""
    buyers = [_address(i, 1) for i in range(1000)]
    relays = [_address(i, 2) for i in range(50)]
    models = ["0x" + f"{i:064x}" for i in range(100)]
    for order_id in range(count):
        block = order_id // 10
        state = rng.randrange(1, 7)
        offered = rng.sample(relays, 3)
        values = {
            "chain": CHAIN,
            "order_id": order_id,
            "buyer": rng.choice(buyers),
            "model_root": rng.choice(models),
            "relays": psycopg.types.json.Jsonb(offered),
            "state": state,
            "down": "10",
            "cost": str(rng.randrange(10**18)),
            "tip": "0",
            "deadline": block + 100,
            "ack_window": 10,
            "reveal_window": 10,
            "taker": offered[0] if state >= 2 else None,
            "created_block": block,
            "updated_block": block + rng.randrange(5),
        }
        yield tuple(values.get(c) for c in COLUMNS)


def load(url: str, count: int) -> None:
    rng = random.Random(7)
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY orders ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in _rows(count, rng):
                copy.write_row(row)
        cur.execute("ANALYZE orders")
    print(f"loaded {count:,} orders with COPY in {time.perf_counter() - started:.1f} s")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm caches and plans
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _sql(params: dict[str, Any], limit: int) -> str:
    """The statement the route runs for ``params``, with its values inlined for psycopg."""
    filters = {
        k: params.get(k) for k in ("chain", "buyer", "relay", "model", "state", "from_block", "to_block")
    }
    after = None
    if "cursor" in params:
        after = pagination.decode_cursor(params["cursor"], pagination.filter_digest(filters), (int, str, int))
    query = _filtered(select(MarketOrder), filters, after).limit(limit + 1)
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def run(url: str, count: int, repeat: int) -> None:
    """Serve the API with uvicorn in a child process and time it over HTTP with keep-alive."""
    port = free_port()
    env = {**os.environ, "AGIHUB_DATABASE_URL": url, "AGIHUB_API_PORT": str(port)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "agihub_services.api.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            _wait_ready(client)
            _compare(client, url, count, repeat)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the API did not start")


def _compare(client: httpx.Client, url: str, count: int, repeat: int) -> None:
    rng = random.Random(11)
    deep = client.get("/orders", params={"limit": 50, "from_block": count // 20}).json()["next_cursor"]
    cases: dict[str, dict[str, Any]] = {
        "buyer": {"buyer": _address(rng.randrange(1000), 1)},
        "relay+state": {"relay": _address(rng.randrange(50), 2), "state": 4},
        "model": {"model": "0x" + f"{rng.randrange(100):064x}"},
        "state": {"state": 1},
        "time range": {"from_block": count // 40, "to_block": count // 20},
        "page 2 (cursor)": {"from_block": count // 20, "cursor": deep},
    }
    print(f"{'query':<16} {'api p50':>8} {'api p99':>8} {'sql p50':>8} {'sql p99':>8} {'ratio p99':>9}")
    worst = 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        for name, params in cases.items():
            response = client.get("/orders", params={"limit": 50, **params})
            assert response.status_code == 200, response.text
            api = _time(
                lambda p=params: client.get("/orders", params={"limit": 50, **p}).raise_for_status(), repeat
            )
            sql = _sql(params, 50)
            anchor = _time(lambda s=sql: conn.execute(s).fetchall(), repeat)
            (a50, a99), (s50, s99) = _percentiles(api), _percentiles(anchor)
            worst = max(worst, a99)
            print(f"{name:<16} {a50:>7.2f}ms {a99:>7.2f}ms {s50:>7.2f}ms {s99:>7.2f}ms {a99 / s99:>8.1f}x")
    print(f"worst API p99 {worst:.2f} ms (goal <= 50 ms): {'met' if worst <= 50 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    name = f"agihub_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        migrate.upgrade(url)
        load(url, args.rows)
        run(url, args.rows, args.repeat)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
