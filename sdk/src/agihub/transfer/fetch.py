"""Download any k shards of a model from the relays holding them, verify, rebuild, verify again.

k downloads run at once; when the last ones are late, up to ``extra`` spare downloads are hedged
and the slowest are cancelled as soon as k shards have arrived, so one slow relay does not set the
pace. Every shard is checked against the sha256 in the
signed manifest before it counts; the rebuilt payload is checked chunk by chunk against the manifest
(and so against the model root) before it is renamed to ``dest``. Shards already verified in
``work_dir`` are kept, so a fetch interrupted at any point resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from agihub.blobs import sha256_file
from agihub.storage.errors import StorageError
from agihub.storage.manifest import SignedManifest, verify_signature
from agihub.storage.package import shard_name
from agihub.storage.unpack import unpack
from agihub.transfer.errors import NotEnoughShardsError, RelayFailure
from agihub.transfer.relays import DEFAULT_TIMEOUT_S, Cancelled, download, http_base
from agihub.transfer.stream import StreamRebuild

log = logging.getLogger(__name__)

#: Start a spare download when the missing shards take this many times longer than the first one.
HEDGE_FACTOR = 1.5

#: Called as bytes arrive: (bytes downloaded so far, bytes of k shards, shards verified so far).
FetchProgress = Callable[[int, int, int], None]


@dataclass
class FetchReport:
    """Which shards were used, where from, and what failed on the way."""

    dest: Path
    shards: dict[int, str]
    bytes_downloaded: int
    seconds: float
    failures: dict[str, str] = field(default_factory=dict)
    #: True when the payload was rebuilt while the shards arrived, False when after them
    streamed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "dest": str(self.dest),
            "shards": {str(i): url for i, url in sorted(self.shards.items())},
            "bytes_downloaded": self.bytes_downloaded,
            "seconds": round(self.seconds, 3),
            "failures": self.failures,
            "streamed": self.streamed,
        }


def _candidates(
    manifest: SignedManifest, holders: Mapping[int, Sequence[str]] | Sequence[str]
) -> dict[int, list[str]]:
    """Relay URLs to try for each shard index; data shards (index < k) first, they decode for free."""
    n = manifest.manifest.erasure.n
    if isinstance(holders, Mapping):
        table = {int(i): [http_base(u) for u in urls] for i, urls in holders.items() if 0 <= int(i) < n}
    else:  # unknown layout: any relay may hold any shard; start each shard at a different relay
        urls = [http_base(u) for u in holders]
        table = {i: urls[i % len(urls) :] + urls[: i % len(urls)] for i in range(n)} if urls else {}
    return {i: table[i] for i in sorted(table) if table[i]}


class _Fetch:
    """The state of one fetch: which shards are verified, what is in flight, what failed."""

    def __init__(
        self,
        manifest: SignedManifest,
        work_dir: Path,
        progress: FetchProgress | None,
        stream: StreamRebuild | None = None,
    ) -> None:
        self.body = manifest.manifest
        self.stream = stream
        self.work_dir = work_dir
        self.progress = progress
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.done: dict[int, str] = {}
        self.failures: dict[str, str] = {}
        self.bytes = 0
        self.goal = sum(s.size for s in self.body.shards[: self.body.erasure.k])

    def path(self, index: int) -> Path:
        return self.work_dir / shard_name(index)

    def resume(self) -> None:
        """Keep shards a previous attempt already verified."""
        for shard in self.body.shards:
            path = self.path(shard.index)
            if path.is_file() and path.stat().st_size == shard.size and sha256_file(path) == shard.sha256:
                self.done[shard.index] = "local"

    def on_bytes(self, count: int) -> None:
        with self.lock:
            self.bytes += count
            if self.progress is not None:
                self.progress(self.bytes, self.goal, len(self.done))

    def get(self, index: int, url: str, timeout: float) -> None:
        shard, stream = self.body.shards[index], self.stream
        watch = None if stream is None else (lambda tmp, written: stream.progress(index, tmp, written))
        try:
            path = download(
                url,
                shard.sha256,
                self.path(index),
                cancel=self.cancel,
                on_bytes=self.on_bytes,
                timeout=timeout,
                watch=watch,
            )
        except BaseException:
            if stream is not None:
                stream.failed(index)
            raise
        if stream is not None:
            stream.completed(index, path)


def fetch_shards(
    manifest: SignedManifest,
    holders: Mapping[int, Sequence[str]] | Sequence[str],
    work_dir: str | Path,
    *,
    extra: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: FetchProgress | None = None,
    stream: StreamRebuild | None = None,
) -> tuple[dict[int, Path], dict[int, str], dict[str, str], int]:
    """Download and verify k shards into ``work_dir``; returns (paths, sources, failures, bytes).

    ``stream``, if given, is told which k shards the fetch starts with and follows them.
    """
    verify_signature(manifest)
    state = _Fetch(manifest, Path(work_dir), progress, stream)
    state.work_dir.mkdir(parents=True, exist_ok=True)
    state.resume()
    k = state.body.erasure.k
    queue = {i: urls for i, urls in _candidates(manifest, holders).items() if i not in state.done}
    if stream is not None:
        # the shards _launch starts with: those already here, then the queue in its order
        first = [*sorted(state.done), *queue][:k]
        if len(first) == k:
            stream.start(first, {i: state.path(i) for i in state.done})
    _download_k(state, queue, k, extra, timeout)
    if len(state.done) < k:
        raise NotEnoughShardsError(
            f"only {len(state.done)} of the {k} shards needed could be fetched and verified "
            f"(n={state.body.erasure.n}); failures: "
            + "; ".join(f"{u}: {r}" for u, r in state.failures.items()),
            state.failures,
        )
    paths = {i: state.path(i) for i in state.done}
    return paths, dict(state.done), state.failures, state.bytes


def _download_k(state: _Fetch, queue: dict[int, list[str]], k: int, extra: int, timeout: float) -> None:
    """k downloads at once, plus up to ``extra`` hedged ones once the stragglers are late.

    A spare download starts only when the missing shards take longer than ``HEDGE_FACTOR`` times
    the first shard did ("hedged requests", Dean and Barroso, The Tail at Scale, CACM 2013): with
    relays of even speed nothing is fetched twice, and one slow or hanging relay costs one spare
    download instead of its timeout. A failed download is replaced at once.
    """
    pool = ThreadPoolExecutor(max_workers=k + extra)
    running: dict[Future[None], tuple[int, str]] = {}
    started, first = time.monotonic(), None
    try:
        while len(state.done) < k:
            late = first is not None and time.monotonic() - started >= HEDGE_FACTOR * first
            _launch(state, pool, queue, running, k + (extra if late else 0) - len(state.done), timeout)
            if not running:
                break
            until = None if first is None or late else started + HEDGE_FACTOR * first - time.monotonic()
            finished, _ = wait(running, timeout=until, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                _settle(state, future, job, queue)
                if first is None and job[0] in state.done:
                    first = time.monotonic() - started
    finally:
        state.cancel.set()  # the rest stop at their next block; a hung one at its timeout
        pool.shutdown(wait=False, cancel_futures=True)


def _launch(
    state: _Fetch,
    pool: ThreadPoolExecutor,
    queue: dict[int, list[str]],
    running: dict[Future[None], tuple[int, str]],
    slots: int,
    timeout: float,
) -> None:
    busy = {index for index, _ in running.values()}
    for index in list(queue):
        if len(running) >= slots:
            return
        if index in busy or index in state.done:
            continue
        url = queue[index].pop(0)
        if not queue[index]:
            del queue[index]
        running[pool.submit(state.get, index, url, timeout)] = (index, url)
        busy.add(index)


def _settle(state: _Fetch, future: Future[None], job: tuple[int, str], queue: dict[int, list[str]]) -> None:
    index, url = job
    try:
        future.result()
    except Cancelled:
        return
    except RelayFailure as exc:
        log.warning("shard %d from %s: %s", index, url, exc.reason)
        state.failures[url] = exc.reason
        # Once a relay has failed, try it last for every other shard too.
        for urls in queue.values():
            if url in urls:
                urls.remove(url)
                urls.append(url)
        return
    if len(state.done) < state.body.erasure.k:
        state.done[index] = url
        queue.pop(index, None)


def fetch_package(
    manifest: SignedManifest,
    holders: Mapping[int, Sequence[str]] | Sequence[str],
    work_dir: str | Path,
    dest: str | Path,
    *,
    version_key: bytes | None = None,
    extra: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: FetchProgress | None = None,
    rebuild_while_downloading: bool = True,
) -> FetchReport:
    """Fetch any k verified shards and rebuild the payload at ``dest`` (atomic).

    By default the rebuild follows the downloads (:mod:`agihub.transfer.stream`) instead of
    starting after them; it falls back to rebuilding from the verified shards when it cannot.

    ``holders`` maps shard index → relay URLs holding it, or is a plain list of relay URLs when the
    layout is unknown. Raises :class:`NotEnoughShardsError` (naming each failed relay) when fewer
    than k shards can be fetched; nothing is written at ``dest`` then.
    """
    started = time.perf_counter()
    stream = _stream_for(manifest, Path(dest), version_key) if rebuild_while_downloading else None
    try:
        paths, sources, failures, count = fetch_shards(
            manifest, holders, work_dir, extra=extra, timeout=timeout, progress=progress, stream=stream
        )
        streamed = stream is not None and stream.commit(paths)
        if not streamed:
            # Every shard in ``paths`` was hashed as it arrived (or on resume) and matched the
            # manifest, so the rebuild does not hash it again; it still checks every chunk.
            shards = manifest.manifest.shards
            verified = {paths[i]: shards[i].sha256 for i in paths}
            unpack(
                manifest, [paths[i] for i in sorted(paths)], dest, version_key=version_key, verified=verified
            )
    finally:
        if stream is not None:
            stream.close()
    return FetchReport(Path(dest), sources, count, time.perf_counter() - started, failures, streamed)


def _stream_for(manifest: SignedManifest, dest: Path, version_key: bytes | None) -> StreamRebuild | None:
    """A follower for this fetch, or None when the rebuild cannot start yet (bad dest, no key).

    Those problems are reported by the rebuild after the download, exactly as without following.
    """
    try:
        return StreamRebuild(manifest, dest, version_key)
    except (StorageError, OSError) as exc:
        log.debug("not rebuilding while downloading: %s", exc)
        return None
