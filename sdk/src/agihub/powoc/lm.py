"""The powoc language-model family: a byte-level causal transformer whose shape travels with its weights.

Every model of the family is one safetensors file whose ``__metadata__`` holds the config under
``agihub.powoc.lm`` (canonical JSON), so any member — the tests' 100k-parameter model or the
benchmark's 100M-parameter one — loads from its file alone::

    cfg = LMConfig(d_model=64, n_layers=2, n_heads=4, context=64)
    model = build(cfg)                      # random init (seeded by torch's global generator)
    train(model, tokens, steps=200, lr=3e-3)
    save(model, "parent.safetensors")       # float32 (or bfloat16) weights + config metadata
    model = load("parent.safetensors")      # float64 for scoring (see determinism.py)

Needs torch (the SDK's ``powoc`` extra); :func:`read_config` does not.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from agihub.powoc.errors import ModelLoadError
from agihub.powoc.lmconfig import METADATA_KEY, VOCAB, LMConfig, read_config

__all__ = ["METADATA_KEY", "VOCAB", "ByteLM", "LMConfig", "build", "load", "read_config", "save", "train"]


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then a GELU MLP."""

    def __init__(self, cfg: LMConfig) -> None:
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


class ByteLM(nn.Module):
    """Byte-level causal language model: logits over the next byte at every position."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(VOCAB, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, VOCAB, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def build(cfg: LMConfig) -> ByteLM:
    """A randomly initialised model (torch's global generator decides the weights)."""
    return ByteLM(cfg)


def save(model: ByteLM, path: str | os.PathLike[str], dtype: torch.dtype = torch.float32) -> Path:
    """Write the weights in ``dtype`` with the config in the metadata (temp file, then rename)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    state = {name: value.detach().to(dtype).contiguous() for name, value in model.state_dict().items()}
    save_file(state, str(tmp), metadata={METADATA_KEY: model.cfg.to_json()})
    os.replace(tmp, target)
    return target


def load(path: str | os.PathLike[str], dtype: torch.dtype = torch.float64) -> ByteLM:
    """Build the model a file describes and load its weights, widened to ``dtype``."""
    cfg = read_config(path)
    model = build(cfg).to(dtype)
    state = {name: value.to(dtype) for name, value in load_file(str(path)).items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"{path}: weights do not fit the stored config {cfg}: {exc}") from None
    return model.eval()


def train(
    model: ByteLM, tokens: torch.Tensor, steps: int, lr: float, batch: int = 16, seed: int = 0
) -> float:
    """AdamW with cosine decay on random windows of ``tokens``; returns the mean of the last 10 losses."""
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
        loss = F.cross_entropy(model(window[:, :-1]).reshape(-1, VOCAB), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        recent = [*recent[-9:], loss.item()]
    model.eval()
    return sum(recent) / len(recent)


def tokens_of(data: bytes) -> torch.Tensor:
    """Bytes as a long tensor of token ids."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
