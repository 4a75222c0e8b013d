"""The wallet page on an Aptos market, in headless Chromium, verified to the payload boundary.

No Aptos node can run here, so the page talks to a TEST DOUBLE Aptos wallet: a script injected into
the page that registers through the wallet standard (``wallet-standard:register-wallet`` /
``wallet-standard:app-ready``) with ``aptos:connect``, ``aptos:account``, ``aptos:network`` and
``aptos:signAndSubmitTransaction``, signs nothing, and records every payload it is asked to submit.
Each recorded payload must equal what the SDK builds for the same call
(:func:`agihub_services.web.aptos.entry_payload`, and the same BCS bytes from
:func:`agihub.chain.aptos.entry_function_payload`). The API is the real one, served over SQLite with
Aptos rows in its tables, as the indexer would write them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agihub.chain.aptos import canonical_address, entry_function_payload
from agihub.chain.catalog import ENTRY_BY_NAME, OrderState
from agihub_services.web.aptos import entry_payload

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed: run `make install`"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed: run `make browser` (apt-get)"
)

CHAIN = "aptos:2"  # testnet, as the test double's aptos:network says
MODULE = "0xa9e7"  # short form: the page and the SDK both write it as 0x + 64 hex
BUYER = "0x" + "b0" * 32
RELAY = "0x" + "5e" * 32
ROOT = "0x" + "c4" * 32
ORDER_ID = 5
DOWN, COST, TIP = 3, 4, 5  # octas

# TEST DOUBLE, not a wallet: registers through the wallet standard and records submitted payloads.
TEST_DOUBLE_WALLET_JS = """
(() => {
  const submitted = [];
  const mode = { reject: false };
  const account = { address: "__BUYER__", publicKey: "0x" + "11".repeat(32) };
  const wallet = {
    name: "agihub TEST DOUBLE Aptos wallet",
    version: "1.0.0",
    icon: "data:image/svg+xml;base64,PHN2Zy8+",
    chains: ["aptos:testnet"],
    accounts: [],
    features: {
      "aptos:connect": { version: "1.0.0", connect: async () => ({ status: "Approved", args: account }) },
      "aptos:account": { version: "1.0.0", account: async () => account },
      "aptos:network": { version: "1.0.0", network: async () => ({ name: "testnet", chainId: 2 }) },
      "aptos:signAndSubmitTransaction": {
        version: "1.1.0",
        signAndSubmitTransaction: async (input) => {
          if (mode.reject) return { status: "Rejected" };
          submitted.push(JSON.parse(JSON.stringify(input.payload)));
          return { status: "Approved", args: { hash: "0x" + submitted.length.toString(16).padStart(64, "0") } };
        },
      },
    },
  };
  window.aptosTestDouble = { submitted, mode };
  const register = ({ register }) => register(wallet);
  window.addEventListener("wallet-standard:app-ready", (event) => register(event.detail));
  window.dispatchEvent(new CustomEvent("wallet-standard:register-wallet", { detail: register }));
})();
""".replace("__BUYER__", BUYER)


@dataclass
class AptosApi:
    url: str


def _seed(db_url: str) -> None:
    """Rows the indexer writes for an Aptos market: one relay, one model, one OPEN order past its deadline."""
    from sqlalchemy.orm import Session

    from agihub_services.db.engine import make_engine
    from agihub_services.db.schema import MarketOrder, ModelLineage, Relay

    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add(Relay(chain=CHAIN, address=RELAY, nostr_pubkey=None, endpoint="ws://relay.example",
                          registered=True, registered_block=1, updated_block=1))  # fmt: skip
        session.add(ModelLineage(chain=CHAIN, model_root=ROOT, parent_root="0x" + "00" * 32, contribution_id=1,
                                 contributor="0x" + "c0" * 32, block_number=1))  # fmt: skip
        session.add(MarketOrder(
            chain=CHAIN, order_id=ORDER_ID, buyer=BUYER, model_root=ROOT, relays=[RELAY], state=int(OrderState.OPEN),
            down=str(DOWN), cost=str(COST), tip=str(TIP), deadline=int(time.time()) - 60, ack_window=600,
            reveal_window=600, taker=None, key_commit=None, delivery_root=None, refund=None, relay_amount=None,
            fee=None, created_block=2, updated_block=2,
        ))  # fmt: skip
    engine.dispose()


@pytest.fixture
def aptos_api(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AptosApi]:
    import uvicorn

    from agihub_services.api.app import create_app
    from agihub_services.api.settings import ApiSettings
    from agihub_services.db import migrate
    from agihub_services.dev.ports import free_port

    monkeypatch.setenv("AGIHUB_INDEXER_CHAIN", "aptos")
    monkeypatch.setenv("AGIHUB_INDEXER_MARKET_ADDRESS", MODULE)
    db_url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate.upgrade(db_url)
    _seed(db_url)
    port = free_port()
    app = create_app(ApiSettings(AGIHUB_DATABASE_URL=db_url))  # type: ignore[call-arg]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "API did not start"
        time.sleep(0.02)
    try:
        yield AptosApi(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, api: AptosApi, *, inject: bool = True) -> Any:
    context = browser.new_context()
    if inject:
        context.add_init_script(TEST_DOUBLE_WALLET_JS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{api.url}/app")
    page.wait_for_selector("body[data-ready='1']")
    return page


def _submitted(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("() => window.aptosTestDouble.submitted")


def _bcs(payload: Any) -> bytes:
    from aptos_sdk.bcs import Serializer

    serializer = Serializer()
    payload.serialize(serializer)
    return serializer.output()


def _as_sdk_args(function: str, json_args: list[Any]) -> list[Any]:
    """The page's JSON arguments read back as the Python values the SDK takes (by catalogue kind)."""
    out: list[Any] = []
    for param, value in zip(ENTRY_BY_NAME[function].params_for("aptos"), json_args, strict=True):
        if param.kind == "uint":
            assert isinstance(value, str) and value.isdigit(), value  # u64 as a decimal string
            out.append(int(value))
        elif param.kind == "bytes32":
            out.append(bytes.fromhex(value.removeprefix("0x")))
        else:
            out.append(value)
    return out


