"""Delta chunks (issue #10): a dataset with 1 % of its records edited at scattered places is carried
as small zstd deltas against the previous version's chunks; every defect is a typed error."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
import zstandard as zstd

from agihub.identity import SecretKey
from agihub.storage import delta_chunks
from agihub.storage.delta_chunks import align_references, decode_delta, encode_delta
from agihub.storage.errors import IntegrityError, ManifestError
from agihub.storage.manifest import (
    Card,
    DeltaChunk,
    ManifestBody,
    SignedManifest,
    canonical_json,
    check_consistency,
    load_manifest,
    parse_manifest,
    sign_manifest,
)
from agihub.storage.package import MANIFEST_NAME, PackOptions, pack_data, shard_name
from agihub.storage.unpack import assemble_data, carried_deltas, private_version_key, unpack

CAP = 1 << 17  # avg 16 KiB chunks: ~100 records each, so editing every 100th record touches them all
FIXTURE = Path(__file__).parent / "fixtures" / "thin-data-manifest.json"
#: manifest_id of the fixture, written by pack_data before delta chunks existed.
FIXTURE_ID = "c62d89c5e8efa79637fe77d19729a21c217c6c1ad7939881a0ee7e1226a96457"


def records(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    words = ["red", "green", "blue", "cyan", "model", "relay", "shard", "token"]
    return [
        f'{{"id":{i},"text":"{" ".join(rng.choice(words) for _ in range(rng.randint(3, 30)))}",'
        f'"label":{rng.randint(0, 99)}}}\n'.encode()
        for i in range(count)
    ]


def edit(recs: list[bytes], indices: range) -> bytes:
    out = list(recs)
    for i in indices:
        out[i] = out[i].replace(b'"label":', b'"label":1000', 1)
    return b"".join(out)


def shards(pkg: Path, n: int) -> list[Path]:
    return [pkg / shard_name(i) for i in range(n)]


def chunk_set(signed: SignedManifest) -> set[str]:
    return {c.sha256 for c in signed.manifest.chunking.chunks}


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    recs = records(16000, seed=3)
    v1, v2 = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    v1.write_bytes(b"".join(recs))
    v2.write_bytes(edit(recs, range(50, len(recs), 100)))  # 1 % of the records, scattered
    return v1, v2, recs


@pytest.mark.parametrize("private", [False, True])
def test_scattered_edits_are_carried_as_small_deltas(
    tmp_path: Path, versions: tuple[Path, Path, list[bytes]], private: bool
) -> None:
    v1, v2, _ = versions
    key, secret = SecretKey.generate(), (b"s" * 32 if private else None)
    opts = PackOptions(k=2, n=3, workers=2)
    m1 = pack_data(v1, tmp_path / "p1", key, Card(name="ds", version="1"), cap=CAP, options=opts,
                   owner_secret=secret)  # fmt: skip
    resolve = {m1.manifest_id.hex(): (m1, v1)}.__getitem__  # v1 is m1's carried file (a full package)
    m2 = pack_data(v2, tmp_path / "p2", key, Card(name="ds", version="2"), cap=CAP, bases=[m1],
                   resolve=resolve, keep_carried=tmp_path / "kept2", options=opts, owner_secret=secret)  # fmt: skip
    body, size = m2.manifest, v2.stat().st_size
    assert body.reuse is not None and body.reuse.deltas and body.reuse.bases == [m1.manifest_id.hex()]
    # The anchor: deduplication alone would carry every chunk not byte-identical to one of v1's.
    old = chunk_set(m1)
    dedup_carried = sum(c.length for c in body.chunking.chunks if c.sha256 not in old)
    assert dedup_carried > 0.5 * size  # the scattered case: most chunks are touched
    overhead = (
        28 * (len(body.chunking.chunks) - sum(b - a for a, b, _ in body.reuse.chunks)) if private else 0
    )
    carried = body.erasure.stream_size - overhead
    assert carried == sum(d.length for d in body.reuse.deltas) + sum(
        c.length for i, c in enumerate(body.chunking.chunks)
        if c.sha256 not in old and i not in {d.chunk for d in body.reuse.deltas}
    )  # fmt: skip
    assert carried < 0.1 * dedup_carried  # deltas carry a tenth of what dedup alone would
    assert 1 - carried / size >= 0.95  # issue #10's goal, on this data
    assert all(d.ref in old and d.carrier is None for d in body.reuse.deltas)
    assert load_manifest(tmp_path / "p2" / MANIFEST_NAME) == m2
    # Rebuild: unpack each package's carried file from k shards, then assemble the whole file.
    keys = [private_version_key(m, secret) if secret else None for m in (m1, m2)]
    unpack(m1, shards(tmp_path / "p1", 3)[1:], tmp_path / "c1", version_key=keys[0])
    unpack(m2, shards(tmp_path / "p2", 3)[:2], tmp_path / "c2", version_key=keys[1])
    assert (tmp_path / "c2").read_bytes() == (tmp_path / "kept2").read_bytes()
    assert (tmp_path / "c2").stat().st_size == carried
    assemble_data(m2, tmp_path / "c2", {m1.manifest_id.hex(): (m1, tmp_path / "c1")}.__getitem__,
                  tmp_path / "out")  # fmt: skip
    assert (tmp_path / "out").read_bytes() == v2.read_bytes()


def test_later_versions_reuse_deltas_and_never_chain(
    tmp_path: Path, versions: tuple[Path, Path, list[bytes]]
) -> None:
    v1, v2, _ = versions
    key, opts = SecretKey.generate(), PackOptions(k=2, n=3)
    m1 = pack_data(v1, tmp_path / "p1", key, Card(name="ds", version="1"), cap=CAP, options=opts)
    files = {m1.manifest_id.hex(): (m1, v1)}
    m2 = pack_data(v2, tmp_path / "p2", key, Card(name="ds", version="2"), cap=CAP, bases=[m1],
                   resolve=files.__getitem__, keep_carried=tmp_path / "c2", options=opts)  # fmt: skip
    files[m2.manifest_id.hex()] = (m2, tmp_path / "c2")
    # v3 = v2 plus one new record at the end: the unchanged chunks keep v2's deltas (carried by v2).
    v3 = tmp_path / "v3.jsonl"
    v3.write_bytes(v2.read_bytes() + b'{"id":-1,"text":"new","label":1}\n')
    m3 = pack_data(v3, tmp_path / "p3", key, Card(name="ds", version="3"), cap=CAP, bases=[m2, m1],
                   resolve=files.__getitem__, keep_carried=tmp_path / "c3", options=opts)  # fmt: skip
    body = m3.manifest
    assert body.reuse is not None and body.reuse.deltas is not None
    v2_deltas = {d.sha256 for d in m2.manifest.reuse.deltas or []}
    reused = [d for d in body.reuse.deltas if d.carrier is not None]
    assert len(reused) >= len(v2_deltas) - 2 and all(d.sha256 in v2_deltas for d in reused)
    assert all(body.reuse.bases[d.carrier] == m2.manifest_id.hex() for d in reused)
    assert body.erasure.stream_size < 0.1 * m2.manifest.erasure.stream_size + 2 * CAP
    # v4 edits other records of v2: its deltas are against v1's chunks (fully carried), not v2's.
    recs4 = v2.read_bytes().splitlines(keepends=True)
    v4 = tmp_path / "v4.jsonl"
    v4.write_bytes(edit(recs4, range(20, len(recs4), 100)))
    m4 = pack_data(v4, tmp_path / "p4", key, Card(name="ds", version="4"), cap=CAP, bases=[m2, m1],
                   resolve=files.__getitem__, keep_carried=tmp_path / "c4", options=opts)  # fmt: skip
    new4 = [d for d in m4.manifest.reuse.deltas or [] if d.carrier is None]
    assert new4 and all(m4.manifest.reuse.bases[d.ref_base] == m1.manifest_id.hex() for d in new4)
    assert all(d.ref in chunk_set(m1) for d in new4)
    for signed, carried, src in ((m3, "c3", v3), (m4, "c4", v4)):
        assemble_data(signed, tmp_path / carried, files.__getitem__, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == src.read_bytes()


def _delta_package(tmp_path: Path, versions: tuple[Path, Path, list[bytes]]) -> tuple[SecretKey, SignedManifest, SignedManifest]:  # fmt: skip
    v1, v2, _ = versions
    key, opts = SecretKey.generate(), PackOptions(k=2, n=3)
    m1 = pack_data(v1, tmp_path / "p1", key, Card(name="ds", version="1"), cap=CAP, options=opts)
    m2 = pack_data(v2, tmp_path / "p2", key, Card(name="ds", version="2"), cap=CAP, bases=[m1],
                   resolve=lambda mid: (m1, v1), keep_carried=tmp_path / "c2", options=opts)  # fmt: skip
    return key, m1, m2


def test_tampered_delta_or_reference_is_a_typed_error_and_writes_nothing(
    tmp_path: Path, versions: tuple[Path, Path, list[bytes]]
) -> None:
    v1, _, _ = versions
    _, m1, m2 = _delta_package(tmp_path, versions)
    deltas = m2.manifest.reuse.deltas
    assert deltas
    carried = bytearray((tmp_path / "c2").read_bytes())
    position, length = carried_deltas(m2.manifest)[deltas[0].sha256]
    carried[position + length // 2] ^= 0x01
    (tmp_path / "bad").write_bytes(bytes(carried))
    out = tmp_path / "out"
    with pytest.raises(
        IntegrityError, match=rf"chunk {deltas[0].chunk}: its delta \(from this package\) fails"
    ):
        assemble_data(m2, tmp_path / "bad", lambda mid: (m1, v1), out)
    assert not out.exists() and not list(tmp_path.glob(".out.*"))
    # A corrupt reference chunk in the base's carried file.
    base = bytearray(v1.read_bytes())
    ref = next(c for c in m1.manifest.chunking.chunks if c.sha256 == deltas[0].ref)
    base[ref.offset + ref.length // 2] ^= 0x01
    (tmp_path / "badbase").write_bytes(bytes(base))
    with pytest.raises(IntegrityError, match=r"its reference chunk .* fails its sha256"):
        assemble_data(m2, tmp_path / "c2", lambda mid: (m1, tmp_path / "badbase"), out)
    assert not out.exists() and not list(tmp_path.glob(".out.*"))
    # Packing against a corrupt base copy is refused too (its deltas would not rebuild).
    with pytest.raises(IntegrityError, match="fails its sha256"):
        pack_data(tmp_path / "v2.jsonl", tmp_path / "p9", SecretKey.generate(), Card(name="ds"), cap=CAP,
                  bases=[m1], resolve=lambda mid: (m1, tmp_path / "badbase"))  # fmt: skip
    assert not (tmp_path / "p9" / MANIFEST_NAME).exists()


def test_delta_that_rebuilds_other_bytes_names_the_chunk(
    tmp_path: Path, versions: tuple[Path, Path, list[bytes]]
) -> None:
    v1, _, _ = versions
    key, m1, m2 = _delta_package(tmp_path, versions)
    body = m2.manifest
    assert body.reuse is not None and body.reuse.deltas and len(body.reuse.deltas) > 2
    first, other = body.reuse.deltas[0], body.reuse.deltas[2]
    # A signed manifest whose first delta names another (real, carried) reference chunk.
    wrong = [first.model_copy(update={"ref": other.ref}), *body.reuse.deltas[1:]]
    forged = sign_manifest(
        body.model_copy(update={"reuse": body.reuse.model_copy(update={"deltas": wrong})}), key
    )
    with pytest.raises(IntegrityError, match=rf"^chunk {first.chunk}\b"):
        assemble_data(forged, tmp_path / "c2", lambda mid: (m1, v1), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _signed_without_checks(body: ManifestBody, key: SecretKey) -> bytes:
    """Manifest file bytes with a valid signature over a body that fails the consistency checks."""
    digest = hashlib.sha256(canonical_json(body.model_dump(mode="json"))).digest()
    return SignedManifest(manifest=body, signature=key.sign(digest).hex()).to_bytes()


def test_malformed_delta_entries_are_refused(
    tmp_path: Path, versions: tuple[Path, Path, list[bytes]]
) -> None:
    key, _, m2 = _delta_package(tmp_path, versions)
    body = m2.manifest
    assert body.reuse is not None and body.reuse.deltas
    d0 = body.reuse.deltas[0]
    chunk0 = body.chunking.chunks[d0.chunk]
    ranged = body.reuse.chunks[0][0] if body.reuse.chunks else None
    cases: list[tuple[list[DeltaChunk], str]] = [
        ([d0.model_copy(update={"ref_base": 1})], r"reuse.deltas\[0\].ref_base names base 1; there are 1"),
        ([d0.model_copy(update={"carrier": 3})], r"reuse.deltas\[0\].carrier names base 3"),
        (
            [d0.model_copy(update={"chunk": len(body.chunking.chunks)})],
            r"reuse.deltas\[0\].chunk .* out of range",
        ),
        ([d0, d0], r"reuse.deltas\[1\].chunk .* unsorted, repeated"),
        ([d0.model_copy(update={"length": chunk0.length})], r"reuse.deltas\[0\].length .* not smaller"),
        ([d0.model_copy(update={"ref": chunk0.sha256})], r"reuse.deltas\[0\].ref is the chunk itself"),
    ]
    if ranged is not None:
        cases.append(([d0.model_copy(update={"chunk": ranged})], r"also in a reuse range"))
    for deltas, message in cases:
        bad = body.model_copy(update={"reuse": body.reuse.model_copy(update={"deltas": deltas})})
        with pytest.raises(ManifestError, match=message):
            check_consistency(bad)
        # The strict parser refuses it too, though the signature over it is valid.
        with pytest.raises(ManifestError, match=message):
            parse_manifest(_signed_without_checks(bad, key))
    # Schema defects: an unknown key, a negative length, an empty delta list.
    doc = json.loads(m2.to_bytes())
    for mutate in (
        lambda d: d["manifest"]["reuse"]["deltas"][0].update(offset=0),
        lambda d: d["manifest"]["reuse"]["deltas"][0].update(length=-1),
        lambda d: d["manifest"]["reuse"].update(deltas=[]),
    ):
        changed = json.loads(json.dumps(doc))
        mutate(changed)
        with pytest.raises(ManifestError, match="malformed"):
            parse_manifest(canonical_json(changed) + b"\n")

    # An assembly whose resolver cannot name the base (the package is missing) fails typed, too.
    def missing(mid: str) -> tuple[SignedManifest, Path]:
        raise IntegrityError(f"base package {mid[:12]} is not here")

    with pytest.raises(IntegrityError, match="is not here"):
        assemble_data(m2, tmp_path / "c2", missing, tmp_path / "out")


def test_manifests_without_deltas_keep_their_bytes_and_id(tmp_path: Path) -> None:
    raw = FIXTURE.read_bytes()  # a thin manifest written before delta chunks existed
    signed = parse_manifest(raw)
    assert signed.manifest_id.hex() == FIXTURE_ID and signed.to_bytes() == raw
    assert signed.manifest.reuse is not None and signed.manifest.reuse.deltas is None
    assert b'"deltas"' not in raw
    # Without a resolver no delta is made, and the manifest has no deltas key at all.
    recs = records(3000, seed=8)
    (tmp_path / "a").write_bytes(b"".join(recs))
    (tmp_path / "b").write_bytes(edit(recs, range(1000, 1010)))
    key = SecretKey.generate()
    m1 = pack_data(tmp_path / "a", tmp_path / "p1", key, Card(name="d"), cap=4096)
    m2 = pack_data(tmp_path / "b", tmp_path / "p2", key, Card(name="d"), cap=4096, bases=[m1])
    assert m2.manifest.reuse is not None and m2.manifest.reuse.deltas is None
    assert b'"deltas"' not in (tmp_path / "p2" / MANIFEST_NAME).read_bytes()


def test_a_file_its_base_already_holds_is_still_a_package(tmp_path: Path) -> None:
    (tmp_path / "one").write_bytes(b"".join(records(20, seed=2)))  # a single chunk
    key = SecretKey.generate()
    m1 = pack_data(tmp_path / "one", tmp_path / "p1", key, Card(name="d", version="1"), cap=CAP)
    again = pack_data(tmp_path / "one", tmp_path / "p2", key, Card(name="d", version="2"), cap=CAP,
                      bases=[m1, m1], resolve=lambda mid: (m1, tmp_path / "one"))  # fmt: skip
    assert len(again.manifest.chunking.chunks) == 1 and again.manifest.reuse is None
    unpack(again, shards(tmp_path / "p2", 6)[:4], tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == (tmp_path / "one").read_bytes()


def test_codec_round_trips_large_chunks_and_refuses_hostile_frames() -> None:
    reference = random.Random(5).randbytes(8 << 20)  # an 8 MiB chunk
    edited = bytearray(reference)
    for pos in range(1000, len(edited), 100_000):
        edited[pos : pos + 4] = b"XXXX"
    patch = encode_delta(reference, bytes(edited))
    # The window covers reference + chunk: edits far from the start are still found in the reference.
    assert len(patch) < 0.01 * len(edited)
    assert decode_delta(reference, patch, len(edited), "chunk 7") == edited
    with pytest.raises(IntegrityError, match="chunk 7: its delta declares"):
        decode_delta(reference, patch, len(edited) - 1, "chunk 7")
    with pytest.raises(IntegrityError, match="chunk 7: its delta is not a zstd frame"):
        decode_delta(reference, b"not a frame", len(edited), "chunk 7")
    with pytest.raises(IntegrityError, match="chunk 7: its delta does not decode"):
        decode_delta(reference, patch + b"x", len(edited), "chunk 7")
    with pytest.raises(IntegrityError, match="chunk 7: its delta does not decode"):
        decode_delta(reference, patch[:-5], len(edited), "chunk 7")
    # A hand-made frame declaring 100 bytes but a 1 GiB window (a reader would reserve it).
    header = bytes([0x28, 0xB5, 0x2F, 0xFD, 0x80, 0xA0]) + (100).to_bytes(4, "little")
    huge = header + ((100 << 3) | 1).to_bytes(3, "little") + b"a" * 100  # one raw, last block
    assert zstd.get_frame_parameters(huge).window_size == 1 << 30
    with pytest.raises(IntegrityError, match="1073741824-byte window"):
        decode_delta(reference, huge, 100, "chunk 7")
    assert delta_chunks.worth_it(49, 100) and not delta_chunks.worth_it(50, 100)


def test_alignment_matches_edits_to_the_same_place_between_anchors() -> None:
    def seq(*items: tuple[str, int]) -> list[tuple[bytes, int]]:
        return [(hashlib.sha256(name.encode()).digest(), size) for name, size in items]

    old = seq(("A", 100), ("b", 100), ("c", 100), ("D", 100), ("e", 50), ("f", 50), ("G", 100))
    # b, c edited in place; e and f merged into one chunk; x inserted between D and the next gap.
    new = seq(("A", 100), ("b2", 104), ("c2", 96), ("D", 100), ("ef", 100), ("G", 100), ("x", 80))
    assert align_references(new, old) == [None, 1, 2, None, 4, None, None]
    # Old chunk 4 has no usable bytes: the best usable overlap (5) is taken instead.
    assert align_references(new, old, [True] * 4 + [False] + [True] * 2)[4] == 5
    # A chunk repeated in the old version is no anchor: the match does not jump to its second copy.
    old2 = seq(("A", 100), ("R", 100), ("b", 100), ("R", 100), ("c", 100))
    new2 = seq(("A", 100), ("R", 100), ("b2", 100), ("R", 100), ("c2", 100))
    assert align_references(new2, old2) == [None, 1, 2, 3, 4]
    # Everything rewritten and moved: still position-matched; an empty old version gives nothing.
    assert align_references(seq(("p", 10), ("q", 10)), seq(("r", 10), ("s", 30))) == [0, 1]
    assert align_references(seq(("p", 10)), []) == [None]
