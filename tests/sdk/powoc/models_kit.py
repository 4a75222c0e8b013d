"""The scoring tests' real models, trained from scratch (~15 s on one core); shared with the worker's
validator tests. See conftest.py for what each model is."""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

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


def train_models(root: Path) -> Models:
    import torch

    from agihub.powoc import corpus, lm

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