def _check(recorded: dict[str, Any], function: str, args: list[Any]) -> None:
    """A payload the page sent equals the SDK's for ``function(*args)``, as JSON and as BCS bytes."""
    assert recorded == entry_payload(MODULE, function, args)
    name = recorded["function"].rsplit("::", 1)[1]
    again = entry_function_payload(MODULE, name, _as_sdk_args(name, recorded["functionArguments"]))
    assert _bcs(again) == _bcs(entry_function_payload(MODULE, function, args))


def test_page_orders_raises_settles_cancels_and_withdraws_through_an_aptos_wallet(
    aptos_api: AptosApi, browser: Any
) -> None:
    page = _open(browser, aptos_api)
    assert "agihub TEST DOUBLE Aptos wallet" in page.inner_text("#wallets")
    assert page.inner_text("#market").strip() == canonical_address(MODULE)
    page.click("#connect")
    page.wait_for_selector("body[data-connected='aptos']")
    assert page.inner_text("#account").strip() == BUYER and page.inner_text("#chain").strip() == CHAIN
    page.wait_for_selector(f"#models tr[data-root='{ROOT}']")
    page.wait_for_selector(f"#relays tr[data-address='{RELAY}']")
    assert page.inner_text("#order-form label >> nth=0").strip().startswith("down payment (APT)")

    page.check(f"#models input[value='{ROOT}']")
    page.check(f"#relays input[value='{RELAY}']")
    page.fill("#down", "0.5")
    page.fill("#cost", "1.25")
    page.fill("#tip", "0.00000001")
    for field, value in (("#take-window", "600"), ("#ack-window", "700"), ("#reveal-window", "800")):
        page.fill(field, value)
    page.click("#place")
    page.wait_for_selector("#order-status:has-text('submitted by the wallet')")
    assert page.inner_text("#order-error").strip() == ""
    [pull] = _submitted(page)
    _check(pull, "pull", [bytes.fromhex(ROOT[2:]), [RELAY], 50_000_000, 125_000_000, 1, 600, 700, 800])

    # An existing order past its deadline: followed by number, it offers Settle.
    page.fill("#follow-id", str(ORDER_ID))
    page.click("#follow")
    page.wait_for_selector("#order-state[data-state='OPEN']")
    page.wait_for_selector("#settle:not([hidden])")
    page.fill("#add-tip", "0.00000002")
    page.click("#raise")
    page.wait_for_selector("#progress-status:has-text('raised')")
    page.click("#settle")
    page.wait_for_selector("#progress-status:has-text('settled')")
    assert "0.00000012 APT refunded to your credits" in page.inner_text("#progress-status")
    assert page.get_attribute("#settle", "data-refund") == str(DOWN + COST + TIP)
    page.click("#cancel")
    page.wait_for_selector("#progress-status:has-text('cancelled')")
    page.click("#withdraw")
    page.wait_for_selector("#progress-status:has-text('withdrew')")
    assert page.inner_text("#progress-error").strip() == ""

    _, raised, settled, cancelled, withdrawn = _submitted(page)
    _check(raised, "raise_payment", [ORDER_ID, 0, 0, 2])
    _check(settled, "settle", [ORDER_ID])
    _check(cancelled, "cancel", [ORDER_ID])
    _check(withdrawn, "withdraw", [])
    assert settled["typeArguments"] == ["0x1::aptos_coin::AptosCoin"]


