"""Bounded memory: pack and unpack a model several times the memory budget in a fresh process.

Peak RSS (``ru_maxrss``) is measured in a subprocess, relative to its baseline after imports
and after the test model was written (in 4 MiB pieces).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = r"""
import json, os, resource, sys
from pathlib import Path

from agihub.identity import SecretKey
from agihub.storage.manifest import Card, load_manifest
from agihub.storage.package import PackOptions, pack_model
from agihub.storage.unpack import private_version_key, unpack

work, private, workers = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
src = work / "model.safetensors"

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

base = peak_mib()
secret = os.urandom(32) if private else None
opts = PackOptions(workers=workers)
signed = pack_model(src, work / "pkg", SecretKey.generate(), Card(name="big"), options=opts, owner_secret=secret)
after_pack = peak_mib()
key = private_version_key(signed, secret) if private else None
shards = sorted((work / "pkg").glob("shard-*.bin"))
# Lose two data shards so every stripe is really decoded.
unpack(load_manifest(work / "pkg" / "manifest.json"), shards[2:], work / "out.safetensors",
       version_key=key, workers=workers)
after_unpack = peak_mib()
same = os.path.getsize(work / "out.safetensors") == os.path.getsize(src)
print(json.dumps({"base": base, "pack": after_pack - base, "unpack": after_unpack - base, "same_size": same}))
"""


@pytest.fixture
def work_dir(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory on tmpfs when there is one: the test measures memory, not the disk."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="agihub-mem-", dir=base)) if base else tmp_path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_big_model(path: Path, size_mib: int) -> None:
    """A valid safetensors file of ``size_mib`` MiB, written in 4 MiB pieces (never all in memory)."""
    tensor = 32 << 20
    count = (size_mib << 20) // tensor
    header = {
        f"t{i}": {"dtype": "U8", "shape": [tensor], "data_offsets": [i * tensor, (i + 1) * tensor]}
        for i in range(count)
    }
    text = json.dumps(header).encode()
    piece = os.urandom(4 << 20)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for i in range(count * 8):
            f.write(piece[i % 7 :] + piece[: i % 7])  # distinct pieces without GiBs of urandom


def _measure(work: Path, size_mib: int, private: bool, workers: int) -> dict[str, float]:
    write_big_model(work / "model.safetensors", size_mib)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(work), "1" if private else "0", str(workers)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("private", "workers"), [(False, 1), (True, 2)], ids=["public-1w", "private-2w"])
def test_256_mib_model_under_160_mib(work_dir: Path, private: bool, workers: int) -> None:
    figures = _measure(work_dir, 256, private, workers)
    assert figures["same_size"]
    assert figures["pack"] < 160, figures
    assert figures["unpack"] < 160, figures


@pytest.mark.slow
def test_2_gib_model_under_512_mib(work_dir: Path) -> None:
    figures = _measure(work_dir, 2048, True, 2)
    assert figures["same_size"]
    assert figures["pack"] < 512, figures
    assert figures["unpack"] < 512, figures
