"""Relay benchmarks (not a test): blob GET vs nginx, event ingest/query vs the ``nostr-relay`` package.

Run: ``.venv/bin/python tests/benchmarks/bench_relay.py``

1. Blob GET over loopback with concurrent clients: MB/s on large blobs and latency on small ones, for
   ``agihub relay run`` and for nginx (Debian package, one worker, sendfile) serving the same files
   from the relay's blob directory. Goal: relay >= 50% of nginx's MB/s.
2. Nostr events: ingest (signed EVENTs answered by OK) and query (REQ, events delivered before EOSE)
   against the PyPI ``nostr-relay`` package in its own virtualenv (``NOSTR_RELAY_PYTHON`` or
   /tmp/nostr-relay-venv; install with ``python3.11 -m venv /tmp/nostr-relay-venv &&
   /tmp/nostr-relay-venv/bin/pip install nostr-relay==1.14``). Goal: relay >= 2x its events/s.

Both sides run as single processes on the same machine with the same client; an anchor that is not
installed is reported as skipped and its ratio is not printed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agihub.identity import SecretKey  # noqa: E402
from agihub.nostr.event import sign_event  # noqa: E402

BIG_BLOBS, BIG_SIZE, SMALL_SIZE = 4, 16 << 20, 1024
CLIENTS = 4
GET_SECONDS = 2.0
SMALL_REQUESTS = 300
EVENTS, QUERIES = 2000, 100
WINDOW = 20  # EVENTs each ingest client keeps in flight
ROUNDS = 3  # event measurements are repeated and the median reported
NOSTR_RELAY_PYTHON = Path(os.environ.get("NOSTR_RELAY_PYTHON", "/tmp/nostr-relay-venv/bin/python"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start_relay(tmp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "AGIHUB_DATA_DIR": str(tmp / "agihub"),
        "AGIHUB_RELAY_PUBLIC_URL": f"ws://127.0.0.1:{port}",
        # The benchmark is one address and one pubkey flooding on purpose.
        "AGIHUB_RELAY_RATE_PER_ADDRESS": "1e9",
        "AGIHUB_RELAY_BURST_PER_ADDRESS": "1000000000",
        "AGIHUB_RELAY_RATE_PER_PUBKEY": "1e9",
        "AGIHUB_RELAY_BURST_PER_PUBKEY": "1000000000",
        "AGIHUB_RELAY_MAX_BLOB_BYTES": str(BIG_SIZE * 2),
        "AGIHUB_RELAY_MAX_LIMIT": "100",
    }
    cmd = [str(Path(sys.executable).with_name("agihub")), "relay", "run", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def blossom_header(key: SecretKey, verb: str, digest: str) -> str:
    expiration = str(int(time.time()) + 600)
    token = sign_event(key, 24242, "bench", [["t", verb], ["x", digest], ["expiration", expiration]])
    return "Nostr " + base64.b64encode(token.to_json().encode()).decode()


def upload_blobs(port: int) -> tuple[list[str], str]:
    key = SecretKey.generate()
    hashes = []
    for i in range(BIG_BLOBS + 1):
        data = os.urandom(BIG_SIZE if i < BIG_BLOBS else SMALL_SIZE)
        digest = hashlib.sha256(data).hexdigest()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request(
            "PUT", "/upload", body=data, headers={"Authorization": blossom_header(key, "upload", digest)}
        )
        response = conn.getresponse()
        assert response.status == 201, response.read()
        response.read()
        conn.close()
        hashes.append(digest)
    return hashes[:BIG_BLOBS], hashes[-1]


def start_nginx(tmp: Path, blob_dir: Path) -> tuple[subprocess.Popen, int] | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        return None
    port, conf_dir = free_port(), tmp / "nginx"
    conf_dir.mkdir()
    conf = conf_dir / "nginx.conf"
    conf.write_text(
        # Blob files are 0600 (mkstemp): the worker must run as the user that owns them.
        (f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else "")
        + f"""
