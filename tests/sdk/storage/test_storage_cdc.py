"""Content-defined chunking (FastCDC) and data packages: determinism, shift resistance, thin
packages that carry only new chunks, and their bad inputs."""

from __future__ import annotations

import hashlib
import itertools
import random
from pathlib import Path

import numpy as np
import pytest

from agihub.identity import SecretKey
from agihub.storage import cdc
from agihub.storage.errors import IntegrityError, ManifestError, ParameterError, PayloadError
from agihub.storage.manifest import Card, Reuse, check_consistency, load_manifest
from agihub.storage.package import MANIFEST_NAME, PackOptions, pack_data, pack_file, pack_model, shard_name
from agihub.storage.unpack import assemble_data, private_version_key, unpack

CAP = 16384  # max 16 KiB, avg 2 KiB, min 512 B


def jsonl(count: int, seed: int, edit: range = range(0)) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        words = " ".join(rng.choice(["red", "green", "blue", "cyan"]) for _ in range(rng.randint(3, 30)))
        label = rng.randint(0, 99)
        out.append(f'{{"id":{i},"text":"{words}","label":{-1 if i in edit else label}}}\n')
    return "".join(out).encode()


def chunk_hashes(data: bytes, cap: int = CAP) -> list[bytes]:
    return [hashlib.sha256(data[s.offset : s.end]).digest() for s in cdc.cdc_spans(data, cap)]


def test_chunks_tile_respect_bounds_and_are_deterministic() -> None:
    data = np.random.default_rng(7).integers(0, 256, 2_000_000, dtype=np.uint8).tobytes()
    spans = cdc.cdc_spans(data, CAP)
    assert spans == cdc.cdc_spans(bytes(data), CAP)
    assert spans[0].offset == 0 and spans[-1].end == len(data)
    assert all(a.end == b.offset for a, b in itertools.pairwise(spans))
    p = cdc.CdcParams(CAP)
    assert all(p.min_size <= s.length <= p.max_size for s in spans[:-1])
    mean = len(data) / len(spans)
    assert 0.7 * p.avg_size < mean < 1.6 * p.avg_size  # normalized chunking centres sizes on avg


def test_numba_and_numpy_backends_agree() -> None:
    pytest.importorskip("numba")
    rng = np.random.default_rng(3)
    for size in (1, 100, 600, CAP, 3 * CAP + 5, 1_500_000):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        for cap in (4096, CAP, 1 << 20):
            numba_ends = cdc.cut_points(data, cap, use="numba")
            assert np.array_equal(numba_ends, cdc.cut_points(data, cap, use="numpy")), (size, cap)
    text = jsonl(5000, seed=1)
    assert np.array_equal(cdc.cut_points(text, CAP, use="numba"), cdc.cut_points(text, CAP, use="numpy"))


def test_insert_at_start_shifts_only_the_first_chunks() -> None:
    data = jsonl(20000, seed=2)
    before = chunk_hashes(data)
    after = chunk_hashes(b'{"id":-1,"text":"inserted record"}\n' + data)
    unchanged = len(set(before) & set(after)) / len(before)
    assert len(before) > 200 and unchanged > 0.98
    # Fixed-size cuts lose every chunk after such an insert (the anchor for "content-defined").
    fixed = {hashlib.sha256(data[i : i + 2048]).digest() for i in range(0, len(data), 2048)}
    shifted = b"x" + data
    assert not fixed & {hashlib.sha256(shifted[i : i + 2048]).digest() for i in range(0, len(shifted), 2048)}


def test_bad_caps_and_empty_files_are_refused(tmp_path: Path) -> None:
    for cap in (1000, 4095, 3 * 4096, 128 << 20):
        with pytest.raises(ParameterError, match="power of two"):
            cdc.cut_points(b"abc", cap)
    with pytest.raises(ParameterError, match="backend"):
        cdc.cut_points(b"abc", CAP, use="rust")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(PayloadError, match="empty"):
        cdc.file_spans(tmp_path / "empty", CAP)


def shards(pkg: Path, n: int) -> list[Path]:
    return [pkg / shard_name(i) for i in range(n)]


