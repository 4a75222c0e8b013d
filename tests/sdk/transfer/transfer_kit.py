"""Real relays and real packages for transfer tests (shared with the worker tests).

Relays are the relay node's ASGI app served by uvicorn on free loopback ports, in threads of the
test process: the same code `agihub relay run` serves. A "dead" relay is a URL where nothing
listens (connection refused), which is what a client sees of a relay whose machine is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, SignedManifest, pack_model
from agihub_services.dev.ports import free_port
from tests.services.relay.conftest import RunningRelay, make_settings


def dead_url() -> str:
    """A loopback URL with nothing listening."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def relay_fleet(base: Path, count: int) -> Iterator[list[RunningRelay]]:
    """``count`` running relays, each with its own data directory under ``base``."""
    with ExitStack() as stack:
        relays = []
        for i in range(count):
            port = free_port()
            settings = make_settings(
                base / f"relay-{i}",
                public_url=f"ws://127.0.0.1:{port}",
                max_blob_bytes=64 << 20,
                quota_bytes=1 << 30,
            )
            relays.append(stack.enter_context(RunningRelay(settings, port)))
        yield relays


def write_model(path: Path, seed: int = 0, rows: int = 256) -> Path:
    rng = np.random.default_rng(seed)
    tensors = {
        "embed.weight": rng.standard_normal((rows, 64)).astype(np.float32),
        "layers.0.weight": rng.standard_normal((64, 64)).astype(np.float32),
        "layers.0.bias": rng.standard_normal(64).astype(np.float32),
    }
    save_file(tensors, str(path))
    return path


def make_package(
    base: Path, key: SecretKey, *, k: int = 3, n: int = 6, seed: int = 0, rows: int = 256, name: str = "m"
) -> tuple[Path, Path, SignedManifest]:
    """A packed public model: (model file, package directory, signed manifest)."""
    base.mkdir(parents=True, exist_ok=True)
    model = write_model(base / f"{name}.safetensors", seed, rows)
    out = base / f"{name}-package"
    options = PackOptions(k=k, n=n, chunk_size=16 << 10, block_size=4 << 10)
    signed = pack_model(model, out, key, Card(name=name), options=options)
    return model, out, signed
