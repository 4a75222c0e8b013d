"""A tiny byte-level transformer language model, trained on text that ships with Python.

Used by the delta-codec tests and ``tests/benchmarks/bench_delta.py`` to get a real parent model
and a real fine-tune of it without downloading anything:

* the parent learns Python source code (the standard library's own ``.py`` files);
* the child is the parent fine-tuned on English prose (the language reference topics that ship
  in ``pydoc_data.topics``), a different domain.

Needs torch (the SDK's ``powoc`` extra); the delta codec itself does not.
"""

from __future__ import annotations

import math
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

# A fixed list keeps the corpus identical across runs and machines with the same Python.
CODE_MODULES = (
    "argparse.py", "ast.py", "calendar.py", "collections/__init__.py", "dataclasses.py", "enum.py",
    "functools.py", "inspect.py", "json/decoder.py", "json/encoder.py", "pathlib.py", "random.py",
    "shutil.py", "statistics.py", "string.py", "textwrap.py", "typing.py", "zipfile.py",
)  # fmt: skip


@dataclass(frozen=True)
class TinyLMConfig:
    """Shape of the model."""

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    context: int = 64
    vocab: int = 256


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention then a GELU MLP."""

    def __init__(self, cfg: TinyLMConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.up = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.down = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(width, dim=2)
        heads = [t.view(batch, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v)]
        attn = F.scaled_dot_product_attention(*heads, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(batch, length, width))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class TinyLM(nn.Module):
    """Byte-level causal language model."""

    def __init__(self, cfg: TinyLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


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


def train(
    model: TinyLM, tokens: torch.Tensor, steps: int, lr: float, batch: int = 16, seed: int = 0
) -> float:
    """AdamW with cosine decay on random windows; returns the mean loss of the last 10 steps."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    ctx = model.cfg.context
    recent: list[float] = []
    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        starts = torch.randint(0, len(tokens) - ctx - 1, (batch,), generator=gen)
        window = torch.stack([tokens[s : s + ctx + 1] for s in starts.tolist()])
        loss = F.cross_entropy(model(window[:, :-1]).reshape(-1, model.cfg.vocab), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        recent = [*recent[-9:], loss.item()]
    model.eval()
    return sum(recent) / len(recent)


@torch.no_grad()
def evaluate(model: TinyLM, tokens: torch.Tensor, windows: int = 64) -> float:
    """Mean next-byte cross-entropy over evenly spaced, fixed validation windows."""
    ctx = model.cfg.context
    starts = torch.linspace(0, len(tokens) - ctx - 2, windows).long().tolist()
    window = torch.stack([tokens[s : s + ctx + 1] for s in starts])
    logits = model(window[:, :-1])
    return float(F.cross_entropy(logits.reshape(-1, model.cfg.vocab), window[:, 1:].reshape(-1)))


def save(model: TinyLM, path: Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write the weights as safetensors in ``dtype``."""
    state = {name: value.detach().to(dtype).contiguous() for name, value in model.state_dict().items()}
    save_file(state, str(path))
    return path


def load(path: Path, cfg: TinyLMConfig) -> TinyLM:
    """Build a model of shape ``cfg`` from a safetensors file (any float dtype; computes in float32)."""
    model = TinyLM(cfg)
    state = {name: value.float() for name, value in load_file(str(path)).items()}
    model.load_state_dict(state)
    return model.eval()
