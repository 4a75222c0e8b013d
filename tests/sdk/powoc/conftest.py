"""Real models for the scoring tests, trained once per session (~15 s on one core).

* ``v1``: a foundation trained on English prose (``pydoc_data.topics``, the general corpus);
* ``parent``: foundation version 2, ``v1`` trained further on the same prose;
* ``other``: an unrelated foundation (another initialisation, shorter training);
* ``child``: ``parent`` fine-tuned on Python source of standard-library modules that are NOT in
  the ``python-stdlib`` validation corpus, so the score measures generalisation to the domain.
"""

from __future__ import annotations

import pytest

from tests.sdk.powoc.models_kit import Models, train_models


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    pytest.importorskip("torch")  # the SDK's `powoc` extra
    return train_models(tmp_path_factory.mktemp("powoc-models"))


@pytest.fixture(scope="session")
def seed() -> bytes:
    import hashlib

    return hashlib.sha256(b"a block hash").digest()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``agihub ARGS...`` in-process; returns (exit status, stdout, stderr)."""
    from agihub.cli import main as cli_main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = cli_main.main(list(args))
        except SystemExit as exc:  # typer exits after a successful command
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