worker_processes 1;
daemon off;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {conf_dir}/body;
    proxy_temp_path {conf_dir}/proxy;
    fastcgi_temp_path {conf_dir}/fastcgi;
    uwsgi_temp_path {conf_dir}/uwsgi;
    scgi_temp_path {conf_dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {blob_dir};
        location ~ "^/([0-9a-f]{{2}})([0-9a-f]{{62}})$" {{ try_files /$1/$1$2 =404; }}
    }}
}}
"""
    )
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(conf_dir)], stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def get_throughput(port: int, hashes: list[str]) -> float:
    """MB/s of CLIENTS threads each downloading large blobs in a loop for GET_SECONDS."""
    totals = [0] * CLIENTS
    stop = time.monotonic() + GET_SECONDS

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            conn.request("GET", "/" + hashes[index % len(hashes)])
            response = conn.getresponse()
            assert response.status == 200, response.status
            while chunk := response.read(1 << 20):
                totals[index] += len(chunk)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(totals) / (time.monotonic() - started) / 1e6


def get_latency(port: int, digest: str) -> tuple[float, float]:
    """p50 and p99 milliseconds of small-blob GETs from CLIENTS concurrent keep-alive clients."""
    samples: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        for _ in range(SMALL_REQUESTS // CLIENTS):
            t0 = time.perf_counter()
            conn.request("GET", "/" + digest)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            mine.append((time.perf_counter() - t0) * 1000)
        conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def start_nostr_relay(tmp: Path) -> tuple[subprocess.Popen, int] | None:
    if not NOSTR_RELAY_PYTHON.exists():
        return None
    port, work = free_port(), tmp / "nostr-relay"
    work.mkdir()
    (work / "config.yaml").write_text(
        json.dumps(
            {
                "DEBUG": False,
                "storage": {
                    "sqlalchemy.url": f"sqlite+aiosqlite:///{work / 'nostr.sqlite3'}",
                    "num_concurrent_reqs": 10,
                    "num_concurrent_adds": 2,
                    "validators": [
                        "nostr_relay.validators.is_not_too_large",
                        "nostr_relay.validators.is_signed",
                        "nostr_relay.validators.is_recent",
                    ],
                },
                "gunicorn": {"bind": f"127.0.0.1:{port}", "workers": 1, "loglevel": "warning"},
                "verification": {"nip05_verification": "disabled"},
                "authentication": {"enabled": False},
                "max_limit": 100,
                "subscription_limit": 32,
            }
        )
    )
    cmd = [
        str(NOSTR_RELAY_PYTHON.with_name("nostr-relay")),
        "-c",
        str(work / "config.yaml"),
        "serve",
        "--use-uvicorn",
    ]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, timeout=60)
    return proc, port


def signed_events(round_: int = 0) -> list[list[str]]:
    """CLIENTS lists of pre-signed EVENT frames (signing is the client's cost, not the relay's)."""
    keys = [SecretKey.generate() for _ in range(CLIENTS)]
    now = int(time.time())
    frames: list[list[str]] = [[] for _ in range(CLIENTS)]
    for i in range(EVENTS):
        tags = [["t", "bench"], ["t", f"n{i % 50}"]]
        # Spread over the last hour, like history a client or mirror publishes (and within is_recent).
        content = f"bench note {round_}.{i}"
        ev = sign_event(keys[i % CLIENTS], 1, content, tags, created_at=now - (i * 7) % 3000)
        frames[i % CLIENTS].append(json.dumps(["EVENT", ev.to_dict()]))
    return frames


async def _ingest_client(url: str, frames: list[str]) -> int:
    """Publish with up to WINDOW EVENTs awaiting their OK, as a bulk publisher or mirror does."""
    async with connect(url, max_size=None, compression=None) as ws:
        window = asyncio.Semaphore(WINDOW)
        accepted = 0

        async def read_oks() -> None:
            nonlocal accepted
            answered = 0
            while answered < len(frames):
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
                if message[0] == "OK":
                    answered += 1
                    accepted += bool(message[2])
                    window.release()

        reader = asyncio.create_task(read_oks())
        for frame in frames:
            await window.acquire()
            await ws.send(frame)
        await reader
        return accepted


async def _query_client(url: str, count: int) -> int:
    delivered = 0
    async with connect(url, max_size=None, compression=None) as ws:
        for i in range(count):
            await ws.send(json.dumps(["REQ", f"q{i}", {"kinds": [1], "#t": ["bench"], "limit": 100}]))
            while (message := json.loads(await asyncio.wait_for(ws.recv(), 60)))[0] != "EOSE":
                delivered += message[0] == "EVENT"
            await ws.send(json.dumps(["CLOSE", f"q{i}"]))
    return delivered


def event_rates(port: int, frames: list[list[str]]) -> tuple[float, float]:
    url = f"ws://127.0.0.1:{port}"
    t0 = time.perf_counter()
    accepted = asyncio.run(_gather(*[_ingest_client(url, f) for f in frames]))
    ingest = sum(accepted) / (time.perf_counter() - t0)
    if sum(accepted) != EVENTS:
        print(f"   warning: {sum(accepted)} of {EVENTS} events accepted")
    t0 = time.perf_counter()
    delivered = asyncio.run(_gather(*[_query_client(url, QUERIES // CLIENTS) for _ in range(CLIENTS)]))
    return ingest, sum(delivered) / (time.perf_counter() - t0)


def median_rates(port: int, rounds: list[list[list[str]]]) -> tuple[float, float]:
    """Median ingest and query rates over ROUNDS runs (loopback on 2 cores is noisy)."""
    results = [event_rates(port, frames) for frames in rounds]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


async def _gather(*coroutines):  # type: ignore[no-untyped-def]
    return await asyncio.gather(*coroutines)


def row(label: str, ours: float, anchor: float | None, unit: str, goal: str) -> None:
    ratio = f"{ours / anchor:5.2f}x" if anchor else "  n/a"
    anchor_text = f"{anchor:10.1f}" if anchor else "   skipped"
    print(f"{label:<28} relay {ours:10.1f} {unit:<9} anchor {anchor_text}  ratio {ratio}  (goal {goal})")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        relay, port = start_relay(tmp)
        nginx = nostr = None
        try:
            big, small = upload_blobs(port)
            nginx = start_nginx(tmp, tmp / "agihub" / "relay" / "blobs")
            print(
                f"blob GET: {CLIENTS} concurrent clients, {BIG_BLOBS} x {BIG_SIZE >> 20} MiB,"
                f" median of {ROUNDS} rounds of {GET_SECONDS:.0f} s"
            )
            # Interleaved rounds, median of each: both servers see the same machine noise.
            ours_runs, nginx_runs = [], []
            for _ in range(ROUNDS):
                ours_runs.append(get_throughput(port, big))
                if nginx:
                    nginx_runs.append(get_throughput(nginx[1], big))
            ours_mb = statistics.median(ours_runs)
            nginx_mb = statistics.median(nginx_runs) if nginx else None
            row("blob GET throughput", ours_mb, nginx_mb, "MB/s", ">= 0.5x nginx")
            p50, p99 = get_latency(port, small)
            n50, n99 = get_latency(nginx[1], small) if nginx else (None, None)
            row("1 KiB GET latency p50", p50, n50, "ms", "lower is better")
            row("1 KiB GET latency p99", p99, n99, "ms", "lower is better")
            rounds = [signed_events(r) for r in range(ROUNDS)]
            nostr = start_nostr_relay(tmp)
            print(
                f"events: {CLIENTS} clients, {EVENTS} signed kind-1 events ({WINDOW} in flight per client),"
                f" {QUERIES} REQs of limit 100; median of {ROUNDS} rounds"
            )
            ingest, query = median_rates(port, rounds)
            anchor_ingest, anchor_query = median_rates(nostr[1], rounds) if nostr else (None, None)
            row("event ingest", ingest, anchor_ingest, "events/s", ">= 2x nostr-relay")
            row("event query", query, anchor_query, "events/s", ">= 2x nostr-relay")
        finally:
            for proc in (relay, nginx and nginx[0], nostr and nostr[0]):
                if proc:
                    proc.terminate()
                    proc.wait(timeout=10)


if __name__ == "__main__":
    main()
