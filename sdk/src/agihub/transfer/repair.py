"""Re-create lost shards from any k good ones (decode each stripe, re-encode the missing blocks)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import zfec

from agihub.blobs import sha256_file
from agihub.storage.erasure import HEADER_SIZE, StripeDecoder
from agihub.storage.errors import InsufficientShardsError, IntegrityError
from agihub.storage.manifest import SignedManifest, expected_shard_header
from agihub.storage.package import shard_name


def rebuild_shards(
    manifest: SignedManifest, sources: Mapping[int, Path], wanted: Sequence[int], out_dir: str | Path
) -> dict[int, Path]:
    """Write shards ``wanted`` into ``out_dir`` from k verified ``sources`` (index → path).

    Each new shard is checked against the manifest's sha256 before it is renamed into place.
    """
    body = manifest.manifest
    er = body.erasure
    if len(sources) < er.k:
        raise InsufficientShardsError(f"repair needs {er.k} good shards, has {len(sources)}")
    chosen = sorted(sources)[: er.k]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    decoder, encoder = StripeDecoder(er.k, er.n), zfec.Encoder(er.k, er.n)
    targets = sorted(set(wanted))
    with ExitStack() as stack:
        readers = {i: stack.enter_context(Path(sources[i]).open("rb")) for i in chosen}
        temps = {i: _temp(stack, out, i) for i in targets}
        for reader in readers.values():
            reader.seek(HEADER_SIZE)
        for i, (_, handle) in temps.items():
            handle.write(expected_shard_header(body, i))
        for _ in range(er.stripes):
            blocks = {i: reader.read(er.block_size) for i, reader in readers.items()}
            data = decoder.decode(blocks)
            for i, block in zip(targets, encoder.encode(list(data), targets), strict=True):
                temps[i][1].write(block)
        for _, handle in temps.values():
            handle.close()
        return {i: _commit(manifest, i, temps[i][0], out) for i in targets}


def _temp(stack: ExitStack, out: Path, index: int) -> tuple[Path, object]:
    fd, name = tempfile.mkstemp(prefix=f".{shard_name(index)}.", suffix=".part", dir=out)
    path = Path(name)
    stack.callback(path.unlink, missing_ok=True)
    return path, os.fdopen(fd, "wb")


def _commit(manifest: SignedManifest, index: int, tmp: Path, out: Path) -> Path:
    expected = manifest.manifest.shards[index].sha256
    if sha256_file(tmp) != expected:
        raise IntegrityError(f"rebuilt shard {index} does not hash to the manifest's {expected[:12]}…")
    final = out / shard_name(index)
    os.replace(tmp, final)
    return final
