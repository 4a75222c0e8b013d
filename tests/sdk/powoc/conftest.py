"""Real models for the scoring tests, trained once per session (~15 s on one core).

* ``v1``: a foundation trained on English prose (``pydoc_data.topics``, the general corpus);
* ``parent``: foundation version 2, ``v1`` trained further on the same prose;
* ``other``: an unrelated foundation (another initialisation, shorter training);
* ``child``: ``parent`` fine-tuned on Python source of standard-library modules that are NOT in
  the ``python-stdlib`` validation corpus, so the score measures generalisation to the domain.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

TRAIN_MODULES = (
    "inspect.py", "typing.py", "dataclasses.py", "enum.py", "functools.py", "pathlib.py",
    "shutil.py", "zipfile.py", "random.py", "textwrap.py", "subprocess.py", "threading.py",
)  # fmt: skip


@dataclass(frozen=True)
class Models:
    v1: Path
    parent: Path
    other: Path
    child: Path
    root: Path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    torch = pytest.importorskip("torch")  # the SDK's `powoc` extra
    from agihub.powoc import corpus, lm

    root = tmp_path_factory.mktemp("powoc-models")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only contend with the other tests on the machine
    try:
        prose = lm.tokens_of(corpus.corpus_bytes("pydoc-topics"))
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        assert not set(TRAIN_MODULES) & set(corpus.STDLIB_MODULES)
        code = lm.tokens_of(b"\n".join((stdlib / name).read_bytes() for name in TRAIN_MODULES))
        cfg = lm.LMConfig(d_model=64, n_layers=2, n_heads=4, context=64)
        torch.manual_seed(0)
        model = lm.build(cfg)
        lm.train(model, prose, steps=150, lr=3e-3)
        v1 = lm.save(model, root / "v1.safetensors")
        lm.train(model, prose, steps=40, lr=1e-3, seed=5)
        parent = lm.save(model, root / "parent.safetensors")
        lm.train(model, code, steps=120, lr=3e-3, seed=1)
        child = lm.save(model, root / "child.safetensors")
        torch.manual_seed(1)
        stranger = lm.build(cfg)
        lm.train(stranger, prose, steps=50, lr=3e-3, seed=7)
        other = lm.save(stranger, root / "other.safetensors")
    finally:
        torch.set_num_threads(threads)
    return Models(v1, parent, other, child, root)


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
