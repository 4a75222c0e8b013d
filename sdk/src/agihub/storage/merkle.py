"""Binary Merkle tree over chunk hashes: the ``model_root`` that identifies a model on chain.

Leaves and inner nodes are domain-separated (RFC 6962 §2.1 style) so a leaf can never be passed
off as an inner node::

    leaf(h)    = sha256(0x00 || h)          h = sha256(chunk bytes)
    node(l, r) = sha256(0x01 || l || r)

An odd node at the end of a level is promoted unchanged instead of being paired with a copy of
itself; duplicating it would let two different chunk lists share a root (CVE-2012-2459).
A proof is the list of sibling hashes from leaf to root, each tagged with its side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from agihub.storage.errors import IntegrityError

LEAF_TAG = b"\x00"
NODE_TAG = b"\x01"


def leaf_hash(chunk_digest: bytes) -> bytes:
    """The tree leaf for a chunk whose sha256 is ``chunk_digest``."""
    return hashlib.sha256(LEAF_TAG + chunk_digest).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An inner node."""
    return hashlib.sha256(NODE_TAG + left + right).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def merkle_root(chunk_digests: Sequence[bytes]) -> bytes:
    """Root over the chunk sha256 digests, in payload order. An empty list has no root."""
    if not chunk_digests:
        raise IntegrityError("a Merkle root needs at least one chunk; the payload is empty")
    level = [leaf_hash(d) for d in chunk_digests]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


@dataclass(frozen=True)
class ProofStep:
    """A sibling hash; ``left`` is True when the sibling sits on the left."""

    sibling: bytes
    left: bool


def merkle_proof(chunk_digests: Sequence[bytes], index: int) -> list[ProofStep]:
    """Inclusion proof of chunk ``index`` (lets a buyer prove one bad chunk without the rest)."""
    if not 0 <= index < len(chunk_digests):
        raise IndexError(f"chunk index {index} out of range 0..{len(chunk_digests) - 1}")
    level = [leaf_hash(d) for d in chunk_digests]
    steps: list[ProofStep] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            steps.append(ProofStep(level[sibling], left=sibling < index))
        level = _next_level(level)
        index //= 2
    return steps


def verify_proof(chunk_digest: bytes, proof: Sequence[ProofStep], root: bytes) -> bool:
    """True when ``chunk_digest`` with ``proof`` hashes up to ``root``."""
    acc = leaf_hash(chunk_digest)
    for step in proof:
        acc = node_hash(step.sibling, acc) if step.left else node_hash(acc, step.sibling)
    return acc == root
