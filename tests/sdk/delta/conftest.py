"""Fixtures of the delta-codec tests: a real tiny LM and a real fine-tune of it, trained once.

The parent is trained on Python source from the standard library and the child fine-tunes it on
English prose from ``pydoc_data``; both ship with Python, so nothing is downloaded. Training takes
~10 s on two cores and is shared by the whole session.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard


@dataclass(frozen=True)
class TinyModels:
    """Paths of the trained models plus what is needed to evaluate them."""

    cfg: object  # tinylm.TinyLMConfig
    parent: Path
    child: Path
    parent_bf16: Path
    child_bf16: Path
    prose_val: object  # torch.Tensor of validation bytes


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Parent (code) and child (code, then prose fine-tune) tiny LMs as f32 and bf16 safetensors."""
    torch = pytest.importorskip("torch")  # the tiny LM needs the SDK's `powoc` extra
    import tinylm

    root = tmp_path_factory.mktemp("tinylm")
    torch.manual_seed(0)
    cfg = tinylm.TinyLMConfig()
    model = tinylm.TinyLM(cfg)
    code_train, _ = tinylm.split(tinylm.code_text(200_000))
    prose_train, prose_val = tinylm.split(tinylm.prose_text(200_000))
    tinylm.train(model, code_train, steps=200, lr=3e-3)
    parent = tinylm.save(model, root / "parent.safetensors")
    parent_bf16 = tinylm.save(model, root / "parent-bf16.safetensors", torch.bfloat16)
    tinylm.train(model, prose_train, steps=60, lr=3e-4, seed=1)
    child = tinylm.save(model, root / "child.safetensors")
    child_bf16 = tinylm.save(model, root / "child-bf16.safetensors", torch.bfloat16)
    return TinyModels(cfg, parent, child, parent_bf16, child_bf16, prose_val)


@pytest.fixture
def rewrite_header() -> Callable[[bytes, Callable[[dict], None]], bytes]:
    """A function returning a delta with its JSON header changed by ``edit`` (payloads untouched)."""
    return _rewrite_header


def _rewrite_header(delta: bytes, edit: Callable[[dict], None]) -> bytes:
    magic, version, length = struct.unpack_from("<8sHI", delta)
    header = json.loads(zstandard.ZstdDecompressor().decompress(delta[14 : 14 + length]))
    edit(header)
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(json.dumps(header).encode())
    out = io.BytesIO()
    out.write(struct.pack("<8sHI", magic, version, len(blob)) + blob + delta[14 + length :])
    return out.getvalue()
