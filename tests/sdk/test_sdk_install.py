"""The SDK installs alone into a fresh virtual environment and brings no server package along."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = {
    "fastapi",
    "uvicorn",
    "celery",
    "sqlalchemy",
    "alembic",
    "torch",
    "web3",
    "aptos-sdk",
    "agihub-services",
    "agihub-worker",
    "agihub-indexer",
}


def test_sdk_alone_in_a_fresh_venv(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            str(ROOT / "sdk"),
        ],
        check=True,
        timeout=600,
    )
    frozen = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {line.split("==")[0].lower() for line in frozen.splitlines()}
    assert "agihub" in installed
    assert installed.isdisjoint(SERVER_PACKAGES), installed & SERVER_PACKAGES
    probe = "import agihub, agihub.errors; print(agihub.__version__)"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == __import__("agihub").__version__
    cli = subprocess.run([str(env_dir / "bin" / "agihub"), "--help"], capture_output=True, text=True)
    assert cli.returncode == 0 and "Usage" in cli.stdout
    assert sys.prefix != str(env_dir)