def test_a_wallet_announcing_itself_after_the_page_loaded_is_found(aptos_api: AptosApi, browser: Any) -> None:
    page = _open(browser, aptos_api, inject=False)
    assert "no Aptos wallet found" in page.inner_text("#wallets")
    page.click("#connect")  # nothing to connect to: the page says so
    page.wait_for_selector("#wallet-error:has-text('no Aptos wallet found')")
    page.evaluate(TEST_DOUBLE_WALLET_JS)  # registers with "wallet-standard:register-wallet"
    assert "agihub TEST DOUBLE Aptos wallet" in page.inner_text("#wallets")
    page.click("#connect")
    page.wait_for_selector("body[data-connected='aptos']")
    assert page.inner_text("#account").strip() == BUYER


def test_bad_input_and_a_refusing_wallet_send_nothing(aptos_api: AptosApi, browser: Any) -> None:
    page = _open(browser, aptos_api)
    page.click("#connect")
    page.wait_for_selector(f"#models tr[data-root='{ROOT}']")
    page.check(f"#models input[value='{ROOT}']")
    page.check(f"#relays input[value='{RELAY}']")
    page.fill("#cost", "0.000000001")  # APT has 8 decimals
    page.click("#place")
    page.wait_for_selector("#order-error:has-text('up to 8 decimals')")
    page.fill("#cost", "184467440737.09551616")  # 2**64 octas: does not fit in u64
    page.click("#place")
    page.wait_for_selector("#order-error:has-text('E_OVERFLOW')")
    page.fill("#cost", "1")
    page.evaluate("() => { window.aptosTestDouble.mode.reject = true; }")
    page.click("#place")
    page.wait_for_selector("#order-error:has-text('the wallet did not submit pull: Rejected')")
    page.evaluate("() => fetchAndConfirm()")  # relays take delivery requests signed by EVM keys only
    page.wait_for_selector("#progress-error:has-text('EVM accounts only')")
    refused = page.evaluate(
        "async () => { try { aptosPayload('pull', {model_root: '0x12', relays: []}); return 'built'; }"
        " catch (e) { return e.message; } }"
    )
    assert "not a 32-byte hex value" in refused
    assert _submitted(page) == []
