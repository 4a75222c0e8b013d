"""Relays, packages and a stalling relay for the worker's transfer tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agihub.identity import SecretKey
from agihub_worker.settings import DEV_NOSTR_KEY

WORKER_KEY = SecretKey.from_hex(DEV_NOSTR_KEY)


@contextmanager
def stalling_relay() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a relay that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def relay_spec(urls: list[str]) -> list[dict[str, str]]:
    return [{"url": url, "operator": f"op-{i}"} for i, url in enumerate(urls)]


def package_dir(base: Path, seed: int) -> tuple[Path, Path, str]:
    from tests.sdk.transfer.transfer_kit import make_package

    model, package, signed = make_package(base / f"model-{seed}", SecretKey.generate(), seed=seed)
    return model, package, signed.manifest.model_root
