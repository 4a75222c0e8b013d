"""Fixtures for the Move package checks: the parsed contracts/move package and the compiled Vyper
ABI it is cross-checked against (helpers in move_source.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.contracts.move.move_source import MOVE_DIR, VYPER_MARKET, MovePackage, read_package


@pytest.fixture(scope="session")
def move_package() -> MovePackage:
    """The parsed contracts/move package."""
    assert MOVE_DIR.is_dir(), f"{MOVE_DIR} is missing"
    return read_package()


@pytest.fixture(scope="session")
def vyper_abi() -> list[dict[str, Any]]:
    """ABI of contracts/evm/market.vy compiled with the project's vyper; fails (never skips) if absent."""
    assert VYPER_MARKET.is_file(), f"{VYPER_MARKET} is missing: the Vyper port must exist for the cross-check"
    done = subprocess.run(
        [sys.executable, "-m", "vyper", "-f", "abi", str(VYPER_MARKET)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"vyper failed on {VYPER_MARKET}:\n{done.stderr[-2000:]}"
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def vyper_source() -> str:
    """Text of contracts/evm/market.vy."""
    assert VYPER_MARKET.is_file(), f"{VYPER_MARKET} is missing"
    return VYPER_MARKET.read_text(encoding="utf-8")
