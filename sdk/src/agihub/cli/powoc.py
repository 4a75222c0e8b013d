"""``agihub score`` and ``agihub genemap``: thin adapters over :mod:`agihub.powoc`.

Errors are typed :class:`agihub.errors.AgihubError` subclasses; ``agihub.cli.main`` turns each
into one ``error: ...`` line and exit status 1. Torch is only imported when a model is scored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from agihub.errors import ConfigError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def _seed(text: str | None, parent: Path, child: Path) -> tuple[bytes, str]:
    if text is None:
        # Local runs only: a validator takes the seed from the registration's block hash.
        material = b"agihub-local-seed" + parent.read_bytes()[:4096] + child.read_bytes()[:4096]
        return hashlib.sha256(
            material
        ).digest(), "local (derived from the files; validators use the block hash)"
    try:
        seed = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ConfigError(f"--val-seed must be 32 bytes of hex, got {text!r}") from None
    if len(seed) != 32:
        raise ConfigError(f"--val-seed must be 32 bytes of hex (64 digits), got {len(seed)} bytes")
    return seed, "given"


def score_command(
    parent: Annotated[Path, typer.Argument(help="Parent model (.safetensors of the powoc LM family).")],
    child: Annotated[Path, typer.Argument(help="Contributed child model (.safetensors).")],
    val_seed: Annotated[str | None, typer.Option("--val-seed", help="32-byte hex seed of D.")] = None,
    corpus: Annotated[str, typer.Option("--corpus", help="Validation corpus.")] = "python-stdlib",
    val_file: Annotated[
        Path | None,
        typer.Option("--val-file", help="Validation data file (e.g. a repository's val-data part)."),
    ] = None,
    n_bytes: Annotated[int, typer.Option("--n-bytes", help="Scored bytes in D.")] = 65_536,
    reference_bytes: Annotated[
        int | None,
        typer.Option("--reference-bytes", help="N the saving is scaled to (default: corpus size)."),
    ] = None,
    delta: Annotated[Path | None, typer.Option("--delta", help="Score this delta package.")] = None,
    compression: Annotated[str, typer.Option("--compression", help="mdl, lossless or lossy.")] = "mdl",
    foundation: Annotated[
        list[Path] | None, typer.Option("--foundation", help="Known foundation versions (lineage check).")
    ] = None,
    no_lineage: Annotated[bool, typer.Option("--no-lineage", help="Skip the gene-map parent check.")] = False,
    threads: Annotated[int, typer.Option("--threads", help="torch threads (does not change the score).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Score CHILD against PARENT: [L(D|P) - L(D|child)] x N/|D| - 8 x bytes(delta)."""
    from agihub.powoc import ValidationSpec, score_contribution

    seed, origin = _seed(val_seed, parent, child)
    if val_file is not None:
        from agihub.powoc.corpus import register_corpus

        corpus = register_corpus(val_file.read_bytes())
    spec = ValidationSpec(corpus=corpus, seed=seed, n_bytes=n_bytes, reference_bytes=reference_bytes)
    record = score_contribution(parent, child, spec, delta, compression=compression,
                                foundations=foundation or (), check_lineage=not no_lineage,
                                threads=threads)  # fmt: skip
    data = record.to_dict()
    typer.echo(json.dumps(data, sort_keys=True) if as_json else _score_text(data, origin))


def _score_text(d: dict[str, Any], seed_origin: str) -> str:
    v, delta, t = d["validation"], d["delta"], d["timings"]
    n, scored = d["reference_bytes"], v["scored_bytes"]
    saving = float(d["parent_bits"]) - float(d["child_bits"])
    lines = [
        f"parent  {d['parent']['sha256']}  {d['parent']['size']:,} B",
        f"child   {d['child']['sha256']}  {d['child']['size']:,} B",
        f"D       {scored:,} bytes of {v['corpus']} (corpus {v['corpus_sha256'][:16]}…, "
        f"{v['corpus_bytes']:,} B), seed {v['seed'][:16]}… ({seed_origin}), set {v['set_sha256'][:16]}…",
        f"L(D|P)      {float(d['parent_bits']):>14,.1f} bits  ({d['parent_bits_per_byte']:.4f} bits/byte)",
        f"L(D|child)  {float(d['child_bits']):>14,.1f} bits  ({d['child_bits_per_byte']:.4f} bits/byte)",
        f"saving on D {saving:>14,.1f} bits, x N/|D| = {n:,}/{scored:,} -> {saving * n / scored:,.0f} bits",
        f"L(delta)    {d['delta_bits']:>14,} bits  ({delta['mode']}"
        + (f", budget {delta['budget']}" if delta["budget"] is not None else "")
        + f", {delta['bytes']:,} B, {delta['source']})",
        f"score       {d['score_bits']:>14,} bits  ({d['bits_per_byte']:+.5f} bits/byte of N; on chain {d['onchain_score']})",
    ]
    if len(d["candidates"]) > 1:
        lines.append("delta candidates (the highest score is kept):")
        lines += [f"  {c['mode']:<8} budget {c['budget']!s:<5} {c['delta_bytes']:>12,} B  score {c['score_bits']:>14,}"
                  for c in d["candidates"]]  # fmt: skip
    if d["lineage"]:
        lines.append(f"lineage: parent accepted, {d['lineage']['ranking'][0]['distance']:.3g} median change")
    lines.append("time: " + ", ".join(f"{k[:-2]} {v:.2f}s" for k, v in t.items()))
    return "\n".join(lines)


def genemap_command(
    model: Annotated[Path, typer.Argument(help="A .safetensors model (or a gene-map .json).")],
    against: Annotated[
        list[Path] | None,
        typer.Option("--against", help="Foundation version (file or gene-map json); repeat."),
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write the heat map here.")] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write MODEL's gene map as JSON here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per-layer gene map of MODEL; with --against, its nearest ancestor and mutations."""
    from agihub.powoc import genemap

    def read(path: Path) -> genemap.GeneMap:
        return genemap.load_map(path) if path.suffix == ".json" else genemap.fingerprint(path)

    target = read(model)
    if save is not None:
        genemap.save_map(target, save)
    result = genemap.render(target, [read(p) for p in against or ()], png)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "text"}, sort_keys=True))
    else:
        typer.echo(result["text"] + (f"\nheat map: {result['png']}" if result["png"] else ""))


def register(app: typer.Typer) -> None:
    """Add the scoring commands to the ``agihub`` app."""
    app.command("score")(score_command)
    app.command("genemap")(genemap_command)


__all__ = ["register"]
