"""Merkle root and inclusion proofs over chunk hashes."""

from __future__ import annotations

import hashlib

import pytest

from agihub.storage.errors import IntegrityError
from agihub.storage.merkle import ProofStep, leaf_hash, merkle_proof, merkle_root, node_hash, verify_proof


def _digests(count: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(count)]


def test_small_trees_by_hand() -> None:
    a, b, c = _digests(3)
    assert merkle_root([a]) == leaf_hash(a) == hashlib.sha256(b"\x00" + a).digest()
    assert merkle_root([a, b]) == hashlib.sha256(b"\x01" + leaf_hash(a) + leaf_hash(b)).digest()
    # An odd node is promoted, not paired with itself.
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


def test_duplicated_last_leaf_changes_the_root() -> None:
    d = _digests(3)
    assert merkle_root(d) != merkle_root([*d, d[-1]])


def test_order_matters_and_leaf_is_not_a_node() -> None:
    a, b = _digests(2)
    assert merkle_root([a, b]) != merkle_root([b, a])
    inner = node_hash(leaf_hash(a), leaf_hash(b))
    assert merkle_root([inner]) != merkle_root([a, b])


@pytest.mark.parametrize("count", range(1, 18))
def test_every_proof_verifies_and_a_wrong_one_does_not(count: int) -> None:
    digests = _digests(count)
    root = merkle_root(digests)
    for i, d in enumerate(digests):
        proof = merkle_proof(digests, i)
        assert verify_proof(d, proof, root)
        assert not verify_proof(hashlib.sha256(d).digest(), proof, root)
        if proof:
            flipped = [ProofStep(proof[0].sibling, not proof[0].left), *proof[1:]]
            assert not verify_proof(d, flipped, root)


def test_empty_and_out_of_range() -> None:
    with pytest.raises(IntegrityError, match="empty"):
        merkle_root([])
    with pytest.raises(IndexError):
        merkle_proof(_digests(2), 2)
