"""Open a sealed delivery saved from the wallet page: the command the page shows once the key is revealed.

``python -m agihub_services.web.open_delivery order-7.sealed --key 0x.. --salt 0x..`` decrypts the
delivery (the relay's shards of the model, back to back) into ``order-7.bundle``. With
``--manifest manifest.json`` (the model's signed manifest, from any relay's blob store) it also cuts
the bundle into ``shard-NNNN.bin`` files, each checked against the manifest's shard hashes, in
``--out-dir``; with ``--out model.safetensors`` it rebuilds the model from them (``--key-file`` with the
owner secret for a private model), as ``agihub unpack`` does.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from agihub.errors import AgihubError
from agihub.storage import SignedManifest, unpack
from agihub.storage.crypto import (
    KEY_SIZE,
    ORDER_SEGMENT_SIZE,
    SALT_SIZE,
    SEGMENT_OVERHEAD,
    load_secret,
    open_delivery,
)
from agihub.storage.errors import PayloadError, ShardMismatchError
from agihub.storage.manifest import load_manifest
from agihub.storage.package import shard_name
from agihub.storage.unpack import private_version_key


class BadHexArgument(AgihubError):
    """A --key or --salt that is not 0x + 64 hex digits."""


def plain_size_of(sealed_size: int, segment_size: int = ORDER_SEGMENT_SIZE) -> int:
    """The plaintext size of a sealed delivery of ``sealed_size`` bytes (each segment adds nonce + tag)."""
    count = max(1, -(-sealed_size // (segment_size + SEGMENT_OVERHEAD)))
    plain = sealed_size - count * SEGMENT_OVERHEAD
    if plain < 0 or max(1, -(-plain // segment_size)) != count:
        raise PayloadError(f"a sealed delivery cannot be {sealed_size} bytes long: the file is truncated")
    return plain


def _hex32(text: str, name: str, size: int) -> bytes:
    body = text[2:] if text.startswith("0x") else text
    try:
        value = bytes.fromhex(body)
    except ValueError:
        value = b""
    if len(value) != size:
        raise BadHexArgument(f"--{name} must be 0x + {2 * size} hex digits, as the page shows it")
    return value


def split_bundle(bundle: Path, signed: SignedManifest, out_dir: Path) -> list[Path]:
    """Cut the bundle into the manifest's shards it holds (in index order), each verified by sha256."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = bundle.read_bytes()
    at, paths = 0, []
    for shard in sorted(signed.manifest.shards, key=lambda s: s.index):
        piece = data[at : at + shard.size]
        if len(piece) == shard.size and hashlib.sha256(piece).hexdigest() == shard.sha256:
            path = out_dir / shard_name(shard.index)
            path.write_bytes(piece)
            paths.append(path)
            at += shard.size
    if at != len(data) or not paths:
        raise ShardMismatchError(
            f"the delivery's {len(data) - at} bytes from offset {at} match no shard of this manifest: "
            "wrong manifest, or a relay sent other data"
        )
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agihub_services.web.open_delivery", description=__doc__)
    parser.add_argument("sealed", type=Path, help="the sealed delivery saved from the page")
    parser.add_argument("--key", required=True, help="the order key revealed on chain (0x + 64 hex)")
    parser.add_argument("--salt", required=True, help="the salt revealed with it (0x + 64 hex)")
    parser.add_argument("--manifest", type=Path, help="the model's signed manifest.json")
    parser.add_argument("--out-dir", type=Path, help="folder for the bundle and the shards (default: beside)")
    parser.add_argument("--out", type=Path, help="rebuild the model into this file (needs --manifest)")
    parser.add_argument("--key-file", type=Path, help="owner secret of a private model (with --out)")
    args = parser.parse_args(argv)
    try:
        key, salt = _hex32(args.key, "key", KEY_SIZE), _hex32(args.salt, "salt", SALT_SIZE)
        out_dir = args.out_dir or args.sealed.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        bundle = out_dir / args.sealed.with_suffix(".bundle").name
        open_delivery(args.sealed, bundle, key, salt, plain_size_of(args.sealed.stat().st_size))
        print(f"decrypted {args.sealed} into {bundle} ({bundle.stat().st_size} bytes)")
        if args.manifest is None:
            return 0
        signed = load_manifest(args.manifest)
        shards = split_bundle(bundle, signed, out_dir)
        print(f"verified shards {', '.join(p.name for p in shards)} against {args.manifest}")
        if args.out is not None:
            version_key = private_version_key(signed, load_secret(args.key_file)) if args.key_file else None
            unpack(signed, shards, args.out, version_key=version_key)
            print(f"rebuilt {args.out} (model_root 0x{signed.model_root.hex()})")
    except (AgihubError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
