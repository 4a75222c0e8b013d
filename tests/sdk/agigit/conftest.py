"""Fixtures for agigit: real relays on loopback, repositories in temp dirs, the CLI in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agihub.cli.agigit import main
from tests.services.relay.conftest import RunningRelay, make_settings

RELAY_LIMITS = {
    "max_message_length": 1 << 20,
    "max_subscriptions": 20,
    "max_filters": 10,
    "max_limit": 500,
    "default_limit": 100,
    "max_event_tags": 100,
    "max_content_length": 65536,
    "max_blob_bytes": 64 << 20,
    "quota_bytes": 1 << 30,
}


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs ``agigit`` in-process in a given directory, as a user would in a shell."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, cwd: Path, *argv: str) -> Result:
        previous = Path.cwd()
        os.chdir(cwd)
        self.capsys.readouterr()
        try:
            try:
                code = main(list(argv))
            except SystemExit as exc:  # click ends successful runs with SystemExit(0)
                code = int(exc.code or 0)
        finally:
            os.chdir(previous)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, cwd: Path, *argv: str) -> str:
        result = self(cwd, *argv)
        assert result.code == 0, f"agigit {' '.join(argv)} failed: {result.err}"
        return result.out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], isolated_env: Path) -> Cli:
    return Cli(capsys)


def _relay(base: Path, name: str, **overrides: object) -> RunningRelay:
    from agihub_services.dev.ports import free_port

    port = free_port()
    settings = make_settings(
        base / name, public_url=f"ws://127.0.0.1:{port}", **{**RELAY_LIMITS, **overrides}
    )
    return RunningRelay(settings, port)


@pytest.fixture
def relays(tmp_path: Path, isolated_env: Path) -> Iterator[list[RunningRelay]]:
    """Two relay nodes (Nostr relay + Blossom blob store), each a real uvicorn server."""
    with _relay(tmp_path, "relay-a") as a, _relay(tmp_path, "relay-b") as b:
        yield [a, b]


@pytest.fixture
def auth_relay(tmp_path: Path, isolated_env: Path) -> Iterator[RunningRelay]:
    """A relay that stores events only from NIP-42-authenticated clients."""
    with _relay(tmp_path, "relay-auth", auth_required=True) as relay:
        yield relay


def snapshot(work: Path) -> dict[str, bytes]:
    """Every file of a work tree and its repository, except caches and staging."""
    out = {}
    for path in sorted(work.rglob("*")):
        rel = path.relative_to(work).as_posix()
        if path.is_file() and not rel.endswith("index.json") and "/tmp/" not in f"/{rel}":
            out[rel] = path.read_bytes()
    return out
