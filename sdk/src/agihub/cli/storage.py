"""``agihub pack``, ``agihub unpack`` and ``agihub verify``: thin adapters over agihub.storage.

Errors are typed :class:`agihub.errors.AgihubError` subclasses; ``agihub.cli.main`` turns each
into one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from agihub.errors import ConfigError
from agihub.identity import SecretKey
from agihub.storage.crypto import load_secret
from agihub.storage.erasure import DEFAULT_K, DEFAULT_N
from agihub.storage.errors import DecryptionError
from agihub.storage.manifest import Card, SignedManifest, load_manifest
from agihub.storage.package import PackOptions, pack_delta, pack_model
from agihub.storage.unpack import ShardStatus, private_version_key, unpack, verify_package

ENV_IDENTITY = "AGIHUB_IDENTITY_FILE"
_KEYGEN_HINT = (
    'create one with: python -c "from agihub.identity import SecretKey; '
    'print(SecretKey.generate().nsec)" > publisher.nsec'
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data, sort_keys=True) if as_json else text)


def _identity(path: Path | None) -> SecretKey:
    chosen = path or (Path(os.environ[ENV_IDENTITY]) if os.environ.get(ENV_IDENTITY) else None)
    if chosen is None:
        raise ConfigError(f"no publisher key: pass --identity FILE or set {ENV_IDENTITY}; {_KEYGEN_HINT}")
    return SecretKey.load(chosen)


def _owner_secret(private: bool, key_file: Path | None) -> bytes | None:
    if private and key_file is None:
        raise ConfigError("--private needs --key-file FILE (create one with `openssl rand -hex 32 > FILE`)")
    if key_file is not None and not private:
        raise ConfigError("--key-file is only used with --private; add --private to publish a private model")
    return load_secret(key_file) if key_file is not None else None


def _summary(signed: SignedManifest) -> dict[str, Any]:
    body = signed.manifest
    return {
        "manifest_id": signed.manifest_id.hex(),
        "model_root": body.model_root,
        "publisher": body.publisher,
        "name": body.card.name,
        "version": body.card.version,
        "kind": body.payload.kind,
        "size": body.payload.size,
        "private": body.encryption is not None,
        "k": body.erasure.k,
        "n": body.erasure.n,
        "chunks": len(body.chunking.chunks),
        "tensors": len(body.tensors),
    }


def pack_command(
    model: Annotated[Path, typer.Argument(help="A .safetensors file (or a delta file with --parent-root).")],
    out_dir: Annotated[Path, typer.Argument(help="Directory to write manifest.json and the shards into.")],
    k: Annotated[int, typer.Option("--k", help="Shards needed to rebuild.")] = DEFAULT_K,
    n: Annotated[int, typer.Option("--n", help="Shards written.")] = DEFAULT_N,
    private: Annotated[bool, typer.Option("--private", help="Encrypt before erasure coding.")] = False,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Owner secret (hex) for --private.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name (default: file stem).")] = None,
    version: Annotated[str, typer.Option("--version", help="Version label.")] = "1",
    license_: Annotated[str | None, typer.Option("--license", help="License id, e.g. apache-2.0.")] = None,
    base_model: Annotated[str | None, typer.Option("--base-model", help="Base model name.")] = None,
    identity: Annotated[Path | None, typer.Option("--identity", help="Publisher nsec/hex key file.")] = None,
    parent_root: Annotated[
        str | None, typer.Option("--parent-root", help="Pack MODEL as a delta of this model_root (hex).")
    ] = None,
    delta_encoding: Annotated[
        str, typer.Option("--delta-encoding", help="Delta codec name.")
    ] = "agihub-delta/1",
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Threads to use.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Package a model into a signed manifest and n erasure-coded shards."""
    key = _identity(identity)
    secret = _owner_secret(private, key_file)
    try:
        options = PackOptions(k=k, n=n, workers=workers)
        card = Card(name=name or model.stem, version=version, license=license_, base_model=base_model)
    except ValueError as exc:
        raise ConfigError(f"invalid option: {' '.join(str(exc).split())[:200]}") from exc
    if parent_root is None:
        signed = pack_model(model, out_dir, key, card, options=options, owner_secret=secret)
    else:
        try:
            parent = bytes.fromhex(parent_root)
        except ValueError as exc:
            raise ConfigError("--parent-root must be 64 hex characters (a model_root)") from exc
        signed = pack_delta(
            model,
            out_dir,
            key,
            card,
            parent_root=parent,
            delta_encoding=delta_encoding,
            options=options,
            owner_secret=secret,
        )
    data = _summary(signed) | {"out_dir": str(out_dir)}
    _emit(
        as_json,
        data,
        f"packed {model} -> {out_dir}\nmodel_root  {data['model_root']}\nmanifest_id {data['manifest_id']}",
    )


def _default_shards(manifest: Path) -> list[Path]:
    return sorted(manifest.parent.glob("shard-*.bin"))


def _version_key(signed: SignedManifest, key_file: Path | None) -> bytes | None:
    if signed.manifest.encryption is None:
        return None
    if key_file is None:
        raise DecryptionError("this model is private: pass --key-file with the owner secret")
    return private_version_key(signed, load_secret(key_file))


def unpack_command(
    manifest: Annotated[Path, typer.Argument(help="Path to manifest.json.")],
    dest: Annotated[Path, typer.Argument(help="File to write the rebuilt model to.")],
    shards: Annotated[
        list[Path] | None,
        typer.Option("--shard", help="Shard file (repeatable; default: beside the manifest)."),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Owner secret for private models.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Threads to use.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a model from any k good shards, verifying every chunk."""
    signed = load_manifest(manifest)
    statuses = unpack(
        signed,
        shards or _default_shards(manifest),
        dest,
        version_key=_version_key(signed, key_file),
        workers=workers,
    )
    bad = [s for s in statuses if s.ok is False]
    data = _summary(signed) | {"dest": str(dest), "excluded": [_status(s) for s in bad]}
    notes = "".join(f"\nexcluded {s.path}: {s.problem}" for s in bad)
    _emit(as_json, data, f"rebuilt {dest} ({data['size']} bytes, model_root {data['model_root']}){notes}")


def _status(s: ShardStatus) -> dict[str, Any]:
    return {"path": s.path, "index": s.index, "ok": bool(s.ok), "problem": s.problem}


def verify_command(
    manifest: Annotated[Path, typer.Argument(help="Path to manifest.json.")],
    shards: Annotated[
        list[Path] | None, typer.Argument(help="Shard files (default: beside the manifest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the manifest signature and each shard on its own; exit 1 if anything is wrong."""
    signed = load_manifest(manifest)
    report = verify_package(signed, shards or _default_shards(manifest))
    data = _summary(signed) | {
        "shards": [_status(s) for s in report.shards],
        "good": report.good,
        "recoverable": report.recoverable,
        "tensor_names": [t.name for t in signed.manifest.tensors],
    }
    lines = [f"manifest {data['manifest_id']} signed by {data['publisher']}: ok"]
    lines += [f"{s.path}: {'ok' if s.ok else s.problem}" for s in report.shards]
    lines.append(f"{len(report.good)} of {report.n} shards good; need {report.k}")
    _emit(as_json, data, "\n".join(lines))
    if any(not s.ok for s in report.shards):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the storage commands to the ``agihub`` app."""
    app.command("pack")(pack_command)
    app.command("unpack")(unpack_command)
    app.command("verify")(verify_command)


__all__ = ["register"]
