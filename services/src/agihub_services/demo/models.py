"""The demo's models: a small byte-level transformer language model trained here, on text that ships
with Python, and a domain fine-tune of it (no download, fixed seeds).

The foundation learns English prose (the language reference, ``pydoc_data.topics``); the domain model
is the foundation trained further on Python source of standard-library modules that are not in the
PoWoC validation corpus, so its score measures what it learned about Python code in general.
"""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

#: Standard-library modules the fine-tune reads (none of them is in the validation corpus).
DOMAIN_MODULES = ("inspect.py", "typing.py", "dataclasses.py", "enum.py", "functools.py", "pathlib.py")


def train(workdir: Path) -> tuple[Path, Path]:
    """Train the foundation and its domain fine-tune; returns their safetensors files."""
    import torch

    from agihub.powoc import corpus, lm

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only contend
    try:
        torch.manual_seed(0)
        model = lm.build(lm.LMConfig(d_model=64, n_layers=2, n_heads=4, context=64))
        lm.train(model, lm.tokens_of(corpus.corpus_bytes("pydoc-topics")), steps=160, lr=3e-3)
        foundation = lm.save(model, workdir / "foundation.safetensors")
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        code = b"\n".join((stdlib / name).read_bytes() for name in DOMAIN_MODULES)
        lm.train(model, lm.tokens_of(code), steps=120, lr=3e-3, seed=1)
        domain = lm.save(model, workdir / "domain.safetensors")
    finally:
        torch.set_num_threads(threads)
    return foundation, domain


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
