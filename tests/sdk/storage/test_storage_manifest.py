"""Signed canonical manifests: ids, signature, canonical form and consistency checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from storage_testlib import shards_of, small_tensors, write_model

from agihub.identity import SecretKey
from agihub.storage.errors import ManifestError, SignatureError
from agihub.storage.manifest import (
    Card,
    ManifestBody,
    SignedManifest,
    canonical_json,
    expected_shard_header,
    load_manifest,
    parse_manifest,
    sign_manifest,
)
from agihub.storage.package import PackOptions, pack_model
from agihub.storage.unpack import hash_shard


@pytest.fixture
def package(tmp_path: Path, publisher: SecretKey) -> tuple[Path, SignedManifest]:
    src = write_model(tmp_path / "m.safetensors", small_tensors())
    signed = pack_model(
        src,
        tmp_path / "pkg",
        publisher,
        Card(name="m", license="mit"),
        options=PackOptions(chunk_size=4096, block_size=1024),
    )
    return tmp_path / "pkg" / "manifest.json", signed


def _edit(data: bytes, fn) -> bytes:  # type: ignore[no-untyped-def]
    obj = json.loads(data)
    fn(obj)
    return canonical_json(obj) + b"\n"


def test_file_is_canonical_and_ids_are_stable(package: tuple[Path, SignedManifest]) -> None:
    path, signed = package
    data = path.read_bytes()
    assert data == signed.to_bytes()
    assert b" " not in data.rstrip(b"\n") or b'" ' not in data
    loaded = load_manifest(path)
    assert loaded.manifest_id == signed.manifest_id
    assert len(loaded.model_root) == 32
    assert loaded.manifest.card.license == "mit"


def test_single_shard_verifies_alone(package: tuple[Path, SignedManifest]) -> None:
    path, signed = package
    shard = shards_of(path.parent, signed.manifest.erasure.n)[3]
    raw = shard.read_bytes()
    assert raw[: len(expected_shard_header(signed.manifest, 3))] == expected_shard_header(signed.manifest, 3)
    assert hash_shard(shard).hex() == signed.manifest.shards[3].sha256


def test_tampered_value_fails_signature(package: tuple[Path, SignedManifest]) -> None:
    path, _ = package

    def tamper(obj: dict) -> None:
        obj["manifest"]["card"]["license"] = "proprietary"

    with pytest.raises(SignatureError, match="does not verify"):
        parse_manifest(_edit(path.read_bytes(), tamper))


def test_resigned_by_another_key_is_refused_when_publisher_pinned(
    package: tuple[Path, SignedManifest], publisher: SecretKey
) -> None:
    _, signed = package
    other = SecretKey.generate()
    body = signed.manifest.model_copy(update={"publisher": other.public_key.hex})
    forged = sign_manifest(body, other).to_bytes()
    assert parse_manifest(forged).manifest.publisher == other.public_key.hex  # valid on its own
    with pytest.raises(SignatureError, match="signed by"):
        parse_manifest(forged, expected_publisher=publisher.public_key.hex)
    with pytest.raises(SignatureError, match="differs from the signing key"):
        sign_manifest(signed.manifest, other)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d.replace(b'{"manifest"', b'{ "manifest"', 1), "canonical"),
        (lambda d: d.rstrip(b"\n"), "canonical"),
        (lambda d: d.replace(b'"version":"1"', b'"version":"1","version":"1"', 1), "repeats"),
        (lambda d: d.replace(b'"k":4', b'"k":4.0', 1), "non-integer"),
        (lambda d: d.replace(b'"k":4', b'"k":NaN', 1), "non-integer"),
        (lambda d: d.replace(b'"format":', b'"extra":1,"format":', 1), "malformed"),
        (lambda d: d.replace(b'"signature":"', b'"signature":"AB', 1)[:-6] + b'"}\n', "malformed"),
        (lambda d: b"\xff" + d, "malformed"),
        (lambda d: d[: len(d) // 2], "malformed"),
    ],
)
def test_malformed_files(package: tuple[Path, SignedManifest], mutate, problem: str) -> None:  # type: ignore[no-untyped-def]
    path, _ = package
    with pytest.raises(ManifestError, match=problem):
        parse_manifest(mutate(path.read_bytes()))


def test_uppercase_hex_is_not_an_alias(package: tuple[Path, SignedManifest]) -> None:
    path, signed = package
    data = path.read_bytes().replace(
        signed.manifest.model_root.encode(), signed.manifest.model_root.upper().encode()
    )
    with pytest.raises(ManifestError):
        parse_manifest(data)


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        (lambda b: {"model_root": "00" * 32}, "Merkle root"),
        (lambda b: {"payload": b.payload.model_copy(update={"size": b.payload.size + 1})}, "chunks cover"),
        (lambda b: {"shards": b.shards[:-1]}, "listed once"),
        (
            lambda b: {"erasure": b.erasure.model_copy(update={"stripes": b.erasure.stripes + 1})},
            "stripe count",
        ),
        (lambda b: {"erasure": b.erasure.model_copy(update={"k": b.erasure.n + 1})}, "exceeds"),
        (lambda b: {"payload": b.payload.model_copy(update={"kind": "delta"})}, "parent_root"),
        (lambda b: {"tensors": [*b.tensors, b.tensors[0]]}, "repeat"),
        (
            lambda b: {
                "tensors": [b.tensors[0].model_copy(update={"chunks": [0, 0], "begin": 9, "end": 20})]
            },
            "covered",
        ),
    ],
)
def test_inconsistent_bodies_cannot_be_signed(
    package: tuple[Path, SignedManifest],
    publisher: SecretKey,
    update,
    problem: str,  # type: ignore[no-untyped-def]
) -> None:
    _, signed = package
    body: ManifestBody = signed.manifest.model_copy(update=update(signed.manifest))
    with pytest.raises(ManifestError, match=problem):
        sign_manifest(body, publisher)


def test_oversized_and_missing(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)
    with pytest.raises(ManifestError, match="limit"):
        load_manifest(big)
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "nope.json")


def test_float_refused_by_encoder() -> None:
    with pytest.raises(ManifestError, match="integers only"):
        canonical_json({"a": [1, {"b": 0.5}]})


def test_model_root_is_independent_of_packaging(tmp_path: Path, publisher: SecretKey) -> None:
    src = write_model(tmp_path / "m.safetensors", small_tensors(1))
    roots, ids = set(), set()
    for i, (k, n, secret) in enumerate([(4, 6, None), (2, 3, None), (1, 1, None), (4, 6, os.urandom(32))]):
        signed = pack_model(
            src,
            tmp_path / f"p{i}",
            publisher,
            Card(name="m"),
            options=PackOptions(k=k, n=n, chunk_size=4096),
            owner_secret=secret,
        )
        roots.add(signed.model_root)
        ids.add(signed.manifest_id)
    assert len(roots) == 1 and len(ids) == 4
