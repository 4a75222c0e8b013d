"""The on-disk repository: layout, config, refs, lock and the object store.

```
WORK/model.safetensors          the tracked model (the params part)
WORK/<path>                     the file tracked for code / train-data / val-data (`agigit add`)
WORK/.agigit/
  config.json                   name, identity (nsec), owner secret, k/n, relays  (mode 0600)
  HEAD                          "ref: refs/heads/master" or a commit id (detached)
  refs/heads/master             commit id
  refs/remotes/upstream         the head last fetched from the relays
  objects/commits/<id>.json     signed commits (canonical JSON)
  objects/packages/<manifest_id>/
      manifest.json             the signed storage manifest
      payload                   the packed file: a safetensors model, an agihub.delta file, the code
                                file, or a data package's carried chunks (only the new ones if thin)
      shard-NNN.bin             erasure-coded shards (packages made here; fetched ones keep payload only)
  remote.json                   where pushed/fetched objects live on relays (blob ids, placements)
  index.json                    stat cache of the tracked files (path → size, mtime_ns, sha256)
  tmp/                          staging; everything is renamed into place
  lock                          held by the running command
```

Every file is written to a temp file in the same directory and renamed; package directories are
staged under ``tmp/`` and renamed whole; refs are written last. A crash therefore leaves either
the old state or the new one, plus at most some garbage under ``tmp/`` (cleared by the next command).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agihub.agigit.commit import PARTS, Commit, PartVersion, parse_commit
from agihub.agigit.errors import (
    CorruptObjectError,
    NotARepositoryError,
    RepositoryExistsError,
    RepositoryLockedError,
    UnknownCommitError,
    UnknownPartError,
    UnknownPartVersionError,
)
from agihub.delta import apply_delta
from agihub.identity import SecretKey
from agihub.storage.cdc import DEFAULT_CDC_CAP, check_cdc_cap
from agihub.storage.errors import IntegrityError
from agihub.storage.manifest import SignedManifest, load_manifest
from agihub.storage.package import MANIFEST_NAME, shard_name
from agihub.storage.unpack import assemble_data, private_version_key, unpack

log = logging.getLogger(__name__)

DIR = ".agigit"
CONFIG_FORMAT = "agigit-config/1"
DEFAULT_MODEL = "model.safetensors"
DEFAULT_BRANCH = "master"
PAYLOAD = "payload"
UPSTREAM_REF = "refs/remotes/upstream"
#: Code stays one small blob: a larger code part is refused (configurable per repository).
DEFAULT_LIMITS = {"code": 16 * 1024 * 1024}
_EMPTY_NAMES = {
    "HEAD": "this repository has no commits yet; `agigit commit -m MSG` first",
    "upstream": "no upstream head fetched yet; run `agigit fetch` (after `agigit relay add --fetch URL`)",
}


@dataclass
class Relay:
    """A configured relay: its URL, the operator who runs it, and whether we fetch and/or push."""

    url: str
    fetch: bool = True
    push: bool = True
    operator: str = ""
    pubkey: str | None = None


@dataclass
class Config:
    """The repository's settings; secrets live here, so the file is mode 0600."""

    name: str
    identity: str  # hex secret key
    owner_secret: str | None = None  # hex; set for private repositories
    upstream: str | None = None  # hex pubkey whose head `fetch` follows (default: our own)
    model: str = DEFAULT_MODEL
    k: int = 4
    n: int = 6
    relays: list[Relay] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # code / train-data / val-data → work-tree path
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))  # part → max bytes
    cdc_cap: int = DEFAULT_CDC_CAP  # data parts: FastCDC max chunk (avg = cap/8)

    @property
    def key(self) -> SecretKey:
        return SecretKey.from_hex(self.identity)

    @property
    def upstream_pubkey(self) -> str:
        return self.upstream or self.key.public_key.hex

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["relays"] = [dict(relay.__dict__) for relay in self.relays]
        return {"format": CONFIG_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        data = dict(data)
        if data.pop("format", None) != CONFIG_FORMAT:
            raise CorruptObjectError(f"config is not {CONFIG_FORMAT}")
        data["relays"] = [Relay(**relay) for relay in data.get("relays", [])]
        return cls(**data)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync, chmod, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Repository:
    """A work tree and its ``.agigit`` directory."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.dir = work / DIR
        path = self.dir / "config.json"
        try:
            self.config = Config.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise CorruptObjectError(f"{path} is unreadable or malformed: {exc}") from exc

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def find(cls, start: str | os.PathLike[str] = ".") -> Repository:
        """The repository containing ``start`` (searching parents), or :class:`NotARepositoryError`."""
        here = Path(start).resolve()
        for candidate in (here, *here.parents):
            if (candidate / DIR / "config.json").is_file():
                return cls(candidate)
        raise NotARepositoryError(f"{here} is not inside an agigit repository; run `agigit init` there first")

    @classmethod
    def init(
        cls,
        work: str | os.PathLike[str],
        *,
        name: str | None = None,
        key: SecretKey | None = None,
        private: bool = False,
        owner_secret: bytes | None = None,
        upstream: str | None = None,
        model: str = DEFAULT_MODEL,
        k: int = 4,
        n: int = 6,
        cdc_cap: int = DEFAULT_CDC_CAP,
        code_limit: int = DEFAULT_LIMITS["code"],
    ) -> Repository:
        """Create an empty repository in ``work`` (staged under a temp name, then renamed)."""
        check_cdc_cap(cdc_cap)
        work_path = Path(work).resolve()
        if (work_path / DIR).exists():
            raise RepositoryExistsError(f"{work_path / DIR} already exists; this is already a repository")
        work_path.mkdir(parents=True, exist_ok=True)
        secret = owner_secret if owner_secret is not None else (secrets.token_bytes(32) if private else None)
        config = Config(
            name=name or work_path.name,
            identity=(key or SecretKey.generate()).raw.hex(),
            owner_secret=secret.hex() if secret is not None else None,
            upstream=upstream,
            model=model,
            k=k,
            n=n,
            limits={**DEFAULT_LIMITS, "code": code_limit},
            cdc_cap=cdc_cap,
        )
        staging = Path(tempfile.mkdtemp(prefix=".agigit-init-", dir=work_path))
        try:
            os.chmod(staging, 0o700)
            for sub in ("refs/heads", "refs/remotes", "objects/commits", "objects/packages", "tmp"):
                (staging / sub).mkdir(parents=True)
            write_atomic(staging / "HEAD", f"ref: refs/heads/{DEFAULT_BRANCH}\n".encode())
            write_atomic(staging / "config.json", _dump(config.to_json()), mode=0o600)
            os.rename(staging, work_path / DIR)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cls(work_path)

    # --- config, lock ----------------------------------------------------------------------------

    def save_config(self) -> None:
        write_atomic(self.dir / "config.json", _dump(self.config.to_json()), mode=0o600)

    @property
    def model_path(self) -> Path:
        return self.work / self.config.model

    @property
    def owner_secret(self) -> bytes | None:
        return bytes.fromhex(self.config.owner_secret) if self.config.owner_secret else None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``.agigit/lock`` (O_EXCL) for one command; clears stale staging files."""
        lock = self.dir / "lock"
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise RepositoryLockedError(
                f"{lock} exists: another agigit command is running (if none is, delete the file)"
            ) from None
        try:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            self._clear_stale_temps()
            yield
        finally:
            lock.unlink(missing_ok=True)

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path under ``.agigit/tmp`` (nothing created), named after this process."""
        return self.dir / "tmp" / f"{os.getpid()}-{secrets.token_hex(8)}{suffix}"

    def _clear_stale_temps(self) -> None:
        """Remove staging left by processes that died (read-only commands may be using theirs)."""
        for stale in (self.dir / "tmp").iterdir():
            pid = stale.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)

    # --- refs ------------------------------------------------------------------------------------

    def head_ref(self) -> str | None:
        """``refs/heads/<branch>`` when HEAD is attached, None when detached."""
        text = (self.dir / "HEAD").read_text().strip()
        return text[5:] if text.startswith("ref: ") else None

    def read_ref(self, ref: str) -> str | None:
        path = self.dir / ref
        return path.read_text().strip() if path.is_file() else None

    def write_ref(self, ref: str, commit_id: str) -> None:
        write_atomic(self.dir / ref, f"{commit_id}\n".encode())

    def head(self) -> str | None:
        """The commit HEAD points at (None in a repository without commits)."""
        ref = self.head_ref()
        if ref is None:
            return (self.dir / "HEAD").read_text().strip()
        return self.read_ref(ref)

    def set_head(self, commit_id: str) -> None:
        """Advance the current branch (or the detached HEAD) to ``commit_id``."""
        ref = self.head_ref()
        if ref is None:
            write_atomic(self.dir / "HEAD", f"{commit_id}\n".encode())
        else:
            self.write_ref(ref, commit_id)

    def attach(self, branch: str, commit_id: str | None) -> None:
        if commit_id is not None:
            self.write_ref(f"refs/heads/{branch}", commit_id)
        write_atomic(self.dir / "HEAD", f"ref: refs/heads/{branch}\n".encode())

    def detach(self, commit_id: str) -> None:
        write_atomic(self.dir / "HEAD", f"{commit_id}\n".encode())

    # --- objects ---------------------------------------------------------------------------------

    def commit_path(self, commit_id: str) -> Path:
        return self.dir / "objects" / "commits" / f"{commit_id}.json"

    def has_commit(self, commit_id: str) -> bool:
        return self.commit_path(commit_id).is_file()

    def read_commit(self, commit_id: str) -> Commit:
        path = self.commit_path(commit_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UnknownCommitError(
                f"no commit {commit_id} in this repository; `agigit fetch` first?"
            ) from None
        return parse_commit(data, expected_id=commit_id)

    def store_commit(self, commit: Commit) -> None:
        write_atomic(self.commit_path(commit.id), commit.to_bytes())

    def all_commits(self) -> list[str]:
        return sorted(p.stem for p in (self.dir / "objects" / "commits").glob("*.json"))

    def resolve(self, rev: str) -> str:
        """A commit id from a full id, a unique prefix (4+ hex), a branch name, ``HEAD`` or ``upstream``."""
        text = rev.strip()
        named = {"HEAD": self.head(), "upstream": self.read_ref(UPSTREAM_REF)}
        if text in named:
            if named[text] is None:
                raise UnknownCommitError(_EMPTY_NAMES[text])
            return named[text]  # type: ignore[return-value]
        branch = self.read_ref(f"refs/heads/{text}")
        if branch is not None:
            return branch
        lowered = text.lower()
        if len(lowered) < 4 or any(c not in "0123456789abcdef" for c in lowered):
            raise UnknownCommitError(f"{rev!r} is not a commit id, a branch or HEAD; see `agigit log`")
        matches = [c for c in self.all_commits() if c.startswith(lowered)]
        if not matches:
            raise UnknownCommitError(
                f"no commit {rev} in this repository; see `agigit log`, or `agigit fetch`"
            )
        if len(matches) > 1:
            raise UnknownCommitError(f"{rev} is ambiguous ({len(matches)} commits); give more characters")
        return matches[0]

    def package_dir(self, manifest_id: str) -> Path:
        return self.dir / "objects" / "packages" / manifest_id

    def store_package(self, staged: Path, manifest_id: str) -> Path:
        """Move a staged package directory into the store (kept as is if already present)."""
        final = self.package_dir(manifest_id)
        if final.is_dir():
            shutil.rmtree(staged, ignore_errors=True)
        else:
            os.rename(staged, final)
        return final

    def manifest(self, manifest_id: str) -> SignedManifest:
        return load_manifest(self.package_dir(manifest_id) / MANIFEST_NAME)

    def payload(self, commit: Commit) -> Path:
        """The packed file of a commit's params (rebuilt from local shards if only those exist)."""
        return self.package_payload(commit.params.manifest)

    def package_payload(self, manifest_id: str) -> Path:
        """A stored package's packed file (rebuilt from local shards if only those exist)."""
        pkg = self.package_dir(manifest_id)
        path = pkg / PAYLOAD
        if path.is_file():
            return path
        if not pkg.is_dir():
            raise UnknownPartVersionError(
                f"package {manifest_id[:12]} is not in this repository; `agigit fetch` the commit that names it"
            )
        signed = self.manifest(manifest_id)
        key = (
            private_version_key(signed, self.owner_secret)
            if signed.manifest.encryption and self.owner_secret
            else None
        )
        shards = [
            pkg / shard_name(s.index) for s in signed.manifest.shards if (pkg / shard_name(s.index)).is_file()
        ]
        unpack(signed, shards, path, version_key=key)
        return path

    def base_resolver(self, staged: dict[str, Path] | None = None) -> Any:
        """manifest_id → (manifest, carried-chunk file) for thin data packages (staged ones first)."""

        def resolve(manifest_id: str) -> tuple[SignedManifest, Path]:
            if staged and manifest_id in staged:
                return load_manifest(staged[manifest_id] / MANIFEST_NAME), staged[manifest_id] / PAYLOAD
            return self.manifest(manifest_id), self.package_payload(manifest_id)

        return resolve

    @contextlib.contextmanager
    def materialized(self, commit_id: str, part: str = "params") -> Iterator[Path]:
        """A readable path holding a commit's version of ``part`` (a temp file unless stored whole)."""
        commit = self.read_commit(commit_id)
        version = commit.commit.parts.get(part)  # type: ignore[call-overload]
        if version is None:
            raise UnknownPartVersionError(f"commit {commit_id[:12]} has no {part} part")
        if part != "params":
            with self.materialized_version(version) as path:
                yield path
            return
        if version.storage == "full":
            yield self.payload(commit)
            return
        out = self.temp_path(".safetensors")
        try:
            with self.materialized(version.base or "") as base:
                apply_delta(base, self.payload(commit), out)
            yield out
        finally:
            out.unlink(missing_ok=True)

    @contextlib.contextmanager
    def materialized_version(
        self, version: PartVersion, staged: dict[str, Path] | None = None
    ) -> Iterator[Path]:
        """The file of a code or data part version (data: assembled from its chunks, each checked)."""
        if staged and version.manifest in staged:
            pkg = staged[version.manifest]
            signed, payload = load_manifest(pkg / MANIFEST_NAME), pkg / PAYLOAD
        else:
            signed, payload = self.manifest(version.manifest), self.package_payload(version.manifest)
        if signed.manifest.payload.kind != "data":
            if file_sha256(payload) != version.sha256:
                raise IntegrityError(
                    f"the stored file of package {version.manifest[:12]} fails its sha256 (corrupt); fetch it again"
                )
            yield payload
            return
        out = self.temp_path(".part")  # every chunk is checked on the way, whether or not it is thin
        try:
            assemble_data(signed, payload, self.base_resolver(staged), out)
            yield out
        finally:
            out.unlink(missing_ok=True)

    # --- parts -----------------------------------------------------------------------------------

    def part_path(self, part: str) -> Path:
        """The work-tree file of ``part``."""
        check_part(part)
        if part == "params":
            return self.model_path
        name = self.config.files.get(part)
        if name is None:
            raise UnknownPartError(
                f"the {part} part is not tracked here; `agigit add --part {part} PATH` first"
            )
        return self.work / name

    def tracked_parts(self) -> list[str]:
        """Parts with a work-tree file, in the canonical order (params first)."""
        return [p for p in PARTS if p == "params" or p in self.config.files]

    # --- work-tree stat cache --------------------------------------------------------------------

    def worktree_sha256(self) -> str | None:
        """sha256 of the work-tree model (None when absent), cached by (size, mtime_ns)."""
        return self.file_sha256_cached(self.model_path)

    def part_sha256(self, part: str) -> str | None:
        """sha256 of ``part``'s work-tree file (None when absent)."""
        return self.file_sha256_cached(self.part_path(part))

    def file_sha256_cached(self, path: Path) -> str | None:
        """sha256 of a work-tree file (None when absent), cached in index.json by (size, mtime_ns)."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        index_path = self.dir / "index.json"
        try:
            index = json.loads(index_path.read_text()) if index_path.is_file() else {}
        except ValueError:
            index = {}
        files = index.get("files", {}) if isinstance(index.get("files"), dict) else {}
        key = str(path.relative_to(self.work)) if path.is_relative_to(self.work) else str(path)
        cached = files.get(key, {})
        if cached.get("size") == st.st_size and cached.get("mtime_ns") == st.st_mtime_ns:
            return str(cached["sha256"])
        digest = file_sha256(path)
        files[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        write_atomic(index_path, _dump({"files": files}))
        return digest

    # --- remote bookkeeping ----------------------------------------------------------------------

    def remote_state(self) -> dict[str, Any]:
        path = self.dir / "remote.json"
        return json.loads(path.read_text()) if path.is_file() else {"objects": {}}

    def save_remote_state(self, state: dict[str, Any]) -> None:
        write_atomic(self.dir / "remote.json", _dump(state))


def check_part(part: str) -> None:
    """Refuse a part name other than the four of issue #10."""
    if part not in PARTS:
        raise UnknownPartError(f"no part named {part!r}; parts are: {', '.join(PARTS)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
