"""Hash commitments shared with the contracts: the relay's key commitment and validators' scores.

Both are keccak256 over 128 raw bytes (no ABI tuple encoding), see contracts/README.md:

* ``key_commit  = keccak256(key32 ‖ salt32 ‖ uint256_be(order_id) ‖ word(relay))``
* ``score_commit = keccak256(uint256_be(score) ‖ salt32 ‖ uint256_be(contribution_id) ‖ word(validator))``

``word(address)`` is the address as 32 bytes: an EVM 20-byte address is left-padded with zeros,
an Aptos address already is 32 bytes. Binding the order id and the account stops a commitment from
being replayed on another order or by another relay.
"""

from __future__ import annotations

import secrets

from Crypto.Hash import keccak

from agihub.chain.base import UINT256_MAX, require_bytes32, require_uint
from agihub.chain.errors import ChainInputError

__all__ = ["address_word", "keccak256", "key_commit", "new_secret", "score_commit"]


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum variant, not NIST SHA3-256) of ``data``."""
    return keccak.new(digest_bits=256, data=data).digest()


def address_word(address: str | bytes) -> bytes:
    """An EVM (20-byte) or Aptos (up to 32-byte) address as a 32-byte big-endian word."""
    if isinstance(address, str):
        text = address.removeprefix("0x").removeprefix("0X")
        if not text or len(text) > 64:
            raise ChainInputError(f"address {address!r} is not 1..64 hex digits")
        try:
            raw = bytes.fromhex(text.rjust(64, "0"))
        except ValueError as exc:
            raise ChainInputError(f"address {address!r} is not hex") from exc
        return raw
    if len(address) not in (20, 32):
        raise ChainInputError(f"address must be 20 or 32 bytes, got {len(address)}")
    return bytes(address).rjust(32, b"\0")


def _uint_word(name: str, value: int) -> bytes:
    return require_uint(name, value, UINT256_MAX).to_bytes(32, "big")


def key_commit(key: bytes, salt: bytes, order_id: int, relay: str | bytes) -> bytes:
    """The commitment a relay posts in ``take_order`` and opens with ``reveal_key``."""
    return keccak256(
        require_bytes32("key", key)
        + require_bytes32("salt", salt)
        + _uint_word("order_id", order_id)
        + address_word(relay)
    )


def score_commit(score: int, salt: bytes, contribution_id: int, validator: str | bytes) -> bytes:
    """The commitment a validator posts in ``commit_score`` and opens with ``reveal_score``."""
    return keccak256(
        _uint_word("score", score)
        + require_bytes32("salt", salt)
        + _uint_word("contribution_id", contribution_id)
        + address_word(validator)
    )


def new_secret() -> bytes:
    """32 random bytes from the OS CSPRNG, for keys and salts."""
    return secrets.token_bytes(32)
