"""agihub.identity against the official BIP-340 vectors and the NIP-19 examples."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from agihub.identity import (
    CURVE_ORDER,
    IdentityError,
    PublicKey,
    SecretKey,
    bech32_decode,
    bech32_encode,
    verify,
)

VECTORS = Path(__file__).with_name("test_identity_vectors.csv")
# NIP-19 (https://github.com/nostr-protocol/nips/blob/master/19.md) examples.
NPUB = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
NPUB_HEX = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
NSEC = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
NSEC_HEX = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"


def _rows() -> list[dict[str, str]]:
    with VECTORS.open(newline="") as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def test_vector_file_is_complete() -> None:
    assert [int(r["index"]) for r in ROWS] == list(range(15))
    assert sum(r["verification result"] == "FALSE" for r in ROWS) == 10


@pytest.mark.parametrize("row", [r for r in ROWS if r["secret key"]], ids=lambda r: f"sign-{r['index']}")
def test_signing_vectors(row: dict[str, str]) -> None:
    key = SecretKey.from_hex(row["secret key"])
    assert key.public_key.hex == row["public key"].lower()
    signature = key.sign(bytes.fromhex(row["message"]), aux_rand=bytes.fromhex(row["aux_rand"]))
    assert signature.hex() == row["signature"].lower()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"verify-{r['index']}")
def test_verification_vectors(row: dict[str, str]) -> None:
    expected = row["verification result"] == "TRUE"
    result = verify(
        bytes.fromhex(row["public key"]), bytes.fromhex(row["signature"]), bytes.fromhex(row["message"])
    )
    assert result is expected


@pytest.mark.parametrize("index", [5, 14])
def test_invalid_public_keys_are_typed_errors(index: int) -> None:
    with pytest.raises(IdentityError, match="not an x coordinate"):
        PublicKey.from_hex(ROWS[index]["public key"])


def test_nip19_examples_both_ways() -> None:
    assert PublicKey.from_npub(NPUB).hex == NPUB_HEX
    assert PublicKey.from_hex(NPUB_HEX).npub == NPUB
    assert SecretKey.from_nsec(NSEC).raw.hex() == NSEC_HEX
    assert SecretKey.from_hex(NSEC_HEX).nsec == NSEC
    assert SecretKey.parse(NSEC).public_key.hex == NPUB_HEX
    assert PublicKey.parse(NPUB.upper()).hex == NPUB_HEX  # bech32 allows all-upper-case


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (NPUB[:-1] + ("q" if NPUB[-1] != "q" else "p"), "checksum"),
        (NPUB[:10] + NPUB[10:].upper(), "mixes upper and lower"),
        (NPUB.replace("1", "b", 1), "checksum|human-readable"),
        ("npub1" + "b" * 58, "alphabet"),
        (NSEC, "expected an npub"),
        (bech32_encode("npub", b"\x01" * 31), "31 bytes"),
        ("npub1" + "q" * 100, "limit"),
    ],
)
def test_malformed_npub_rejected(text: str, problem: str) -> None:
    with pytest.raises(IdentityError, match=problem):
        PublicKey.from_npub(text)


def test_bech32_roundtrip_and_padding() -> None:
    for payload in (b"", b"\x00", b"\xff" * 5, bytes(range(32))):
        assert bech32_decode(bech32_encode("agi", payload)) == ("agi", payload)


@pytest.mark.parametrize("raw", [bytes(32), CURVE_ORDER.to_bytes(32, "big"), b"\x01" * 31])
def test_out_of_range_secret_keys(raw: bytes) -> None:
    with pytest.raises(IdentityError):
        SecretKey(raw)


def test_hex_parsing_errors() -> None:
    with pytest.raises(IdentityError, match="64 hex"):
        SecretKey.from_hex("abcd")
    with pytest.raises(IdentityError, match="not hexadecimal"):
        PublicKey.from_hex("zz" * 32)


def test_sign_verify_roundtrip_and_rejections() -> None:
    key = SecretKey.generate()
    digest = bytes(range(32))
    sig = key.sign(digest)
    assert key.public_key.verify(sig, digest)
    assert not key.public_key.verify(sig, bytes(32))
    assert not key.public_key.verify(sig[:-1], digest)
    assert not SecretKey.generate().public_key.verify(sig, digest)
    assert not verify("not a key", sig, digest)
    with pytest.raises(IdentityError, match="32-byte digest"):
        key.sign(b"short")
    with pytest.raises(IdentityError, match="aux_rand"):
        key.sign(digest, aux_rand=b"x")


def test_repr_does_not_leak_secret(tmp_path: Path) -> None:
    key = SecretKey.generate()
    assert key.raw.hex() not in repr(key)
    path = tmp_path / "id.nsec"
    path.write_text(key.nsec + "\n")
    assert SecretKey.load(path).raw == key.raw
    with pytest.raises(IdentityError, match="cannot read"):
        SecretKey.load(tmp_path / "missing")
