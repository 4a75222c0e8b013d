"""A tiny byte-level transformer language model, trained on text that ships with Python.

Used by the delta-codec tests and ``tests/benchmarks/bench_delta.py`` to get a real parent model
and a real fine-tune of it without downloading anything:

* the parent learns Python source code (the standard library's own ``.py`` files);
* the child is the parent fine-tuned on English prose (the language reference topics that ship
  in ``pydoc_data.topics``), a different domain.

Needs torch (the SDK's ``powoc`` extra); the delta codec itself does not.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import torch
from torch.nn import functional as F

from agihub.powoc import lm

# A fixed list keeps the corpus identical across runs and machines with the same Python.
CODE_MODULES = (
    "argparse.py", "ast.py", "calendar.py", "collections/__init__.py", "dataclasses.py", "enum.py",
    "functools.py", "inspect.py", "json/decoder.py", "json/encoder.py", "pathlib.py", "random.py",
    "shutil.py", "statistics.py", "string.py", "textwrap.py", "typing.py", "zipfile.py",
)  # fmt: skip


# The model is the PoWoC language-model family (agihub.powoc.lm); these names keep the delta tests
# and bench_delta.py reading as before. ``vocab`` is the family's byte vocabulary.
TinyLMConfig = lm.LMConfig
TinyLM = lm.ByteLM
train = lm.train
save = lm.save


def code_text(max_bytes: int = 400_000) -> bytes:
    """Python source of a fixed set of standard-library modules."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return b"\n".join((root / name).read_bytes() for name in CODE_MODULES)[:max_bytes]


def prose_text(max_bytes: int = 400_000) -> bytes:
    """English prose: the language-reference topics shipped in ``pydoc_data.topics``."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics)).encode("utf-8")[:max_bytes]


def split(data: bytes, holdout: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation token tensors (the last ``holdout`` fraction is validation)."""
    tokens = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
    cut = int(len(tokens) * (1 - holdout))
    return tokens[:cut], tokens[cut:]


@torch.no_grad()
def evaluate(model: TinyLM, tokens: torch.Tensor, windows: int = 64) -> float:
    """Mean next-byte cross-entropy over evenly spaced, fixed validation windows."""
    ctx = model.cfg.context
    starts = torch.linspace(0, len(tokens) - ctx - 2, windows).long().tolist()
    window = torch.stack([tokens[s : s + ctx + 1] for s in starts])
    logits = model(window[:, :-1])
    return float(F.cross_entropy(logits.reshape(-1, lm.VOCAB), window[:, 1:].reshape(-1)))


def load(path: Path, cfg: TinyLMConfig) -> TinyLM:
    """The model in ``path`` computing in float32 (any stored float dtype)."""
    model = lm.load(path, torch.float32)
    assert model.cfg == cfg, f"{path} holds a {model.cfg}, not a {cfg}"
    return model
