"""Nostr identities: x-only secp256k1 keys, BIP-340 Schnorr signatures, NIP-19 encodings.

A publisher signs manifests with the same key it uses on Nostr relays, so a model version and
the relay events announcing it share one identity.

- BIP-340 (Schnorr signatures for secp256k1): https://github.com/bitcoin/bips/blob/master/bip-0340.mediawiki
- NIP-19 (bech32 ``npub``/``nsec``): https://github.com/nostr-protocol/nips/blob/master/19.md
- BIP-173 (bech32 checksum): https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki

The curve arithmetic is libsecp256k1's (through coincurve); this module only validates and
encodes, so every malformed input becomes an :class:`IdentityError` naming the problem.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from coincurve import PrivateKey, PublicKeyXOnly

from agihub.errors import ConfigError

log = logging.getLogger(__name__)

# Order of the secp256k1 group: a valid secret key is in [1, N-1] (BIP-340, "Public Key Generation").
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGNATURE_SIZE = 64
KEY_SIZE = 32

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# BIP-173 caps a bech32 string at 90 characters; npub/nsec are 63.
_BECH32_MAX_LEN = 90


class IdentityError(ConfigError):
    """A key, signature or NIP-19 string is malformed."""


def _bech32_polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup a bit string (BIP-173 reference semantics: no non-zero padding on decode)."""
    acc = bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & max_value)
    elif not pad and (bits >= from_bits or (acc << (to_bits - bits)) & max_value):
        raise IdentityError("bech32 payload has invalid padding")
    return out


def bech32_encode(hrp: str, payload: bytes) -> str:
    """Encode ``payload`` as bech32 (BIP-173) with human-readable part ``hrp``."""
    data = _convert_bits(payload, 8, 5, pad=True)
    polymod = _bech32_polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[d] for d in data + checksum)


