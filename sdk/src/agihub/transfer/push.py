"""Upload a package's shards to relays: placement, parallel uploads, retries, re-placement on failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from agihub.blobs import sha256_file
from agihub.identity import SecretKey
from agihub.storage.manifest import SignedManifest, load_manifest
from agihub.storage.package import MANIFEST_NAME, shard_name
from agihub.transfer.errors import PlacementError, RelayFailure
from agihub.transfer.placement import default_happiness, happiness, place, require_happiness
from agihub.transfer.relays import DEFAULT_TIMEOUT_S, RelayTarget, upload

log = logging.getLogger(__name__)

#: Called after each shard lands: (bytes uploaded so far, total bytes, shards placed so far).
PushProgress = Callable[[int, int, int], None]


@dataclass
class PushReport:
    """What a push achieved: which relays hold which shard, and which relays failed and why."""

    model_root: str
    manifest_sha256: str
    placements: dict[int, list[str]]
    happiness: int
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "model_root": self.model_root,
            "manifest_sha256": self.manifest_sha256,
            "placements": {str(i): urls for i, urls in sorted(self.placements.items())},
            "happiness": self.happiness,
            "failed": self.failed,
        }


def upload_with_retries(
    url: str, key: SecretKey, path: Path, *, attempts: int = 3, timeout: float = DEFAULT_TIMEOUT_S
) -> str:
    """Upload, retrying transient failures with exponential backoff (0.2 s, 0.4 s, ...)."""
    for attempt in range(attempts):
        try:
            return upload(url, key, path, timeout)
        except RelayFailure as exc:
            if not exc.transient or attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def push_package(
    package_dir: str | Path,
    relays: Sequence[RelayTarget],
    key: SecretKey,
    *,
    happiness_required: int | None = None,
    holders: dict[int, list[RelayTarget]] | None = None,
    exclude: frozenset[str] = frozenset(),
    attempts: int = 3,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: PushProgress | None = None,
) -> PushReport:
    """Place every shard of the package in ``package_dir`` on ``relays`` and upload it.

    Shards go to distinct operators where possible (see :mod:`agihub.transfer.placement`). A relay
    that fails an upload (after ``attempts`` tries for transient errors) is dropped and its shards
    are placed elsewhere; relays in ``exclude`` (URLs known to have lost data) are never used. Raises :class:`PlacementError` when fewer than ``happiness_required``
    distinct operators (default: every operator offered, up to n) end up holding shards. Uploads are
    content-addressed, so pushing again is safe and only re-sends what a relay lacks.
    """
    root = Path(package_dir)
    signed = load_manifest(root / MANIFEST_NAME)
    body = signed.manifest
    if not relays:
        raise PlacementError("no relays to push to; add one (agigit relay add --push URL)")
    operators = len({relay.operator for relay in relays})
    required = happiness_required or default_happiness(body.erasure.n, operators)
    if required > body.erasure.n:
        raise PlacementError(f"happiness {required} is more than the package's n={body.erasure.n} shards")
    held: dict[int, list[RelayTarget]] = {i: list(v) for i, v in (holders or {}).items()}
    failed: dict[str, str] = {}
    counter = _Counter(sum(s.size for s in body.shards), progress)
    pending = [s.index for s in body.shards if not held.get(s.index)]
    while pending:
        plan = place(pending, relays, holders=held, exclude=exclude | frozenset(failed))
        pending = _upload_round(root, plan, key, (attempts, timeout), held, failed, counter)
    require_happiness(held, required, body.erasure.k)
    manifest_sha = _upload_manifest(root, held, key, (attempts, timeout), failed)
    return PushReport(
        body.model_root,
        manifest_sha,
        {i: [relay.url for relay in v] for i, v in held.items()},
        happiness(held),
        failed,
    )


class _Counter:
    def __init__(self, total: int, progress: PushProgress | None) -> None:
        self.total, self.progress, self.bytes, self.shards = total, progress, 0, 0

    def add(self, size: int) -> None:
        self.bytes += size
        self.shards += 1
        if self.progress is not None:
            self.progress(self.bytes, self.total, self.shards)


def _upload_round(
    root: Path,
    plan: dict[int, RelayTarget],
    key: SecretKey,
    retry: tuple[int, float],
    held: dict[int, list[RelayTarget]],
    failed: dict[str, str],
    counter: _Counter,
) -> list[int]:
    """Upload one planned round in parallel; returns the shard indices that must be placed again."""

    def one(index: int, relay: RelayTarget) -> tuple[int, RelayTarget, RelayFailure | None]:
        try:
            upload_with_retries(relay.url, key, root / shard_name(index), attempts=retry[0], timeout=retry[1])
        except RelayFailure as exc:
            return index, relay, exc
        return index, relay, None

    again: list[int] = []
    with ThreadPoolExecutor(max_workers=min(8, len(plan))) as pool:
        for index, relay, error in pool.map(lambda item: one(*item), plan.items()):
            if error is None:
                held.setdefault(index, []).append(relay)
                counter.add((root / shard_name(index)).stat().st_size)
            else:
                log.warning("shard %d: %s; placing it elsewhere", index, error)
                failed[relay.url] = error.reason
                again.append(index)
    return again


def _upload_manifest(
    root: Path,
    held: dict[int, list[RelayTarget]],
    key: SecretKey,
    retry: tuple[int, float],
    failed: dict[str, str],
) -> str:
    """Every relay holding a shard also holds the signed manifest (a small blob), so any of them can
    answer a fetch for it."""
    digest = sha256_file(root / MANIFEST_NAME)
    for url in sorted({relay.url for relays in held.values() for relay in relays}):
        try:
            upload_with_retries(url, key, root / MANIFEST_NAME, attempts=retry[0], timeout=retry[1])
        except RelayFailure as exc:
            failed.setdefault(url, f"manifest upload: {exc.reason}")
    return digest


def manifest_of(package_dir: str | Path) -> SignedManifest:
    return load_manifest(Path(package_dir) / MANIFEST_NAME)
