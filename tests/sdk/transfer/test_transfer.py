"""agihub.transfer against real relays: placement, push, k-of-n fetch, faults, audit, repair."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agihub.blobs import BlobClient, sha256_file
from agihub.identity import SecretKey
from agihub.storage import SignedManifest
from agihub.storage.errors import SignatureError
from agihub.storage.package import shard_name
from agihub.transfer import (
    NotEnoughShardsError,
    PlacementError,
    RelayTarget,
    audit,
    fetch_package,
    make_challenges,
    push_package,
    rebuild_shards,
)
from agihub.transfer.audit import FAIL, PASS, TIMEOUT, check
from tests.sdk.transfer.transfer_kit import RunningRelay, dead_url, make_package, relay_fleet


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return SecretKey.generate()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    with relay_fleet(tmp_path_factory.mktemp("fleet"), 6) as relays:
        yield relays


@pytest.fixture(scope="module")
def pushed(
    tmp_path_factory: pytest.TempPathFactory, fleet: list[RunningRelay], key: SecretKey
) -> tuple[Path, Path, SignedManifest, dict[int, list[str]]]:
    model, package, signed = make_package(tmp_path_factory.mktemp("pkg"), key)
    targets = [RelayTarget(r.http_url, f"op-{i}") for i, r in enumerate(fleet)]
    report = push_package(package, targets, key)
    return model, package, signed, report.placements


def test_push_spreads_shards_over_distinct_operators(pushed, fleet) -> None:  # type: ignore[no-untyped-def]
    _, package, signed, placements = pushed
    assert sorted(placements) == list(range(6))
    holders = [urls[0] for urls in placements.values()]
    assert len(set(holders)) == 6, "six operators on offer: one shard each"
    for index, urls in placements.items():
        client = BlobClient(urls[0], SecretKey.generate())
        assert client.has(signed.manifest.shards[index].sha256)
        assert client.has(sha256_file(package / "manifest.json")), "every holder also keeps the manifest"


def test_operators_with_two_relays_count_once(tmp_path: Path, fleet, key) -> None:  # type: ignore[no-untyped-def]
    _, package, _ = make_package(tmp_path, key, seed=1)
    targets = [RelayTarget(r.http_url, f"op-{i // 2}") for i, r in enumerate(fleet)]
    report = push_package(package, targets, key)
    assert report.happiness == 3
    by_operator: dict[str, int] = {}
    for urls in report.placements.values():
        op = next(t.operator for t in targets if t.url == urls[0])
        by_operator[op] = by_operator.get(op, 0) + 1
    assert sorted(by_operator.values()) == [2, 2, 2]


def test_failed_relay_shards_are_placed_elsewhere(tmp_path: Path, fleet, key) -> None:  # type: ignore[no-untyped-def]
    _, package, _ = make_package(tmp_path, key, seed=2)
    dead = dead_url()
    targets = [RelayTarget(dead, "op-dead")] + [
        RelayTarget(r.http_url, f"op-{i}") for i, r in enumerate(fleet[:3])
    ]
    report = push_package(package, targets, key, happiness_required=3, attempts=1)
    assert dead in report.failed
    assert all(dead not in urls for urls in report.placements.values())
    assert len(report.placements) == 6 and report.happiness == 3


def test_unreachable_happiness_fails_the_push(tmp_path: Path, fleet, key) -> None:  # type: ignore[no-untyped-def]
    _, package, _ = make_package(tmp_path, key, seed=3)
    targets = [RelayTarget(r.http_url, "one-operator") for r in fleet[:3]]
    with pytest.raises(PlacementError, match="1 distinct operators; 3 are required"):
        push_package(package, targets, key, happiness_required=3)
    with pytest.raises(PlacementError, match="no relays"):
        push_package(package, [], key)


def _holders_with_down(placements: dict[int, list[str]], down: set[str], dead: str) -> dict[int, list[str]]:
    return {i: [dead if u in down else u for u in urls] for i, urls in placements.items()}


def test_fetch_survives_every_subset_of_n_minus_k_relays_down(tmp_path: Path, pushed) -> None:  # type: ignore[no-untyped-def]
    model, _, signed, placements = pushed
    urls = sorted({u for v in placements.values() for u in v})
    k, n = signed.manifest.erasure.k, signed.manifest.erasure.n
    dead, cases = dead_url(), 0
    for count in range(n - k + 1):
        for down in itertools.combinations(urls, count):
            dest = tmp_path / f"out-{cases}.safetensors"
            report = fetch_package(
                signed, _holders_with_down(placements, set(down), dead), tmp_path / f"w{cases}", dest
            )
            assert dest.read_bytes() == model.read_bytes()
            assert len(report.shards) == k
            cases += 1
    assert cases == 1 + 6 + 15 + 20


def test_fetch_fails_clearly_with_n_minus_k_plus_1_down(tmp_path: Path, pushed) -> None:  # type: ignore[no-untyped-def]
    _, _, signed, placements = pushed
    urls = sorted({u for v in placements.values() for u in v})
    dead = dead_url()
    for i, down in enumerate(itertools.combinations(urls, 4)):
        dest = tmp_path / f"out-{i}"
        with pytest.raises(NotEnoughShardsError, match="only 2 of the 3 shards") as info:
            fetch_package(signed, _holders_with_down(placements, set(down), dead), tmp_path / f"w{i}", dest)
        assert dead in info.value.failures
        assert not dest.exists()


def test_wrong_bytes_mark_the_relay_and_other_shards_are_used(tmp_path: Path, fleet, key) -> None:  # type: ignore[no-untyped-def]
    model, package, signed = make_package(tmp_path, key, seed=4)
    targets = [RelayTarget(r.http_url, f"op-{i}") for i, r in enumerate(fleet)]
    placements = push_package(package, targets, key).placements
    # Relay holding shard 0 now serves another shard's bytes (of this or another model) under its id.
    liar = next(r for r in fleet if r.http_url == placements[0][0])
    blob = (
        liar.settings.effective_blob_dir
        / signed.manifest.shards[0].sha256[:2]
        / signed.manifest.shards[0].sha256
    )
    blob.write_bytes((package / shard_name(1)).read_bytes())
    work = tmp_path / "work"
    report = fetch_package(signed, placements, work, tmp_path / "out.safetensors")
    assert liar.http_url in report.failures and "hashing to" in report.failures[liar.http_url]
    assert 0 not in report.shards
    assert (tmp_path / "out.safetensors").read_bytes() == model.read_bytes()
    assert not list(work.glob("*.part")), "no partial file is left behind"


def test_fetch_resumes_from_verified_local_shards(tmp_path: Path, pushed) -> None:  # type: ignore[no-untyped-def]
    model, package, signed, placements = pushed
    work = tmp_path / "work"
    work.mkdir()
    for i in (0, 1):
        (work / shard_name(i)).write_bytes((package / shard_name(i)).read_bytes())
    (work / shard_name(2)).write_bytes(b"garbage from an earlier crash")
    dead = dead_url()
    holders = {i: ([dead] if i in (0, 1) else urls) for i, urls in placements.items()}
    report = fetch_package(signed, holders, work, tmp_path / "out")
    assert report.shards[0] == report.shards[1] == "local"
    assert (tmp_path / "out").read_bytes() == model.read_bytes()


def test_a_tampered_manifest_is_refused_before_any_download(tmp_path: Path, pushed) -> None:  # type: ignore[no-untyped-def]
    _, _, signed, placements = pushed
    raw = json.loads(signed.to_bytes())
    raw["manifest"]["card"]["name"] = "evil"
    forged = SignedManifest.model_validate(raw)
    with pytest.raises(SignatureError):
        fetch_package(forged, placements, tmp_path / "w", tmp_path / "out")
    assert not (tmp_path / "w").exists() and not (tmp_path / "out").exists()


def test_audit_passes_then_detects_deletion_and_dead_relays(tmp_path: Path, fleet, key) -> None:  # type: ignore[no-untyped-def]
    _, package, signed = make_package(tmp_path, key, seed=5)
    targets = [RelayTarget(r.http_url, f"op-{i}") for i, r in enumerate(fleet)]
    placements = push_package(package, targets, key).placements
    shard = signed.manifest.shards[2]
    first, second, third = make_challenges(package / shard_name(2), 3, length=512)
    url = placements[2][0]
    assert check(url, shard.sha256, first).outcome == PASS
    wrong = type(first)(first.offset, first.length, "00" * 32)
    assert check(url, shard.sha256, wrong).outcome == FAIL
    BlobClient(url, key).delete(shard.sha256)
    outcome = audit(url, shard.sha256, second, third)
    assert outcome.outcome == FAIL and "404" in outcome.detail
    assert audit(dead_url(), shard.sha256, second, third).outcome == TIMEOUT


def test_repair_rebuilds_exactly_the_lost_shards(tmp_path: Path, key) -> None:  # type: ignore[no-untyped-def]
    _, package, signed = make_package(tmp_path, key, seed=6)
    sources = {i: package / shard_name(i) for i in (1, 3, 5)}
    rebuilt = rebuild_shards(signed, sources, [0, 2, 4], tmp_path / "rebuilt")
    for i, path in rebuilt.items():
        assert path.read_bytes() == (package / shard_name(i)).read_bytes()


def test_a_hanging_relay_costs_one_spare_download_not_its_timeout(tmp_path: Path, pushed) -> None:  # type: ignore[no-untyped-def]
    import time

    from tests.worker.transfer_fixtures import stalling_relay

    model, _, signed, placements = pushed
    with stalling_relay() as staller:
        holders = {i: ([staller] if i == 0 else urls) for i, urls in placements.items()}
        started = time.monotonic()
        report = fetch_package(signed, holders, tmp_path / "w", tmp_path / "out", timeout=30)
        elapsed = time.monotonic() - started
    assert (tmp_path / "out").read_bytes() == model.read_bytes()
    assert 0 not in report.shards and len(report.shards) == 3
    assert elapsed < 15, f"the fetch waited {elapsed:.1f} s on the hanging relay (its timeout is 30 s)"