def bech32_decode(text: str) -> tuple[str, bytes]:
    """Decode a bech32 string into ``(hrp, payload)``; raises :class:`IdentityError` if invalid."""
    if len(text) > _BECH32_MAX_LEN:
        raise IdentityError(f"bech32 string is {len(text)} characters; the limit is {_BECH32_MAX_LEN}")
    if text.lower() != text and text.upper() != text:
        raise IdentityError("bech32 string mixes upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        raise IdentityError("bech32 string has no human-readable part or a short checksum")
    hrp, rest = text[:sep], text[sep + 1 :]
    if any(c not in _BECH32_CHARSET for c in rest):
        raise IdentityError("bech32 string contains a character outside the bech32 alphabet")
    data = [_BECH32_CHARSET.index(c) for c in rest]
    if _bech32_polymod(_hrp_expand(hrp) + data) != 1:
        raise IdentityError("bech32 checksum does not match (a character was mistyped)")
    return hrp, bytes(_convert_bits(data[:-6], 5, 8, pad=False))


def _decode_nip19(text: str, expected_hrp: str) -> bytes:
    hrp, payload = bech32_decode(text.strip())
    if hrp != expected_hrp:
        raise IdentityError(f"expected an {expected_hrp}1... string, got {hrp}1...")
    if len(payload) != KEY_SIZE:
        raise IdentityError(f"{expected_hrp} payload is {len(payload)} bytes; expected {KEY_SIZE}")
    return payload


def _parse_hex32(text: str, what: str) -> bytes:
    text = text.strip()
    if len(text) != 2 * KEY_SIZE:
        raise IdentityError(f"{what} must be {2 * KEY_SIZE} hex characters, got {len(text)}")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise IdentityError(f"{what} is not hexadecimal") from exc


@dataclass(frozen=True)
class PublicKey:
    """A BIP-340 x-only public key (32 bytes), the publisher id on relays and in manifests."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEY_SIZE:
            raise IdentityError(f"public key is {len(self.raw)} bytes; expected {KEY_SIZE}")
        try:
            PublicKeyXOnly(self.raw)
        except ValueError as exc:
            raise IdentityError("public key is not an x coordinate on secp256k1") from exc

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        """Parse 64 hex characters."""
        return cls(_parse_hex32(text, "public key"))

    @classmethod
    def from_npub(cls, text: str) -> PublicKey:
        """Parse a NIP-19 ``npub1...`` string."""
        return cls(_decode_nip19(text, "npub"))

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """Parse either an ``npub1...`` string or 64 hex characters."""
        return cls.from_npub(text) if text.strip().lower().startswith("npub1") else cls.from_hex(text)

    @property
    def hex(self) -> str:
        """Lower-case hex, the form used in Nostr events and manifests."""
        return self.raw.hex()

    @property
    def npub(self) -> str:
        """NIP-19 ``npub1...`` form, for humans."""
        return bech32_encode("npub", self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Check a BIP-340 signature over ``message``; malformed signatures verify as False."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        return bool(PublicKeyXOnly(self.raw).verify(signature, message))


class SecretKey:
    """A secp256k1 secret key that signs with BIP-340 Schnorr.

    The raw bytes are kept private and never appear in ``repr``.
    """

    __slots__ = ("_key",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_SIZE:
            raise IdentityError(f"secret key is {len(raw)} bytes; expected {KEY_SIZE}")
        if not 0 < int.from_bytes(raw, "big") < CURVE_ORDER:
            raise IdentityError("secret key is zero or not below the secp256k1 group order")
        self._key = PrivateKey(raw)

    def __repr__(self) -> str:
        return f"SecretKey(public={self.public_key.hex})"

    @classmethod
    def generate(cls) -> SecretKey:
        """A fresh key from the operating system's CSPRNG."""
        while True:
            raw = secrets.token_bytes(KEY_SIZE)
            if 0 < int.from_bytes(raw, "big") < CURVE_ORDER:
                return cls(raw)

    @classmethod
    def from_hex(cls, text: str) -> SecretKey:
        """Parse 64 hex characters."""
        return cls(_parse_hex32(text, "secret key"))

    @classmethod
    def from_nsec(cls, text: str) -> SecretKey:
        """Parse a NIP-19 ``nsec1...`` string."""
        return cls(_decode_nip19(text, "nsec"))

    @classmethod
    def parse(cls, text: str) -> SecretKey:
        """Parse either an ``nsec1...`` string or 64 hex characters."""
        return cls.from_nsec(text) if text.strip().lower().startswith("nsec1") else cls.from_hex(text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SecretKey:
        """Read a key file holding one ``nsec1...`` or hex line."""
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise IdentityError(f"cannot read identity file {path}: {exc}") from exc
        return cls.parse(text)

    @property
    def raw(self) -> bytes:
        """The 32 secret bytes (handle with care)."""
        return self._key.secret

    @property
    def nsec(self) -> str:
        """NIP-19 ``nsec1...`` form."""
        return bech32_encode("nsec", self._key.secret)

    @property
    def public_key(self) -> PublicKey:
        """The x-only public key."""
        return PublicKey(PublicKeyXOnly.from_secret(self._key.secret).format())

    def sign(self, message: bytes, aux_rand: bytes | None = None) -> bytes:
        """BIP-340 signature over a 32-byte message (callers sign a sha256 digest).

        ``aux_rand`` defaults to 32 fresh random bytes, as BIP-340 recommends against
        side-channel attacks; pass it explicitly only to reproduce test vectors.
        """
        if len(message) != 32:
            raise IdentityError(f"sign expects a 32-byte digest, got {len(message)} bytes")
        aux = secrets.token_bytes(32) if aux_rand is None else aux_rand
        if len(aux) != 32:
            raise IdentityError("aux_rand must be 32 bytes")
        return self._key.sign_schnorr(message, aux)


def verify(public_key: bytes | str, signature: bytes, message: bytes) -> bool:
    """Verify a BIP-340 signature; a malformed key or signature is simply False."""
    try:
        key = PublicKey.parse(public_key) if isinstance(public_key, str) else PublicKey(public_key)
    except IdentityError:
        return False
    return key.verify(signature, message)


def digest(data: bytes) -> bytes:
    """sha256, the message every agihub signature covers."""
    return hashlib.sha256(data).digest()