@pytest.mark.parametrize("private", [False, True])
def test_edited_dataset_package_carries_only_new_chunks(tmp_path: Path, private: bool) -> None:
    key, secret = SecretKey.generate(), (b"s" * 32 if private else None)
    v1, v2 = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    v1.write_bytes(jsonl(8000, seed=4))
    v2.write_bytes(jsonl(8000, seed=4, edit=range(4000, 4080)) + jsonl(40, seed=9))  # 1% edited, appended
    opts = PackOptions(k=2, n=3)
    m1 = pack_data(
        v1, tmp_path / "p1", key, Card(name="ds", version="1"), cap=CAP, options=opts, owner_secret=secret
    )
    m2 = pack_data(v2, tmp_path / "p2", key, Card(name="ds", version="2"), cap=CAP, bases=[m1], options=opts,
                   owner_secret=secret)  # fmt: skip
    body = m2.manifest
    assert body.payload.kind == "data" and body.chunking.scheme == "fastcdc/1" and body.reuse is not None
    assert body.reuse.bases == [m1.manifest_id.hex()]
    carried = {c.sha256 for c in m1.manifest.chunking.chunks}
    new_bytes = sum(c.length for c in body.chunking.chunks if c.sha256 not in carried)
    reused = 1 - new_bytes / v2.stat().st_size
    assert reused > 0.9
    # The shards hold the new chunks only: stream = new bytes (+ 28 bytes per segment if private).
    overhead = (
        28 * (len(body.chunking.chunks) - sum(b - a for a, b, _ in body.reuse.chunks)) if private else 0
    )
    assert body.erasure.stream_size == new_bytes + overhead
    assert load_manifest(tmp_path / "p2" / MANIFEST_NAME) == m2  # the reuse field survives the round trip
    # Rebuild: unpack the carried chunks of each package, then assemble the whole file.
    keys = [private_version_key(m, secret) if secret else None for m in (m1, m2)]
    unpack(m1, shards(tmp_path / "p1", 3)[1:], tmp_path / "c1", version_key=keys[0])
    unpack(m2, shards(tmp_path / "p2", 3)[:2], tmp_path / "c2", version_key=keys[1])
    assert (tmp_path / "c2").stat().st_size == new_bytes
    assemble_data(m2, tmp_path / "c2", lambda mid: (m1, tmp_path / "c1"), tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == v2.read_bytes()
    # A third version reuses chunks of both earlier packages, naming each carrier directly.
    v3 = tmp_path / "v3.jsonl"
    v3.write_bytes(v2.read_bytes() + jsonl(30, seed=11))
    m3 = pack_data(
        v3, tmp_path / "p3", key, Card(name="ds", version="3"), cap=CAP, bases=[m2, m1], options=opts
    )
    assert set(m3.manifest.reuse.bases) == {m1.manifest_id.hex(), m2.manifest_id.hex()}


def test_corrupt_base_chunk_is_a_typed_error_and_writes_nothing(tmp_path: Path) -> None:
    key = SecretKey.generate()
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.write_bytes(jsonl(3000, seed=5))
    v2.write_bytes(jsonl(3000, seed=5, edit=range(10, 20)))
    m1 = pack_data(v1, tmp_path / "p1", key, Card(name="d"), cap=CAP, options=PackOptions(k=2, n=3))
    m2 = pack_data(
        v2, tmp_path / "p2", key, Card(name="d"), cap=CAP, bases=[m1], options=PackOptions(k=2, n=3)
    )
    unpack(m2, shards(tmp_path / "p2", 3), tmp_path / "c2")
    corrupt = bytearray(v1.read_bytes())
    corrupt[len(corrupt) // 2] ^= 1
    (tmp_path / "c1").write_bytes(bytes(corrupt))
    with pytest.raises(IntegrityError, match="fails its sha256"):
        assemble_data(m2, tmp_path / "c2", lambda mid: (m1, tmp_path / "c1"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
    with pytest.raises(IntegrityError, match="another manifest"):
        assemble_data(m2, tmp_path / "c2", lambda mid: (m2, tmp_path / "c2"), tmp_path / "out")


def test_reuse_field_is_checked(tmp_path: Path) -> None:
    key = SecretKey.generate()
    data = tmp_path / "d"
    data.write_bytes(jsonl(2000, seed=6))
    body = pack_data(data, tmp_path / "p", key, Card(name="d"), cap=CAP).manifest
    count = len(body.chunking.chunks)
    bad = [
        Reuse(bases=["ab" * 32], chunks=[[0, count + 1, 0]]),  # out of range
        Reuse(bases=["ab" * 32], chunks=[[0, 1, 1]]),  # no base 1
        Reuse(bases=["ab" * 32], chunks=[[2, 3, 0], [1, 2, 0]]),  # unsorted
        Reuse(bases=["ab" * 32], chunks=[[0, count, 0]]),  # carries nothing
    ]
    for reuse in bad:
        with pytest.raises(ManifestError):
            check_consistency(body.model_copy(update={"reuse": reuse}))
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    model_body = pack_model(model, tmp_path / "pm", key, Card(name="m")).manifest
    with pytest.raises(ManifestError, match="only a data payload"):
        check_consistency(
            model_body.model_copy(update={"reuse": Reuse(bases=["ab" * 32], chunks=[[0, 1, 0]])})
        )
    with pytest.raises(PayloadError, match="only data packages"):
        pack_data(
            data,
            tmp_path / "p2",
            key,
            Card(name="d"),
            cap=CAP,
            bases=[load_manifest(tmp_path / "pm" / MANIFEST_NAME)],
        )


def test_code_file_is_one_signed_blob(tmp_path: Path) -> None:
    src = tmp_path / "train.py"
    src.write_text("print('hello')\n")
    signed = pack_file(
        src, tmp_path / "pkg", SecretKey.generate(), Card(name="c"), metadata={"path": "train.py"}
    )
    assert (signed.manifest.payload.kind, signed.manifest.erasure.k, signed.manifest.erasure.n) == (
        "file",
        1,
        1,
    )
    assert signed.manifest.payload.metadata == {"path": "train.py"}
    unpack(signed, [tmp_path / "pkg" / shard_name(0)], tmp_path / "out.py")
    assert (tmp_path / "out.py").read_bytes() == src.read_bytes()
