"""The gene map: fingerprints, nearest ancestor among foundation versions, mutations, heat map."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from agihub.powoc import LineageRejected, genemap

pytest.importorskip("torch")


def test_lineage_picks_the_true_parent_among_foundation_versions(models) -> None:
    foundations = [models.v1, models.parent, models.other]
    # the child was fine-tuned from version 2 (``parent``), which itself continues version 1
    assert genemap.nearest(models.child, foundations).nearest == str(models.parent)
    assert genemap.nearest(models.parent, [models.v1, models.other]).nearest == str(models.v1)
    ranking = genemap.nearest(models.child, foundations).ranking
    assert [c.foundation for c in ranking][-1] == str(models.other)  # another initialisation is farthest
    assert ranking[0].distance < ranking[1].distance < ranking[2].distance


def test_claimed_parent_checks(models) -> None:
    lineage = genemap.check_parent(models.child, models.parent, [models.v1, models.other])
    assert lineage.nearest == str(models.parent)
    with pytest.raises(LineageRejected, match=r"nearest ancestor is .*parent\.safetensors"):
        genemap.check_parent(models.child, models.v1, [models.parent, models.other])
    with pytest.raises(LineageRejected, match="not derived from"):
        genemap.check_parent(models.child, models.other)


def test_fingerprint_estimates_the_true_relative_change(models) -> None:
    import numpy as np

    from agihub.delta.tensors import load

    child, parent = load(models.child), load(models.parent)
    comparison = genemap.compare(models.child, models.parent)
    for mutation in comparison.mutations:
        a, b = child[mutation.name].to_float().astype(np.float64), parent[mutation.name].to_float()
        true = np.linalg.norm(a - b) / np.linalg.norm(b)
        # 1024 sampled positions: a few percent of error on big tensors, exact on small ones
        assert mutation.rel_change == pytest.approx(true, rel=0.2)
    assert genemap.compare(models.parent, models.parent).distance == 0.0
    assert genemap.compare(models.parent, models.parent).changed() == ()


def test_gene_map_json_round_trip(models, tmp_path: Path) -> None:
    original = genemap.fingerprint(models.child)
    again = genemap.load_map(genemap.save_map(original, tmp_path / "child.json"))
    assert (
        genemap.compare(again, models.parent).mutations == genemap.compare(original, models.parent).mutations
    )


def _png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    return chunks


def test_render_writes_a_valid_heat_map(models, tmp_path: Path) -> None:
    result = genemap.render(models.child, [models.v1, models.parent], tmp_path / "map.png")
    assert result["lineage"]["nearest"] == str(models.parent)
    assert "layer   0" in result["text"] and "layer   1" in result["text"] and "other" in result["text"]
    chunks = _png_chunks(Path(result["png"]).read_bytes())
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert zlib.decompress(chunks[b"IDAT"]).__len__() == height * (1 + 3 * width)
    assert (height - 1) // 15 == 3  # two layers and the "other" row


def test_cli_genemap_json(models, tmp_path: Path, cli) -> None:
    code, text, _ = cli("genemap", str(models.child), "--against", str(models.v1), "--against",
                        str(models.parent), "--png", str(tmp_path / "m.png"), "--json")  # fmt: skip
    assert code == 0
    out = json.loads(text)
    assert out["lineage"]["nearest"] == str(models.parent)
    assert out["comparison"]["changed_tensors"] > 0 and (tmp_path / "m.png").exists()


def test_cli_genemap_text_and_saved_map(models, tmp_path: Path, cli) -> None:
    code, text, _ = cli("genemap", str(models.parent), "--save", str(tmp_path / "parent.json"))
    assert code == 0 and "log10 RMS" in text and (tmp_path / "parent.json").exists()
    code, text, _ = cli("genemap", str(models.child), "--against", str(tmp_path / "parent.json"))
    assert code == 0 and "nearest ancestor: " + str(models.parent) in text and "mutations:" in text
