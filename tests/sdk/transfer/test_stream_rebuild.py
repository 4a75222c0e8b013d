"""Rebuilding while the shards download (agihub.transfer.stream), against real relays.

The follower is an optimisation with a fallback: these tests check that a clean fetch really is
rebuilt by it (the after-download rebuild is never called), that every way a followed shard can go
wrong falls back to the verified shards with the right bytes, and that no temp file is left.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, pack_model
from agihub.storage.errors import DecryptionError
from agihub.storage.manifest import SignedManifest
from agihub.storage.package import shard_name
from agihub.storage.unpack import private_version_key
from agihub.transfer import RelayTarget, fetch_package, push_package
from agihub.transfer import fetch as fetch_module
from agihub.transfer.stream import StreamRebuild
from tests.sdk.transfer.transfer_kit import RunningRelay, make_package, relay_fleet, write_model


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return SecretKey.generate()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    with relay_fleet(tmp_path_factory.mktemp("fleet"), 4) as relays:
        yield relays


def _push(package: Path, fleet: list[RunningRelay], key: SecretKey) -> dict[int, list[str]]:
    targets = [RelayTarget(r.http_url, f"op-{i}") for i, r in enumerate(fleet)]
    return push_package(package, targets, key).placements


@pytest.fixture
def after_download_rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """Records every call of the rebuild that runs after the downloads (the fallback)."""
    calls: list[list[Path]] = []
    real = fetch_module.unpack

    def recording(signed, paths, dest, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(paths))
        return real(signed, paths, dest, **kwargs)

    monkeypatch.setattr(fetch_module, "unpack", recording)
    return calls


def _leftovers(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.part"))


def test_a_clean_fetch_is_rebuilt_while_downloading(
    tmp_path: Path, fleet, key, after_download_rebuilds
) -> None:  # type: ignore[no-untyped-def]
    model, package, signed = make_package(tmp_path / "a", key, k=3, n=4, rows=2048)
    placements = _push(package, fleet, key)
    dest = tmp_path / "out" / "model.safetensors"
    # extra=0: no hedged spare can finish first and make the fetch use another shard set
    report = fetch_package(signed, placements, tmp_path / "work", dest, extra=0)
    assert dest.read_bytes() == model.read_bytes()
    assert after_download_rebuilds == [], "the follower should have rebuilt the file"
    assert sorted(report.shards) == [0, 1, 2]
    assert _leftovers(dest.parent) == []


def test_the_switch_turns_the_follower_off(tmp_path: Path, fleet, key, after_download_rebuilds) -> None:  # type: ignore[no-untyped-def]
    model, package, signed = make_package(tmp_path / "a", key, k=3, n=4, seed=1)
    placements = _push(package, fleet, key)
    dest = tmp_path / "out.safetensors"
    fetch_package(signed, placements, tmp_path / "work", dest, rebuild_while_downloading=False)
    assert dest.read_bytes() == model.read_bytes()
    assert len(after_download_rebuilds) == 1


def test_a_lying_relay_for_a_followed_shard_falls_back(
    tmp_path: Path, fleet, key, after_download_rebuilds
) -> None:  # type: ignore[no-untyped-def]
    model, package, signed = make_package(tmp_path / "a", key, k=3, n=4, seed=2, rows=2048)
    placements = _push(package, fleet, key)
    # the relay holding data shard 1 serves shard 3's bytes under shard 1's id: the follower reads
    # them (they are not verified until the download ends), then the download fails its hash
    liar = next(r for r in fleet if r.http_url == placements[1][0])
    sha = signed.manifest.shards[1].sha256
    (liar.settings.effective_blob_dir / sha[:2] / sha).write_bytes((package / shard_name(3)).read_bytes())
    try:
        dest = tmp_path / "out.safetensors"
        report = fetch_package(signed, placements, tmp_path / "work", dest)
        assert dest.read_bytes() == model.read_bytes()
        assert 1 not in report.shards and liar.http_url in report.failures
        assert len(after_download_rebuilds) == 1, "the fallback rebuilt from the verified shards"
        assert _leftovers(tmp_path) == []
    finally:
        (liar.settings.effective_blob_dir / sha[:2] / sha).write_bytes((package / shard_name(1)).read_bytes())


def test_a_resumed_fetch_follows_local_and_downloaded_shards(
    tmp_path: Path, fleet, key, after_download_rebuilds
) -> None:  # type: ignore[no-untyped-def]
    model, package, signed = make_package(tmp_path / "a", key, k=3, n=4, seed=3)
    placements = _push(package, fleet, key)
    work = tmp_path / "work"
    work.mkdir()
    (work / shard_name(0)).write_bytes((package / shard_name(0)).read_bytes())
    report = fetch_package(signed, placements, work, tmp_path / "out", extra=0)
    assert report.shards[0] == "local"
    assert (tmp_path / "out").read_bytes() == model.read_bytes()
    assert after_download_rebuilds == []


def _private(tmp_path: Path, key: SecretKey) -> tuple[Path, Path, SignedManifest, bytes]:
    owner = os.urandom(32)
    model = write_model(tmp_path / "p.safetensors", seed=9, rows=1024)
    options = PackOptions(k=3, n=4, chunk_size=16 << 10, block_size=4 << 10)
    signed = pack_model(model, tmp_path / "pkg", key, Card(name="p"), options=options, owner_secret=owner)
    return model, tmp_path / "pkg", signed, private_version_key(signed, owner)


def test_private_models_are_decrypted_by_the_follower(
    tmp_path: Path, fleet, key, after_download_rebuilds
) -> None:  # type: ignore[no-untyped-def]
    model, package, signed, version_key = _private(tmp_path, key)
    placements = _push(package, fleet, key)
    fetch_package(signed, placements, tmp_path / "w", tmp_path / "out", version_key=version_key, extra=0)
    assert (tmp_path / "out").read_bytes() == model.read_bytes()
    assert after_download_rebuilds == []
    # without the key nothing is followed, the shards still arrive, and the rebuild says why it stops
    with pytest.raises(DecryptionError, match="version key"):
        fetch_package(signed, placements, tmp_path / "w2", tmp_path / "out2")
    assert not (tmp_path / "out2").exists() and _leftovers(tmp_path) == []
    assert len(list((tmp_path / "w2").glob("shard-*"))) == 3


def test_commit_refuses_a_different_shard_set_and_cleans_up(tmp_path: Path, key) -> None:
    model, package, signed = make_package(tmp_path / "a", key, k=3, n=4, seed=4)
    dest = tmp_path / "out"
    shards = {i: package / shard_name(i) for i in range(4)}
    stream = StreamRebuild(signed, dest, None)
    stream.start([0, 1, 2], {i: shards[i] for i in (0, 1, 2)})
    assert not stream.commit({0: shards[0], 1: shards[1], 3: shards[3]})
    assert not dest.exists() and _leftovers(tmp_path) == []
    stream = StreamRebuild(signed, dest, None)
    stream.start([0, 1, 3], {i: shards[i] for i in (0, 1, 3)})  # a parity shard: decoded, not copied
    assert stream.commit({0: shards[0], 1: shards[1], 3: shards[3]})
    stream.close()
    assert dest.read_bytes() == model.read_bytes() and _leftovers(tmp_path) == []


def test_a_follower_told_to_stop_while_waiting_gives_up(tmp_path: Path, key) -> None:
    _, package, signed = make_package(tmp_path / "a", key, k=3, n=4, seed=5)
    stream = StreamRebuild(signed, tmp_path / "out", None)
    stream.start([0, 1, 2], {0: package / shard_name(0)})  # 1 and 2 never arrive
    stream.failed(1)
    deadline = time.monotonic() + 10
    while stream.error is None and time.monotonic() < deadline:  # the follower notices on its own
        time.sleep(0.01)
    assert "the download of shard 1 failed" in str(stream.error)
    assert not stream.commit({0: package / shard_name(0)})
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []
