"""Pack/unpack pipelines: round trips, erasure losses, corrupt and foreign shards, keys, tensor reads."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_testlib import raw_safetensors, shards_of, small_tensors, write_model

from agihub.identity import SecretKey
from agihub.storage.errors import (
    DecryptionError,
    InsufficientShardsError,
    ParameterError,
    PayloadError,
    SafetensorsError,
)
from agihub.storage.manifest import Card, SignedManifest, load_manifest
from agihub.storage.package import PackOptions, pack_delta, pack_model
from agihub.storage.unpack import (
    plan_tensor_fetch,
    private_version_key,
    read_tensors,
    unpack,
    verify_package,
)

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.uint16, np.bool_]
SMALL = PackOptions(chunk_size=2048, block_size=512)


def _arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    count = draw(st.integers(1, 5))
    out = {}
    for i in range(count):
        dtype = draw(st.sampled_from(DTYPES))
        shape = draw(st.lists(st.integers(0, 24), min_size=0, max_size=3))
        seed = draw(st.integers(0, 2**32 - 1))
        raw = np.random.default_rng(seed).integers(
            0, 256, int(np.prod(shape)) * np.dtype(dtype).itemsize, np.uint8
        )
        arr = raw.view(np.uint8).astype(np.uint8)
        arr = (arr % 2).astype(np.bool_) if dtype is np.bool_ else arr.view(dtype)
        out[f"t{i}"] = arr.reshape(shape)
    return out


@st.composite
def models(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], int, int, bool, int]:
    arrays = _arrays(draw)
    n = draw(st.integers(1, 7))
    k = draw(st.integers(1, n))
    private = draw(st.booleans())
    chunk = draw(st.sampled_from([64, 200, 1024, 4096]))
    return arrays, k, n, private, chunk


def _fresh(tmp: Path) -> Path:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=models(), data=st.data())
def test_model_roundtrip_property(tmp_path: Path, publisher: SecretKey, case, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    arrays, k, n, private, chunk = case
    work = _fresh(tmp_path / "rt")
    src = write_model(work / "m.safetensors", arrays)
    secret = os.urandom(32) if private else None
    opts = PackOptions(k=k, n=n, chunk_size=chunk, block_size=64, workers=data.draw(st.sampled_from([1, 2])))
    signed = pack_model(src, work / "pkg", publisher, Card(name="m"), options=opts, owner_secret=secret)
    subset = data.draw(st.permutations(range(n)))[: data.draw(st.integers(k, n))]
    key = private_version_key(signed, secret) if secret else None
    shards = shards_of(work / "pkg", n)
    unpack(
        load_manifest(work / "pkg" / "manifest.json"),
        [shards[i] for i in subset],
        work / "out",
        version_key=key,
    )
    assert (work / "out").read_bytes() == src.read_bytes()
    name = data.draw(st.sampled_from(sorted(arrays)))
    got = read_tensors(signed, [shards[i] for i in subset], [name], version_key=key)[name]
    assert got == arrays[name].tobytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.binary(min_size=1, max_size=5000),
    k=st.integers(1, 4),
    extra=st.integers(0, 3),
    private=st.booleans(),
    parent=st.binary(min_size=32, max_size=32),
)
def test_delta_payload_roundtrip_property(
    tmp_path: Path, publisher: SecretKey, payload: bytes, k: int, extra: int, private: bool, parent: bytes
) -> None:
    work = _fresh(tmp_path / "delta")
    (work / "d.bin").write_bytes(payload)
    secret = os.urandom(32) if private else None
    signed = pack_delta(
        work / "d.bin",
        work / "pkg",
        publisher,
        Card(name="ft", base_model="base"),
        parent_root=parent,
        delta_encoding="agihub-delta/1",
        options=PackOptions(k=k, n=k + extra, chunk_size=256),
        owner_secret=secret,
    )
    loaded = load_manifest(work / "pkg" / "manifest.json")
    assert loaded.manifest.payload.kind == "delta"
    assert loaded.manifest.payload.parent_root == parent.hex()
    assert loaded.manifest.payload.delta_encoding == "agihub-delta/1"
    key = private_version_key(signed, secret) if secret else None
    unpack(loaded, shards_of(work / "pkg", k + extra)[extra:], work / "out", version_key=key)
    assert (work / "out").read_bytes() == payload


@pytest.fixture
def package(tmp_path: Path, publisher: SecretKey) -> tuple[Path, SignedManifest, list[Path]]:
    src = write_model(tmp_path / "m.safetensors", small_tensors())
    signed = pack_model(src, tmp_path / "pkg", publisher, Card(name="m"), options=SMALL)
    return src, signed, shards_of(tmp_path / "pkg", 6)


@pytest.mark.parametrize(("k", "n"), [(4, 6), (2, 5), (3, 3)])
def test_every_tolerable_loss_rebuilds_and_one_more_fails(
    tmp_path: Path, publisher: SecretKey, k: int, n: int
) -> None:
    src = write_model(tmp_path / "m.safetensors", small_tensors(2))
    signed = pack_model(
        src,
        tmp_path / "pkg",
        publisher,
        Card(name="m"),
        options=PackOptions(k=k, n=n, chunk_size=2048, block_size=256),
    )
    shards = shards_of(tmp_path / "pkg", n)
    for lost in range(n - k + 1):
        for gone in itertools.combinations(range(n), lost):
            out = tmp_path / f"out-{'-'.join(map(str, gone))}"
            unpack(signed, [s for i, s in enumerate(shards) if i not in gone], out)
            assert out.read_bytes() == src.read_bytes(), gone
    for gone in itertools.combinations(range(n), n - k + 1):
        out = tmp_path / "fail"
        with pytest.raises(InsufficientShardsError, match=f"{k} needed"):
            unpack(signed, [s for i, s in enumerate(shards) if i not in gone], out)
        assert not out.exists()
    assert not list(tmp_path.glob(".*.part"))


def test_corrupt_shard_excluded_or_fails_cleanly(tmp_path: Path, package) -> None:  # type: ignore[no-untyped-def]
    src, signed, shards = package
    bad = tmp_path / "bad.bin"
    data = bytearray(shards[1].read_bytes())
    data[len(data) // 2] ^= 0x10
    bad.write_bytes(bytes(data))
    with pytest.raises(InsufficientShardsError, match="corrupt"):
        unpack(signed, [shards[0], bad, shards[2], shards[3]], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    statuses = unpack(signed, [shards[0], bad, shards[2], shards[3], shards[5]], tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == src.read_bytes()
    assert [s.ok for s in statuses if s.path == str(bad)] == [False]
    # a good copy of the same index after a corrupt one is used instead
    unpack(signed, [bad, shards[1], shards[0], shards[2], shards[3]], tmp_path / "out2")
    assert (tmp_path / "out2").read_bytes() == src.read_bytes()


def test_foreign_and_truncated_shards(tmp_path: Path, package, publisher: SecretKey) -> None:  # type: ignore[no-untyped-def]
    src, signed, shards = package
    other_src = write_model(tmp_path / "o.safetensors", small_tensors(9))
    pack_model(other_src, tmp_path / "other", publisher, Card(name="o"), options=SMALL)
    private = pack_model(
        src, tmp_path / "priv", publisher, Card(name="m"), options=SMALL, owner_secret=os.urandom(32)
    )
    wider = pack_model(
        src,
        tmp_path / "wide",
        publisher,
        Card(name="m"),
        options=PackOptions(k=2, n=3, chunk_size=2048, block_size=512),
    )
    assert private.model_root == signed.model_root == wider.model_root
    truncated = tmp_path / "trunc.bin"
    truncated.write_bytes(shards[4].read_bytes()[:-1])
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(500))
    candidates = [
        shards_of(tmp_path / "other", 6)[0],
        shards_of(tmp_path / "priv", 6)[1],
        shards_of(tmp_path / "wide", 3)[2],
        truncated,
        junk,
        tmp_path / "missing.bin",
    ]
    report = verify_package(signed, candidates)
    problems = [s.problem for s in report.shards]
    assert "another model" in problems[0]
    assert "another package" in problems[1]
    assert "erasure layout" in problems[2]
    assert "truncated" in problems[3]
    assert "not an agihub shard" in problems[4]
    assert "cannot read" in problems[5]
    assert not report.recoverable
    with pytest.raises(InsufficientShardsError, match="only 3 good"):
        unpack(signed, [*candidates, *shards[:3]], tmp_path / "out")
    unpack(signed, [*candidates, *shards[:4]], tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == src.read_bytes()


def test_private_model_keys(tmp_path: Path, publisher: SecretKey) -> None:
    src = write_model(tmp_path / "m.safetensors", small_tensors(3))
    secret = os.urandom(32)
    signed = pack_model(
        src, tmp_path / "pkg", publisher, Card(name="m", version="2"), options=SMALL, owner_secret=secret
    )
    shards = shards_of(tmp_path / "pkg", 6)
    plain = src.read_bytes()
    for shard in shards:  # ciphertext only: no 32-byte window of the model appears in a shard
        body = shard.read_bytes()
        assert all(plain[i : i + 32] not in body for i in range(200, len(plain) - 32, 997))
    with pytest.raises(DecryptionError, match="private"):
        unpack(signed, shards, tmp_path / "out")
    with pytest.raises(DecryptionError, match="wrong key"):
        unpack(signed, shards, tmp_path / "out", version_key=private_version_key(signed, os.urandom(32)))
    with pytest.raises(DecryptionError, match="wrong key"):
        read_tensors(signed, shards, ["embed"], version_key=os.urandom(32))
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    unpack(signed, shards[2:], tmp_path / "out", version_key=private_version_key(signed, secret))
    assert (tmp_path / "out").read_bytes() == plain


def test_selective_tensor_read_touches_only_its_stripes(tmp_path: Path, publisher: SecretKey) -> None:
    rng = np.random.default_rng(5)
    tensors = {f"layer{i}": rng.standard_normal((64, 64)).astype(np.float32) for i in range(8)}
    src = write_model(tmp_path / "m.safetensors", tensors)
    signed = pack_model(
        src,
        tmp_path / "pkg",
        publisher,
        Card(name="m"),
        options=PackOptions(chunk_size=16384, block_size=1024),
    )
    plan = plan_tensor_fetch(signed, ["layer3"])
    start, stop = plan["layer3"]
    body_size = signed.manifest.shards[0].size - 72
    assert 0 < stop - start <= body_size // 4
    shards = shards_of(tmp_path / "pkg", 6)
    got = read_tensors(signed, shards[2:], ["layer3", "layer7"])
    assert np.array_equal(np.frombuffer(got["layer3"], np.float32).reshape(64, 64), tensors["layer3"])
    assert np.array_equal(np.frombuffer(got["layer7"], np.float32).reshape(64, 64), tensors["layer7"])
    with pytest.raises(PayloadError, match="no tensor named 'nope'"):
        read_tensors(signed, shards, ["nope"])


def test_pack_rejects_bad_input_and_writes_nothing(tmp_path: Path, publisher: SecretKey) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "bad.safetensors").write_bytes(
        raw_safetensors({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8))
    )
    cases = [
        (lambda out: pack_model(tmp_path / "empty", out, publisher, Card(name="m")), PayloadError),
        (
            lambda out: pack_model(tmp_path / "bad.safetensors", out, publisher, Card(name="m")),
            SafetensorsError,
        ),
        (lambda out: pack_model(tmp_path / "missing", out, publisher, Card(name="m")), PayloadError),
        (
            lambda out: pack_delta(
                tmp_path / "bad.safetensors",
                out,
                publisher,
                Card(name="m"),
                parent_root=b"x",
                delta_encoding="d",
            ),
            PayloadError,
        ),
    ]
    for i, (fn, error) in enumerate(cases):
        out = tmp_path / f"out{i}"
        with pytest.raises(error):
            fn(out)
        assert not out.exists() or not any(out.iterdir())
    src = write_model(tmp_path / "m.safetensors", small_tensors())
    for opts in (PackOptions(k=5, n=4), PackOptions(chunk_size=10), PackOptions(block_size=8)):
        with pytest.raises(ParameterError):
            pack_model(src, tmp_path / "o", publisher, Card(name="m"), options=opts)
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_existing_package_is_not_overwritten(tmp_path: Path, package, publisher: SecretKey) -> None:  # type: ignore[no-untyped-def]
    src, _signed, _ = package
    before = (tmp_path / "pkg" / "manifest.json").read_bytes()
    with pytest.raises(PayloadError, match="already holds"):
        pack_model(src, tmp_path / "pkg", publisher, Card(name="m"), options=SMALL)
    assert (tmp_path / "pkg" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir())[0] == "manifest.json"


def test_public_packing_is_deterministic_across_workers(tmp_path: Path, publisher: SecretKey) -> None:
    src = write_model(tmp_path / "m.safetensors", small_tensors(4))
    a = pack_model(src, tmp_path / "a", publisher, Card(name="m"), options=SMALL)
    b = pack_model(
        src,
        tmp_path / "b",
        publisher,
        Card(name="m"),
        options=PackOptions(chunk_size=2048, block_size=512, workers=2),
    )
    assert a.manifest_id == b.manifest_id
    assert [x.read_bytes() for x in shards_of(tmp_path / "a", 6)] == [
        x.read_bytes() for x in shards_of(tmp_path / "b", 6)
    ]


def test_file_changed_between_passes_is_refused(
    tmp_path: Path, publisher: SecretKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agihub.storage.package as package_module

    src = write_model(tmp_path / "m.safetensors", small_tensors())
    original = package_module._hash_chunks

    def hash_then_touch(path, spans, workers):  # type: ignore[no-untyped-def]
        digests = original(path, spans, workers)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return digests

    monkeypatch.setattr(package_module, "_hash_chunks", hash_then_touch)
    with pytest.raises(PayloadError, match="changed while"):
        pack_model(src, tmp_path / "pkg", publisher, Card(name="m"), options=SMALL)
    assert list((tmp_path / "pkg").iterdir()) == []


def test_unusable_destinations(tmp_path: Path, package, publisher: SecretKey) -> None:  # type: ignore[no-untyped-def]
    src, signed, shards = package
    (tmp_path / "adir").mkdir()
    with pytest.raises(PayloadError, match="is a directory"):
        unpack(signed, shards, tmp_path / "adir")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(PayloadError, match="cannot create"):
        unpack(signed, shards, tmp_path / "afile" / "out")
    with pytest.raises(PayloadError, match="cannot write the package"):
        pack_model(src, tmp_path / "afile", publisher, Card(name="m"), options=SMALL)
    assert (tmp_path / "afile").read_text() == "x"
