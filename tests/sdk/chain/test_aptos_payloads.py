"""BCS bytes of the Aptos entry-function payloads and the view-request JSON, built independently
here (ULEB128 lengths, little-endian u64, 32-byte addresses) and compared with what
:mod:`agihub.chain.aptos` produces through aptos-sdk.

BCS reference: https://github.com/diem/bcs (the format Aptos transactions use).
"""

from __future__ import annotations

import pytest
from aptos_sdk.bcs import Serializer

from agihub.chain import catalog
from agihub.chain.aptos import (
    COIN_GENERIC_FUNCTIONS,
    canonical_address,
    entry_function_payload,
    view_request,
)
from agihub.chain.errors import BadEndpoint, ChainInputError

MARKET = "0xa61"
MARKET_BYTES = bytes.fromhex("a61".rjust(64, "0"))
RELAY_A = "0x" + "7e" * 32
RELAY_B = "0xb0b"
ROOT = bytes(range(32))


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def bcs_str(s: str) -> bytes:
    raw = s.encode()
    return uleb(len(raw)) + raw


def u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


def addr(hex_address: str) -> bytes:
    return bytes.fromhex(hex_address.removeprefix("0x").rjust(64, "0"))


def arg(encoded: bytes) -> bytes:
    # Every entry-function argument is itself a BCS byte vector.
    return uleb(len(encoded)) + encoded


APTOS_COIN_TAG = (
    uleb(7)  # TypeTag::Struct
    + addr("0x1")
    + bcs_str("aptos_coin")
    + bcs_str("AptosCoin")
    + uleb(0)  # no type arguments
)


def payload_bytes(function: str, args: list, coin_type: str = "0x1::aptos_coin::AptosCoin") -> bytes:
    payload = entry_function_payload(MARKET, function, args, coin_type)
    ser = Serializer()
    payload.serialize(ser)
    return ser.output()


def expected(function: str, ty_args: bytes, n_ty: int, args: list[bytes]) -> bytes:
    return (
        uleb(2)  # TransactionPayload::EntryFunction
        + MARKET_BYTES
        + bcs_str("market")
        + bcs_str(function)
        + uleb(n_ty)
        + ty_args
        + uleb(len(args))
        + b"".join(arg(a) for a in args)
    )


def test_pull_payload_bytes() -> None:
    got = payload_bytes("pull", [ROOT, [RELAY_A, RELAY_B], 100, 1_000, 50, 3600, 7200, 2**64 - 1])
    want = expected(
        "pull",
        APTOS_COIN_TAG,
        1,
        [
            uleb(32) + ROOT,  # vector<u8>
            uleb(2) + addr(RELAY_A) + addr(RELAY_B),  # vector<address>
            u64(100),
            u64(1_000),
            u64(50),
            u64(3600),
            u64(7200),
            b"\xff" * 8,
        ],
    )
    assert got == want


def test_register_relay_payload_bytes_has_no_type_argument() -> None:
    endpoint = "wss://relay.example/é"  # non-ASCII: String is UTF-8 bytes with a byte-length prefix
    got = payload_bytes("register_relay", [ROOT, endpoint])
    raw = endpoint.encode()
    assert got == expected("register_relay", b"", 0, [uleb(32) + ROOT, uleb(len(raw)) + raw])


def test_address_argument_and_custom_coin_type() -> None:
    coin = "0xcafe::usdc::USDC"
    got = payload_bytes("cancel", [2**40 + 3], coin)
    tag = uleb(7) + addr("0xcafe") + bcs_str("usdc") + bcs_str("USDC") + uleb(0)
    assert got == expected("cancel", tag, 1, [u64(2**40 + 3)])
    assert payload_bytes("add_validator", [RELAY_B]) == expected("add_validator", b"", 0, [addr(RELAY_B)])


def test_no_argument_functions() -> None:
    assert payload_bytes("withdraw", []) == expected("withdraw", APTOS_COIN_TAG, 1, [])
    assert payload_bytes("accept_admin", []) == expected("accept_admin", b"", 0, [])


