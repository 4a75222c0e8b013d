"""`make demo` runs the same code: the walk-through must finish, and say what it proved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EVM_DIR = Path(__file__).resolve().parents[2] / "contracts" / "evm"


@pytest.mark.skipif(
    not (EVM_DIR / "node_modules" / "hardhat").is_dir(), reason="hardhat not installed: run `make install`"
)
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGIHUB_")}
    result = subprocess.run(
        [sys.executable, "-m", "agihub.cli.main", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "demo finished" in out
    assert "byte-identical to the contributor's: True" in out
    assert "contribution #1 is final with score" in out and "committed on chain" in out
    assert "contributor claimed its share" in out
    assert "lossless delta against the foundation" in out
    assert "from relay-b's shards [2, 3] alone" in out
    assert "order #1 is COMPLETED in the shared database" in out
    assert "paid 0.010725 ETH" in out  # cost + tip - 2.5% fee, exactly
    assert "anyone else gets HTTP 403" in out  # the delivery is served to the buyer only
    # It stops what it started: no state left in the working directory.
    assert list(tmp_path.iterdir()) == []
