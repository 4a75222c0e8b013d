"""The public surface of agihub.agigit, the error tree, and the installed command in a real process."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import agihub.agigit as agigit
from agihub.errors import AgihubError
from tests.sdk.agigit.tinymodel import make_model

EXPECTED = {
    "AgigitError", "Commit", "CommitBody", "Config", "CorruptObjectError", "DirtyTreeError", "DivergedError",
    "GroupDiff", "IncompatibleLayoutError", "MergeReport", "MissingModelError", "NoCommonAncestorError",
    "NoRelaysError", "NotARepositoryError", "NothingToCommitError", "PartConflictError", "PartDiff",
    "PartTooLargeError", "PartVersion", "Relay", "RemoteError", "Repository", "RepositoryExistsError",
    "RepositoryLockedError", "UnknownCommitError", "UnknownGroupError", "UnknownPartError", "UnknownPartVersionError",
    "group_of", "history", "parse_commit", "remote", "sign_commit", "worktree",
}  # fmt: skip


def test_public_surface() -> None:
    assert set(agigit.__all__) == EXPECTED
    assert all(hasattr(agigit, name) for name in agigit.__all__)


def test_every_error_is_an_agigit_error() -> None:
    errors = [obj for name, obj in vars(agigit).items() if name.endswith("Error") and inspect.isclass(obj)]
    assert len(errors) == 19
    assert all(issubclass(cls, agigit.AgigitError) and issubclass(cls, AgihubError) for cls in errors)


def agigit_process(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agihub.cli.agigit", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_in_a_real_process(tmp_path: Path, isolated_env: Path) -> None:
    assert agigit_process(tmp_path, "init", "--k", "2", "--n", "3").returncode == 0
    make_model(tmp_path / "model.safetensors")
    done = agigit_process(tmp_path, "commit", "-m", "first")
    assert done.returncode == 0 and "(full)" in done.stdout
    bad = agigit_process(tmp_path, "checkout", "abcdef12")
    assert bad.returncode == 1
    assert bad.stderr == "error: no commit abcdef12 in this repository; see `agigit log`, or `agigit fetch`\n"
    usage = agigit_process(tmp_path, "merge")
    assert usage.returncode == 2