def test_long_relay_list_uses_multi_byte_uleb_lengths() -> None:
    # 8 relays = 256 bytes of addresses + 1-byte count -> the argument length needs two ULEB bytes.
    relays = [f"0x{i:x}" for i in range(1, 9)]
    got = payload_bytes("pull", [ROOT, relays, 0, 1, 0, 1, 1, 1])
    encoded = uleb(8) + b"".join(addr(r) for r in relays)
    assert uleb(len(encoded)) == b"\x81\x02"
    assert encoded in got and uleb(len(encoded)) + encoded in got


@pytest.mark.parametrize("function", sorted(catalog.ENTRY_BY_NAME))
def test_every_entry_function_encodes(function: str) -> None:
    samples = {"uint": 1, "bytes32": ROOT, "address": RELAY_B, "address_list": [RELAY_A], "string": "x"}
    params = catalog.ENTRY_BY_NAME[function].params_for("aptos")
    payload = entry_function_payload(MARKET, function, [samples[p.kind] for p in params])
    assert payload.value.function == function
    assert len(payload.value.args) == len(params)
    assert len(payload.value.ty_args) == (1 if function in COIN_GENERIC_FUNCTIONS else 0)


@pytest.mark.parametrize(
    ("function", "args", "problem"),
    [
        ("pull", [ROOT[:31], [RELAY_A], 0, 1, 0, 1, 1, 1], "model_root must be 32 bytes"),
        ("pull", [ROOT, RELAY_A, 0, 1, 0, 1, 1, 1], "not one string"),
        ("pull", [ROOT, ["0xnothex"], 0, 1, 0, 1, 1, 1], "not an Aptos address"),
        ("pull", [ROOT, [RELAY_A], 2**64, 1, 0, 1, 1, 1], "down must be an integer"),
        ("pull", [ROOT, [RELAY_A], -1, 1, 0, 1, 1, 1], "down must be an integer"),
        ("pull", [ROOT, [RELAY_A], True, 1, 0, 1, 1, 1], "down must be an integer"),
        ("cancel", [], "takes 1 arguments"),
        ("steal", [], "not an entry function"),
        ("reveal_key", [1, ROOT, "salt"], "salt must be 32 bytes"),
        ("transfer_admin", ["0x" + "1" * 65], "not an Aptos address"),
    ],
)
def test_malformed_arguments_are_refused(function: str, args: list, problem: str) -> None:
    with pytest.raises(ChainInputError, match=problem):
        entry_function_payload(MARKET, function, args)


def test_oversized_endpoint_is_refused_before_signing() -> None:
    with pytest.raises(BadEndpoint):
        entry_function_payload(MARKET, "register_relay", [ROOT, "x" * 257])


def test_bad_coin_type_is_refused() -> None:
    with pytest.raises(ChainInputError, match="Move struct type"):
        entry_function_payload(MARKET, "cancel", [1], "AptosCoin")


def test_view_request_json_shape() -> None:
    assert view_request(MARKET, "get_order", [7]) == {
        "function": canonical_address(MARKET) + "::market::get_order",
        "type_arguments": ["0x1::aptos_coin::AptosCoin"],
        "arguments": ["7"],
    }
    assert view_request(MARKET, "relay_info", ["0xB0B"]) == {
        "function": canonical_address(MARKET) + "::market::relay_info",
        "type_arguments": [],
        "arguments": ["0x" + "0b0b".rjust(64, "0")],
    }


def test_canonical_address() -> None:
    assert canonical_address("0x1") == "0x" + "0" * 63 + "1"
    assert canonical_address("0X" + "AB" * 32) == "0x" + "ab" * 32
    for bad in ("", "0x", "zz", "0x" + "0" * 65, 5):
        with pytest.raises(ChainInputError):
            canonical_address(bad)  # type: ignore[arg-type]
