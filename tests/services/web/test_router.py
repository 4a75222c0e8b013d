"""``/app``: the page and its config, served by the API; selectors and topics match the compiled market."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from agihub.chain.evm_deploy import compile_market
from agihub_services.api.app import create_app
from agihub_services.api.settings import ApiSettings
from agihub_services.web import router

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def client(isolated_env: Path) -> Iterator[TestClient]:
    settings = ApiSettings(AGIHUB_DATABASE_URL=f"sqlite:///{isolated_env / 'api.db'}")  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as c:
        yield c


def _signature(item: dict) -> str:
    def kind(t: dict) -> str:
        return t["type"]

    return f"{item['name']}({','.join(kind(i) for i in item['inputs'])})"


def test_selectors_and_topics_are_the_compiled_market_abi() -> None:
    abi = compile_market().abi
    functions = {i["name"]: _signature(i) for i in abi if i["type"] == "function"}
    events = {i["name"]: _signature(i) for i in abi if i["type"] == "event"}
    config = router.page_config(Path("/nonexistent"))
    for name, selector in config["selectors"].items():
        assert selector == "0x" + keccak(text=functions[name])[:4].hex(), name
    for name, topic in config["topics"].items():
        assert topic == "0x" + keccak(text=events[name]).hex(), name
    assert config["states"][4] == "COMPLETED" and config["max_relays"] == 8


def test_page_and_script_are_served(client: TestClient) -> None:
    page = client.get("/app")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/app/app.js">' in page.text
    script = client.get("/app/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "eth_sendTransaction" in script.text and "personal_sign" in script.text


def test_market_comes_from_the_indexer_setting_then_the_dev_state(
    client: TestClient, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/app/config.json").json()["market"] is None  # the page then asks for ?market=
    state = isolated_env / "data" / "dev" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"market": MARKET}))
    assert client.get("/app/config.json").json()["market"] == MARKET
    other = "0x" + "ab" * 20
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", other)
    assert client.get("/app/config.json").json()["market"] == other
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", "not-an-address")
    assert client.get("/app/config.json").json()["market"] == MARKET
    state.write_text("{broken")
    assert client.get("/app/config.json").json()["market"] is None


def test_chain_config_follows_the_indexer_settings(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EVM by default; Aptos with the module address and the SDK catalogue's parameters; a setting
    the page cannot use is named in ``error``."""
    from agihub.chain.catalog import ENTRY_BY_NAME

    chain = client.get("/app/config.json").json()["chain"]
    assert chain == {"kind": "evm", "decimals": 18, "unit": "ETH"}
    monkeypatch.setenv("AGIHUB_INDEXER_CHAIN", "aptos")
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", "0xA9E7")
    config = client.get("/app/config.json").json()
    chain = config["chain"]
    assert chain["kind"] == "aptos" and chain["unit"] == "APT" and chain["decimals"] == 8
    assert config["market"] == chain["module"] == "0x" + "0" * 60 + "a9e7"
    assert chain["functions"]["pull"] == [[p.name, p.kind] for p in ENTRY_BY_NAME["pull"].params_for("aptos")]
    assert chain["functions"]["withdraw"] == [] and "settle" in chain["coin_generic"]
    assert config["settleable"] == ["OPEN", "TAKEN", "ACKED"]
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", "not-an-address")
    chain = client.get("/app/config.json").json()["chain"]
    assert chain["kind"] == "aptos" and "AGIHUB_INDEXER_MARKET_ADDRESS" in chain["error"]
    monkeypatch.setenv("AGIHUB_INDEXER_CHAIN", "solana")
    assert "AGIHUB_INDEXER_CHAIN='solana'" in client.get("/app/config.json").json()["chain"]["error"]


def test_aptos_entry_payload_is_the_sdks() -> None:
    """The reference payload: the SDK's function id, coin type and JSON argument forms; bad input is
    refused by the SDK's own encoder."""
    from agihub.chain.errors import ChainInputError
    from agihub_services.web.aptos import entry_payload

    relay = "0x5e"
    payload = entry_payload("0x1", "pull", [b"\x01" * 32, [relay], 1, 2**64 - 1, 0, 60, 60, 60])
    assert payload == {
        "function": "0x" + "0" * 63 + "1::market::pull",
        "typeArguments": ["0x1::aptos_coin::AptosCoin"],
        "functionArguments": [
            "0x" + "01" * 32, ["0x" + "0" * 62 + "5e"], "1", str(2**64 - 1), "0", "60", "60", "60",
        ],
    }  # fmt: skip
    with pytest.raises(ChainInputError):
        entry_payload("0x1", "pull", [b"\x01" * 31, [relay], 1, 1, 0, 60, 60, 60])
    with pytest.raises(ChainInputError):
        entry_payload("0x1", "settle", [2**64])
