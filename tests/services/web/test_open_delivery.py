"""The command the page shows: decrypt a sealed delivery, split and verify its shards, rebuild."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, pack_model
from agihub.storage.crypto import SEGMENT_OVERHEAD, seal_delivery
from agihub.storage.errors import PayloadError
from agihub.storage.package import shard_name
from agihub_services.web.open_delivery import main, plain_size_of

OPTIONS = PackOptions(k=2, n=4, chunk_size=64 * 1024, block_size=16 * 1024)


@pytest.fixture
def delivery(tmp_path: Path) -> tuple[Path, Path, Path, bytes, bytes]:
    """A packed model, relay shards 2 and 3 bundled and sealed as a relay's agent does."""
    from safetensors.numpy import save_file

    model = tmp_path / "model.safetensors"
    save_file({"w": np.arange(300_000, dtype=np.float32).reshape(600, 500)}, str(model))
    signed = pack_model(model, tmp_path / "pkg", SecretKey.generate(), Card(name="t"), options=OPTIONS)
    bundle = tmp_path / "relay.bundle"
    bundle.write_bytes(b"".join((tmp_path / "pkg" / shard_name(i)).read_bytes() for i in (2, 3)))
    sealed = tmp_path / "order-3.sealed"
    d = seal_delivery(bundle, sealed, segment_size=1024 * 1024)
    assert signed.manifest.shards
    return model, tmp_path / "pkg" / "manifest.json", sealed, d.order_key, d.salt


def test_plain_size_inverts_the_sealing_overhead() -> None:
    segment = 1024 * 1024
    for plain in (0, 1, segment - 1, segment, segment + 1, 3 * segment + 17):
        count = max(1, -(-plain // segment))
        assert plain_size_of(plain + count * SEGMENT_OVERHEAD) == plain
    with pytest.raises(PayloadError, match="truncated"):
        plain_size_of(SEGMENT_OVERHEAD - 1)


def test_the_command_rebuilds_the_model(delivery: tuple, tmp_path: Path) -> None:
    model, manifest, sealed, key, salt = delivery
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "agihub_services.web.open_delivery", str(sealed), "--key", "0x" + key.hex(),
         "--salt", "0x" + salt.hex(), "--manifest", str(manifest), "--out-dir", str(out),
         "--out", str(tmp_path / "rebuilt.safetensors")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"verified shards {shard_name(2)}, {shard_name(3)}" in run.stdout
    assert (tmp_path / "rebuilt.safetensors").read_bytes() == model.read_bytes()


def test_bad_input_fails_with_one_line(
    delivery: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, _, sealed, key, salt = delivery
    base = [str(sealed), "--key", "0x" + key.hex(), "--salt", "0x" + salt.hex()]
    assert main([str(sealed), "--key", "0x1234", "--salt", "0x" + salt.hex()]) == 1
    assert "--key must be 0x + 64 hex digits" in capsys.readouterr().err
    assert main([*base[:3], "--salt", "0x" + bytes(32).hex()]) == 1  # wrong salt: authentication fails
    assert "failed authentication" in capsys.readouterr().err
    other = tmp_path / "other"
    pack_model(model, other, SecretKey.generate(), Card(name="t"), options=PackOptions(k=2, n=3))
    assert main([*base, "--manifest", str(other / "manifest.json"), "--out-dir", str(tmp_path / "x")]) == 1
    assert "match no shard of this manifest" in capsys.readouterr().err
    truncated = tmp_path / "cut.sealed"
    truncated.write_bytes(sealed.read_bytes()[:-5])
    assert main([str(truncated), *base[1:]]) == 1
    assert "error:" in capsys.readouterr().err
