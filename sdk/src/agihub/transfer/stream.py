"""Rebuild a payload while its shards are still arriving.

A fetch used to download k shards and only then rebuild the payload from them, so it took the
download time plus the rebuild time. Here a follower thread reads each stripe as soon as all k
shard files hold it, decodes it and checks every chunk against the signed manifest, so the rebuild
ends shortly after the last byte arrives.

It is an optimisation with a fallback, never a second source of truth: the follower commits to the
k shards the fetch starts with. If any of them fails, is cancelled, or is replaced by a hedged
spare, the follower stops and the fetch rebuilds from whichever k shards it verified, as before.
Its output is renamed into place only when the downloads have finished and every shard it read
hashed to the manifest's sha256 (the bytes it read are those bytes: a shard file is only ever
appended to). Every chunk is verified either way.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agihub.storage.erasure import HEADER_SIZE, StripeDecoder
from agihub.storage.errors import StorageError
from agihub.storage.manifest import SignedManifest
from agihub.storage.unpack import rebuild_sink

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """The follower was told to give up (a shard it follows failed, or the fetch ended)."""


@dataclass
class _Shard:
    path: Path | None = None
    written: int = 0
    failed: bool = False


class StreamRebuild:
    """Follows k shard downloads and rebuilds ``dest``'s payload into a temp file beside it.

    Download threads report with :meth:`progress`, :meth:`completed` and :meth:`failed`; the fetch
    calls :meth:`start` once it knows which k shards it downloads, and :meth:`commit` at the end.
    """

    def __init__(self, signed: SignedManifest, dest: Path, version_key: bytes | None) -> None:
        self.signed = signed
        self.dest = dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        self.tmp = Path(name)
        try:
            self._out = os.fdopen(fd, "wb")
            self._consume = rebuild_sink(signed, dest, self._out, version_key)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        self._cond = threading.Condition()
        self._shards: dict[int, _Shard] = {}
        self._stop = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.done = False

    # -- reports from the download threads ------------------------------------------------------------
    def progress(self, index: int, path: Path, written: int) -> None:
        with self._cond:
            shard = self._shards.get(index)
            if shard is not None and not shard.failed:
                shard.path, shard.written = path, written
                self._cond.notify_all()

    def completed(self, index: int, path: Path) -> None:
        """Shard ``index`` is verified and renamed to ``path`` (its final name)."""
        with self._cond:
            shard = self._shards.get(index)
            if shard is not None and not shard.failed:
                shard.path, shard.written = path, self.signed.manifest.shards[index].size
                self._cond.notify_all()

    def failed(self, index: int) -> None:
        with self._cond:
            shard = self._shards.get(index)
            if shard is not None:
                shard.failed = True
                self._cond.notify_all()

    # -- control from the fetch -------------------------------------------------------------------------
    def start(self, indices: Sequence[int], local: dict[int, Path]) -> None:
        """Follow shards ``indices`` (k of them); ``local`` holds those already verified on disk."""
        with self._cond:
            for index in indices:
                self._shards[index] = _Shard()
            for index, path in local.items():
                if index in self._shards:
                    self._shards[index] = _Shard(path, self.signed.manifest.shards[index].size)
        self._thread = threading.Thread(target=self._run, name="agihub-stream-rebuild", daemon=True)
        self._thread.start()

    def commit(self, verified: dict[int, Path]) -> bool:
        """Finish: True (and ``dest`` written) if the follower rebuilt from exactly ``verified``."""
        if self._thread is None or set(verified) != set(self._shards):
            self.close()
            return False
        self._thread.join()
        if not self.done:
            if self.error is not None:
                log.info("rebuild while downloading gave up (%s); rebuilding from the shards", self.error)
            self.close()
            return False
        self._out.close()
        os.replace(self.tmp, self.dest)
        return True

    def close(self) -> None:
        """Stop following and remove the temp file (idempotent)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._out.close()
        self.tmp.unlink(missing_ok=True)

    # -- the follower thread ----------------------------------------------------------------------------
    def _wait(self, index: int, need: int) -> Path:
        with self._cond:
            while True:
                shard = self._shards[index]
                if shard.failed:
                    raise _Stopped(f"the download of shard {index} failed")
                if self._stop:
                    raise _Stopped(f"the fetch stopped while shard {index} was awaited")
                if shard.path is not None and shard.written >= need:
                    return shard.path
                self._cond.wait()

    def _open(self, index: int, need: int) -> int:
        """Open shard ``index``'s file; it may be renamed from its temp name at any moment."""
        while True:
            path = self._wait(index, need)
            try:
                return os.open(path, os.O_RDONLY)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
            with self._cond:  # renamed between the report and the open: wait for the next report
                shard = self._shards[index]
                while shard.path == path and not shard.failed and not self._stop:
                    self._cond.wait()

    def _run(self) -> None:
        er = self.signed.manifest.erasure
        decoder = StripeDecoder(er.k, er.n)
        fds: dict[int, int] = {}
        try:
            for stripe in range(er.stripes):
                offset = HEADER_SIZE + stripe * er.block_size
                blocks = {}
                for index in self._shards:
                    need = offset + er.block_size
                    if index not in fds:
                        fds[index] = self._open(index, need)
                    else:
                        self._wait(index, need)
                    block = os.pread(fds[index], er.block_size, offset)
                    if len(block) != er.block_size:
                        raise _Stopped(f"shard {index} is shorter than its stripes")
                    blocks[index] = block
                for data in decoder.decode(blocks):
                    self._consume(data)
            self._consume(None)
            self._out.flush()
            self.done = True
        except (_Stopped, StorageError, OSError) as exc:
            self.error = exc
        finally:
            for fd in fds.values():
                os.close(fd)
