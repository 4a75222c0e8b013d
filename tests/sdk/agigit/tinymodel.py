"""A tiny torch model with numbered layers, and a real fine-tune of chosen parameter groups.

Parameter names (``embed.weight``, ``layers.0.attn.weight``, ..., ``head.bias``) give the groups
``embed``, ``layers.0``, ``layers.1``, ``head``. Fine-tunes run a few SGD steps of next-token
prediction on seeded random tokens with every parameter outside ``train`` frozen, so only those
groups change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

VOCAB = 64


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.attn = nn.Linear(d, d)
        self.mlp = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(torch.relu(self.attn(x)))


class Tiny(nn.Module):
    def __init__(self, d: int = 32, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.layers = nn.ModuleList(Block(d) for _ in range(layers))
        self.head = nn.Linear(d, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for block in self.layers:
            x = block(x)
        return self.head(x)


def make_model(path: Path, seed: int = 0, d: int = 32, layers: int = 2) -> Path:
    """A freshly initialised model saved as safetensors."""
    torch.manual_seed(seed)
    save_file(Tiny(d, layers).state_dict(), str(path))
    return path


def finetune(
    src: Path, dst: Path, train: tuple[str, ...], seed: int = 1, steps: int = 3, lr: float = 0.05
) -> Path:
    """Train only parameters whose name starts with one of ``train``; save to ``dst``."""
    state = load_file(str(src))
    d = state["embed.weight"].shape[1]
    model = Tiny(d)
    model.load_state_dict(state)
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(train)
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        tokens = torch.randint(0, VOCAB, (8, 17), generator=generator)
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(dst))
    return dst


def arrays(path: Path) -> dict[str, np.ndarray]:
    return load_numpy(str(path))
