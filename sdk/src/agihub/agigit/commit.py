"""Commit objects: a signed, canonical JSON body naming a packed version of each part.

``commit_id`` = sha256 of the canonical body (the same canonical JSON as manifests: sorted keys,
no whitespace, integers only); the file is ``{"commit": body, "signature": hex}`` plus ``\\n`` and
a reader refuses any file that is not byte-for-byte canonical. The signature is BIP-340 by
``author`` over the commit id (agihub.identity).

``parts`` maps a part name to the version of that part (issue #10: four independently versioned
parts). ``params`` (the safetensors model) is required; ``code``, ``train-data`` and ``val-data``
are present once tracked (see :mod:`agihub.agigit.parts`). A part that did not change names the
same package as the parent commit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from agihub.agigit.errors import CorruptObjectError
from agihub.identity import IdentityError, PublicKey, SecretKey
from agihub.storage.manifest import canonical_json, strict_json

FORMAT = "agigit-commit/1"
MAX_COMMIT_SIZE = 4 * 1024 * 1024
PARTS = ("params", "code", "train-data", "val-data")

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
UInt = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PartVersion(_Strict):
    """One packed version of a part.

    ``manifest`` is the storage package's ``manifest_id``; ``sha256`` and ``size`` describe the
    materialized file (what ``checkout`` writes). ``storage`` is ``full`` (the package holds the
    file) or ``delta`` (the package holds an agihub.delta file against the part of commit ``base``).
    ``groups`` maps each parameter group to the hash of its tensors (see :mod:`agihub.agigit.groups`).
    """

    manifest: Hex32
    model_root: Hex32
    sha256: Hex32
    size: UInt
    storage: Literal["full", "delta"]
    base: Hex32 | None = None
    groups: dict[str, Hex32] = Field(default_factory=dict)


class CommitBody(_Strict):
    """Everything the author signs."""

    format: Literal["agigit-commit/1"]
    parents: Annotated[list[Hex32], Field(max_length=2)]
    message: Annotated[str, StringConstraints(max_length=65536)]
    author: Hex32
    time: UInt
    parts: dict[Literal["params", "code", "train-data", "val-data"], PartVersion]


class Commit(_Strict):
    """A commit body and its author's signature over :attr:`id`."""

    commit: CommitBody
    signature: Hex64

    @property
    def id(self) -> str:
        """Hex sha256 of the canonical body."""
        return body_id(self.commit)

    @property
    def params(self) -> PartVersion:
        return self.commit.parts["params"]

    def to_bytes(self) -> bytes:
        """The canonical file bytes."""
        return canonical_json(self.model_dump(mode="json")) + b"\n"


def body_id(body: CommitBody) -> str:
    return hashlib.sha256(canonical_json(body.model_dump(mode="json"))).hexdigest()


def sign_commit(body: CommitBody, key: SecretKey) -> Commit:
    """Sign ``body`` as ``key``; its ``author`` must be that key's public key."""
    if body.author != key.public_key.hex:
        raise CorruptObjectError("commit author differs from the signing key's public key")
    if "params" not in body.parts:
        raise CorruptObjectError("a commit must name a version of the params part")
    return Commit(commit=body, signature=key.sign(bytes.fromhex(body_id(body))).hex())


def parse_commit(data: bytes, *, expected_id: str | None = None) -> Commit:
    """Parse commit file bytes; check canonical form, signature and (optionally) the id."""
    if len(data) > MAX_COMMIT_SIZE:
        raise CorruptObjectError(f"commit is {len(data)} bytes; the limit is {MAX_COMMIT_SIZE}")
    try:
        commit = Commit.model_validate(strict_json(data.decode("ascii"), CorruptObjectError, "commit"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        raise CorruptObjectError(f"commit is malformed: {' '.join(str(exc).split())[:300]}") from exc
    if commit.to_bytes() != data:
        raise CorruptObjectError("commit is not in canonical form (it was edited or re-serialized)")
    if "params" not in commit.commit.parts:
        raise CorruptObjectError("commit names no params part")
    if expected_id is not None and commit.id != expected_id:
        raise CorruptObjectError(f"commit hashes to {commit.id}, not {expected_id}")
    try:
        author = PublicKey.from_hex(commit.commit.author)
    except IdentityError as exc:
        raise CorruptObjectError(f"commit author key is invalid: {exc}") from exc
    if not author.verify(bytes.fromhex(commit.signature), bytes.fromhex(commit.id)):
        raise CorruptObjectError(f"commit {commit.id[:12]} signature does not verify: altered or forged")
    return commit
