"""The wallet page end to end in headless Chromium against a real local stack.

``agihub dev``'s supervisor runs a hardhat node (the market deployed), a relay node, the indexer and the
API; relay-1's order agent (the code ``agihub relay agent`` runs) polls in a thread. The page gets a
test wallet injected before it loads: an EIP-1193 ``window.ethereum`` whose signing requests go to this
process, which signs with the buyer's dev key (eth-account) and sends the raw transaction to the node.
Read-only calls go to the node unchanged. Nothing is mocked: the page talks to the real API, the real
relay's delivery route and the real contract.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from agihub.blobs import BlobClient
from agihub.chain.evm import EvmChain, connect
from agihub.chain.evm_deploy import compile_market
from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, pack_model
from agihub.storage.crypto import delivered_root_of, open_delivery, seal_delivery
from agihub.storage.package import shard_name
from agihub_services.db.engine import make_engine
from agihub_services.dev import components as dev_components
from agihub_services.dev.accounts import DEV_KEYS
from agihub_services.dev.ports import free_port, free_port_pair
from agihub_services.dev.settings import DevSettings
from agihub_services.dev.supervisor import Supervisor
from agihub_services.discovery.follower import sync_once
from agihub_services.discovery.store import DiscoveryStore
from agihub_services.relay.agent import OrderAgent
from agihub_services.relay.blobs import BlobStore
from agihub_services.relay.delivery import deliveries_root
from agihub_services.relay.settings import RelaySettings
from agihub_services.web.open_delivery import plain_size_of

CHROMIUM = Path("/usr/bin/chromium")
EVM_DIR = Path(__file__).resolve().parents[3] / "contracts" / "evm"
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed: run `make install`"
)
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed: run `make browser` (apt-get)"
    ),
    pytest.mark.skipif(
        not (EVM_DIR / "node_modules" / "hardhat").is_dir(),
        reason="hardhat not installed: run `make install`",
    ),
]
GWEI = 10**9
OPTIONS = PackOptions(k=2, n=4, chunk_size=64 * 1024, block_size=16 * 1024)
PRICE = 7_000_000_000  # per GiB, in wei
HELD = (0, 1)  # the shards relay-1 holds: k of them, so it alone can serve an order

# The test wallet: EIP-1193 in the page, signing in this process (exposed as window.agihubWallet).
WALLET_JS = """
window.ethereum = {
  isAgihubInjectedWallet: true,
  async request({ method, params }) {
    const reply = JSON.parse(await window.agihubWallet(method, JSON.stringify(params || [])));
    if (reply.error) {
      const err = new Error(reply.error.message);
      err.code = reply.error.code;
      err.data = reply.error.data;
      throw err;
    }
    return reply.result;
  },
};
"""


@dataclass
class InjectedWallet:
    """Signs with one local key; forwards everything else to the node; records what it sent."""

    rpc_url: str
    key: str
    sent: list[str] = field(default_factory=list)
    signed_messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.account = Account.from_key(self.key)
        self.http = httpx.Client(timeout=30)

    def node(self, method: str, params: list[Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return self.http.post(self.rpc_url, json=body).json()

    def _result(self, method: str, params: list[Any]) -> Any:
        reply = self.node(method, params)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def handle(self, _source: object, method: str, raw_params: str) -> str:
        params = json.loads(raw_params)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return json.dumps({"result": [self.account.address]})
        if method == "personal_sign":
            message, address = params
            assert address.lower() == self.account.address.lower()
            signed = self.account.sign_message(encode_defunct(hexstr=message))
            self.signed_messages.append(bytes.fromhex(message[2:]).decode())
            return json.dumps({"result": "0x" + bytes(signed.signature).hex()})
        if method == "eth_sendTransaction":
            return json.dumps({"result": self._send(params[0])})
        return json.dumps(self.node(method, params))

    def _send(self, tx: dict[str, str]) -> str:
        assert tx["from"].lower() == self.account.address.lower()
        fields = {"from": self.account.address, "to": tx["to"], "data": tx["data"], "value": tx["value"]}
        gas = int(self._result("eth_estimateGas", [fields]), 16)
        block = self._result("eth_getBlockByNumber", ["latest", False])
        base = int(block["baseFeePerGas"], 16)
        signed = self.account.sign_transaction(
            {
                "to": tx["to"],
                "data": tx["data"],
                "value": int(tx["value"], 16),
                "gas": gas * 2,
                "maxFeePerGas": 2 * base + GWEI,
                "maxPriorityFeePerGas": GWEI,
                "nonce": int(self._result("eth_getTransactionCount", [self.account.address, "pending"]), 16),
                "chainId": int(self._result("eth_chainId", []), 16),
            }
        )
        tx_hash = self._result("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
        self.sent.append(tx_hash)
        return tx_hash


@dataclass
class Stack:
    settings: DevSettings
    market: str
    api: str
    rpc: str
    relay_url: str
    relay_address: str
    model_root: str
    manifest: Path
    chains: dict[str, EvmChain]


def _tiny_model(path: Path) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    save_file(
        {"w": rng.standard_normal((128, 256)).astype(np.float32), "b": np.zeros(256, np.float32)}, str(path)
    )
    return path


def _wait(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("web-stack")
    mp = pytest.MonkeyPatch()
    mp.setenv("AGIHUB_INDEXER_POLL_INTERVAL_S", "0.2")  # the supervisor passes the environment on
    mp.setenv("AGIHUB_RELAY_PRICE", str(PRICE))  # the relay advertises it in its offer (kind 31338)
    mp.delenv("AGIHUB_INDEXER_MARKET_ADDRESS", raising=False)  # the page finds the dev stack's market
    # The page needs no Celery worker (tasks are scoring and audits): start the stack without one.
    every = dev_components.components
    mp.setattr(
        dev_components, "components", lambda s: [c for c in every(s) if not c.name.startswith("worker-")]
    )
    settings = DevSettings(  # type: ignore[call-arg]
        AGIHUB_DATA_DIR=root / "stack",
        AGIHUB_DATABASE_URL="",
        AGIHUB_BROKER_URL="",
        chain_port=free_port(),
        api_port=free_port(),
        relay_base_port=free_port_pair(),
        relays=1,
    )
    supervisor = Supervisor(settings, echo=lambda _line: None)
    supervisor.acquire_lock()
    try:
        supervisor.start()
        rpc = f"http://{settings.host}:{settings.chain_port}"
        relay_url = f"http://{settings.host}:{settings.relay_ports()[0]}"
        w3 = connect(rpc)
        abi = compile_market().abi
        chains = {a: EvmChain(w3, supervisor.market, abi, Account.from_key(DEV_KEYS[a])) for a in DEV_KEYS}
        info = httpx.get(relay_url, headers={"accept": "application/nostr+json"}, timeout=10).json()
        chains["relay-a"].register_relay(bytes.fromhex(info["pubkey"]), relay_url.replace("http://", "ws://"))
        contributor = SecretKey.generate()
        signed = pack_model(
            _tiny_model(root / "tiny.safetensors"),
            root / "pkg",
            contributor,
            Card(name="tiny"),
            options=OPTIONS,
        )
        with BlobClient(relay_url, contributor) as client:
            client.upload(root / "pkg" / "manifest.json")
            for index in HELD:
                client.upload(root / "pkg" / shard_name(index))
        chains["contributor"].register_contribution(signed.model_root, b"\0" * 32)
        api = f"http://{settings.host}:{settings.api_port}"
        # What `agihub discovery run` does: read the relay's signed offer into the shared database.
        discovery = DiscoveryStore(make_engine(settings.effective_database_url))
        root_hex = signed.model_root.hex()

        def offer_read() -> bool:
            asyncio.run(sync_once(relay_url.replace("http://", "ws://"), discovery))
            offers = httpx.get(f"{api}/relays/offers").json()["items"]
            return any(root_hex in [m.removeprefix("0x") for m in o["models"]] for o in offers)

        _wait("the relay's offer to name the model", offer_read)
        discovery.engine.dispose()
        _wait(
            "the indexer to record the relay and the model",
            lambda: httpx.get(f"{api}/relays").json()["items"] and httpx.get(f"{api}/models").json()["items"],
        )
        yield Stack(
            settings, supervisor.market, api, rpc, relay_url, chains["relay-a"].address,
            "0x" + signed.model_root.hex(), root / "pkg" / "manifest.json", chains,
        )  # fmt: skip
    finally:
        supervisor.stop()
        mp.undo()


@pytest.fixture
def agent(stack: Stack) -> Iterator[OrderAgent]:
    """relay-1's order agent polling in a thread, on the relay node's own database and blob store."""
    relay_settings = RelaySettings(AGIHUB_DATA_DIR=stack.settings.data_dir / "relays" / "relay-1")  # type: ignore[call-arg]
    engine = make_engine(relay_settings.effective_relay_database_url)
    blobs = BlobStore(
        relay_settings.effective_blob_dir,
        engine,
        quota_bytes=relay_settings.quota_bytes,
        max_blob_bytes=relay_settings.max_blob_bytes,
    )
    agent = OrderAgent(stack.chains["relay-a"], blobs, deliveries_root(relay_settings))
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        while not stop.is_set():
            try:
                agent.poll()
            except Exception as exc:  # reported by the test, not swallowed
                errors.append(exc)
            stop.wait(0.3)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield agent
    stop.set()
    thread.join(10)
    engine.dispose()
    assert not errors, errors


@pytest.fixture
def browser_page(stack: Stack) -> Iterator[tuple[Any, InjectedWallet]]:
    wallet = InjectedWallet(stack.rpc, DEV_KEYS["buyer"])
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.expose_binding("agihubWallet", wallet.handle)
            context.add_init_script(WALLET_JS)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{stack.api}/app")
            page.wait_for_selector("body[data-ready='1']")
            page.click("#connect")
            page.wait_for_selector(f"#models tr[data-root='{stack.model_root}']")
            page.wait_for_selector(f"#relays tr[data-address='{stack.relay_address}']")
            yield page, wallet
        finally:
            browser.close()


def _text(page: Any, selector: str) -> str:
    return page.inner_text(selector).strip()


def test_buyer_orders_confirms_and_gets_the_key(
    stack: Stack, agent: OrderAgent, browser_page: Any, tmp_path: Path
) -> None:
    page, wallet = browser_page
    buyer = stack.chains["buyer"]
    assert _text(page, "#market") == stack.market  # found without ?market=: the dev stack's state file
    assert _text(page, "#chain") == f"evm:{buyer.contract.w3.eth.chain_id}"
    escrow_before = buyer.balance(stack.market)
    assert (
        _text(page, f"#relays tr[data-address='{stack.relay_address}'] td:nth-child(4)") == f"{PRICE} wei/GiB"
    )
    offered = _text(page, f"#models tr[data-root='{stack.model_root}'] td:nth-child(5)")
    assert offered == f"{stack.relay_url.replace('http://', 'ws://')} ({PRICE} wei/GiB)"

    page.check(f"#models input[value='{stack.model_root}']")
    page.check(f"#relays input[value='{stack.relay_address}']")
    page.fill("#down", "0.002")
    page.fill("#cost", "0.01")
    page.fill("#tip", "0.001")
    page.click("#place")
    page.wait_for_selector("#order-status:has-text('placed')")
    assert _text(page, "#order-error") == ""
    order_id = int(_text(page, "#order-id").lstrip("#"))
    assert len(wallet.sent) == 1
    order = buyer.get_order(order_id)
    assert (order.down, order.cost, order.tip) == (2_000_000 * GWEI, 10_000_000 * GWEI, 1_000_000 * GWEI)
    assert buyer.balance(stack.market) - escrow_before == 13_000_000 * GWEI

    # The agent takes the order; the page hears it over SSE and enables the download.
    page.wait_for_selector("#order-state[data-state='TAKEN']")
    page.click("#fetch-confirm")
    page.wait_for_selector("#order-state[data-state='ACKED'], #order-state[data-state='COMPLETED']")
    assert _text(page, "#progress-error") == ""
    assert wallet.signed_messages and wallet.signed_messages[0].startswith("agihub delivery\n")
    root = page.get_attribute("#delivery", "data-root")
    assert len(wallet.sent) == 2

    # The agent reveals; the page reads the key from the chain and shows the command.
    page.wait_for_selector("#order-state[data-state='COMPLETED']")
    page.wait_for_selector("#reveal[data-key]")
    events = [e.get_attribute("data-event") for e in page.query_selector_all("#timeline li")]
    assert events == ["OrderPulled", "OrderTaken", "OrderConfirmed", "KeyRevealed"]
    log = buyer.contract.events.KeyRevealed().get_logs(from_block=0, argument_filters={"order_id": order_id})[
        0
    ]
    key, salt = bytes(log["args"]["key"]), bytes(log["args"]["salt"])
    assert page.get_attribute("#reveal", "data-key") == "0x" + key.hex()
    confirmed = buyer.contract.events.OrderConfirmed().get_logs(
        from_block=0, argument_filters={"order_id": order_id}
    )[0]
    assert "0x" + bytes(confirmed["args"]["delivery_root"]).hex() == root  # the page's Merkle root
    command = _text(page, "#command")
    assert f"--key 0x{key.hex()}" in command and f"--salt 0x{salt.hex()}" in command

    # The sealed file the page offers decrypts with the revealed key into the relay's shards, and the
    # command the page shows runs as shown.
    with page.expect_download() as download:
        page.click("#save-sealed")
    sealed = tmp_path / f"order-{order_id}.sealed"
    download.value.save_as(sealed)
    plain_size = plain_size_of(sealed.stat().st_size)
    assert "0x" + delivered_root_of(sealed, plain_size).hex() == root  # the SDK agrees with the page
    open_delivery(sealed, tmp_path / "bundle", key, salt, plain_size)
    shards = b"".join((stack.manifest.parent / shard_name(i)).read_bytes() for i in HELD)
    assert (tmp_path / "bundle").read_bytes() == shards
    with page.expect_download() as download:  # the page decrypted it too, with WebCrypto
        page.click("#save-bundle")
    download.value.save_as(tmp_path / "browser.bundle")
    assert (tmp_path / "browser.bundle").read_bytes() == shards
    argv = command.split("\n")[-2:]
    args = " ".join(line.rstrip("\\").strip() for line in argv).split()
    assert args[:3] == ["python", "-m", "agihub_services.web.open_delivery"]
    shutil.copy(stack.manifest, tmp_path / "manifest.json")
    run = subprocess.run(
        [sys.executable, *args[1:]],  # exactly as shown, from the folder holding the two files
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    rebuilt = tmp_path / f"order-{order_id}.safetensors"
    assert rebuilt.read_bytes() == (stack.manifest.parent.parent / "tiny.safetensors").read_bytes()


def test_page_delivery_root_matches_the_sdk_over_several_segments(browser_page: Any, tmp_path: Path) -> None:
    """The page's Merkle root of a sealed delivery (segments, odd node promoted) is the SDK's."""
    page, _ = browser_page
    for segments in (1, 2, 3, 5):
        size = (segments - 1) * (1024 * 1024 + 28) + 28 + 1000 + segments
        i = np.arange(size, dtype=np.int64)
        (tmp_path / "sealed").write_bytes(
            ((i * 31 + (i >> 11) * 17 + segments) & 255).astype(np.uint8).tobytes()
        )
        expected = delivered_root_of(tmp_path / "sealed", plain_size_of(size))
        got = page.evaluate(
            """async ([size, segments]) => {
                 const data = new Uint8Array(size);
                 for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 11) * 17 + segments) & 255;
                 return (await deliveredRoot(data)).root;
               }""",
            [size, segments],
        )
        assert got == "0x" + expected.hex(), segments


def test_page_decrypts_a_delivery_like_the_sdk(browser_page: Any, tmp_path: Path) -> None:
    """The page's WebCrypto decryption of a two-segment delivery; a wrong key is refused by name."""
    page, _ = browser_page
    clear = np.random.default_rng(3).integers(0, 256, 1024 * 1024 + 4321, dtype=np.uint8).tobytes()
    (tmp_path / "clear").write_bytes(clear)
    sealed = seal_delivery(tmp_path / "clear", tmp_path / "sealed")
    decrypt = """async ([b64, key, salt]) => {
        const sealed = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        try { return btoa(Array.from(await openDelivery(sealed, key, salt), (b) => String.fromCharCode(b)).join(""));
        } catch (err) { return "error: " + err.message; } }"""
    b64 = base64.b64encode((tmp_path / "sealed").read_bytes()).decode()
    salt = "0x" + sealed.salt.hex()
    got = page.evaluate(decrypt, [b64, "0x" + sealed.order_key.hex(), salt])
    assert base64.b64decode(got) == clear
    wrong = page.evaluate(decrypt, [b64, "0x" + bytes(32).hex(), salt])
    assert wrong == "error: segment 0 failed authentication: wrong key, or the delivery was altered"


def test_bad_orders_are_refused_in_the_page_with_the_contract_error(stack: Stack, browser_page: Any) -> None:
    page, wallet = browser_page
    buyer = stack.chains["buyer"]
    nonce = buyer.contract.w3.eth.get_transaction_count(buyer.address)

    page.check(f"#models input[value='{stack.model_root}']")
    page.fill("#cost", "0.01")
    page.click("#place")  # no relay named
    page.wait_for_selector("#order-error:has-text('E_NO_RELAYS')")

    page.check(f"#relays input[value='{stack.relay_address}']")
    page.fill("#cost", "0")
    page.click("#place")
    page.wait_for_selector("#order-error:has-text('E_ZERO_AMOUNT')")

    page.fill("#cost", "0.01")
    page.fill("#take-window", "0")
    page.click("#place")
    page.wait_for_selector("#order-error:has-text('E_BAD_WINDOW')")

    page.fill("#take-window", "600")
    page.fill("#down", "1.5x")
    page.click("#place")
    page.wait_for_selector("#order-error:has-text('not an amount')")

    # A call the page's own checks let through is simulated first: the contract's refusal is shown
    # by its error name and nothing is signed or sent.
    refusal = page.evaluate(
        "async () => { try { await send(encodeConfirm(987654n, '0x' + '11'.repeat(32))); return 'sent'; }"
        " catch (err) { return err.message; } }"
    )
    assert "E_UNKNOWN_ORDER" in refusal
    page.click("#withdraw")  # the buyer has no credits: the contract's simulation refuses
    page.wait_for_selector("#progress-error:has-text('E_NOTHING_TO_WITHDRAW')")

    assert wallet.sent == []
    assert buyer.contract.w3.eth.get_transaction_count(buyer.address) == nonce
    assert _text(page, "#order-id") == ""


def test_buyer_cancels_an_open_order_and_withdraws_the_refund(stack: Stack, browser_page: Any) -> None:
    page, wallet = browser_page  # no order agent runs here: the order stays open
    buyer = stack.chains["buyer"]
    page.check(f"#models input[value='{stack.model_root}']")
    page.check(f"#relays input[value='{stack.relay_address}']")
    page.fill("#down", "0")
    page.fill("#cost", "0.003")
    page.fill("#tip", "0")
    page.click("#place")
    page.wait_for_selector("#order-state[data-state='OPEN']")
    order_id = int(_text(page, "#order-id").lstrip("#"))
    page.click("#raise")  # every amount zero
    page.wait_for_selector("#progress-error:has-text('E_ZERO_AMOUNT')")
    page.fill("#add-tip", "0.001")
    page.click("#raise")
    page.wait_for_selector("#progress-status:has-text('raised')")
    assert buyer.get_order(order_id).tip == 1_000_000 * GWEI
    page.click("#cancel")
    page.wait_for_selector("#order-state[data-state='CANCELLED']")
    assert buyer.credits(buyer.address) == 4_000_000 * GWEI
    before = buyer.balance()
    page.click("#withdraw")
    page.wait_for_selector("#progress-status:has-text('withdrew')")
    assert buyer.credits(buyer.address) == 0
    receipt = buyer.contract.w3.eth.get_transaction_receipt(wallet.sent[-1])
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert buyer.balance() - before == 4_000_000 * GWEI - gas
    assert len(wallet.sent) == 4  # pull, raise, cancel, withdraw
    assert _text(page, "#progress-error") == ""


def _travel(rpc: str, seconds: int) -> None:
    """Move the hardhat chain's clock forward and mine a block (the local chain's time travel)."""
    for method, params in (("evm_increaseTime", [seconds]), ("evm_mine", [])):
        reply = httpx.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        assert "error" not in reply, reply


def test_buyer_settles_an_expired_order_and_sees_the_refund(stack: Stack, browser_page: Any) -> None:
    """Nobody takes the order; once its take deadline passed on chain the page offers Settle, sends
    ``settle(order_id)`` and shows the refund from the OrderSettled event. Runs last: it moves time."""
    page, wallet = browser_page  # no order agent runs here: the order stays open
    buyer = stack.chains["buyer"]
    page.check(f"#models input[value='{stack.model_root}']")
    page.check(f"#relays input[value='{stack.relay_address}']")
    page.fill("#down", "0.002")
    page.fill("#cost", "0.01")
    page.fill("#tip", "0.001")
    page.fill("#take-window", "60")
    page.click("#place")
    page.wait_for_selector("#order-state[data-state='OPEN']")
    order_id = int(_text(page, "#order-id").lstrip("#"))
    page.wait_for_timeout(1500)  # the page checks the chain's clock every second
    assert page.is_hidden("#settle")  # not due: the take window is still open
    credits = buyer.credits(buyer.address)
    # settling too early is refused by the contract's own rule, without sending anything
    early = page.evaluate(
        "async (id) => { try { await send(encodeSettle(BigInt(id))); return 'sent'; } catch (e) { return e.message; } }",
        order_id,
    )
    assert "E_NOT_DUE" in early and len(wallet.sent) == 1

    _travel(stack.rpc, 61)
    page.wait_for_selector("#settle:not([hidden])")
    page.click("#settle")
    page.wait_for_selector("#progress-status:has-text('settled')")
    refund = 13_000_000 * GWEI  # OPEN: down + cost + tip come back
    assert page.get_attribute("#settle", "data-refund") == str(refund)
    assert "0.013 ETH refunded to your credits" in _text(page, "#progress-status")
    assert _text(page, "#progress-error") == ""
    assert buyer.credits(buyer.address) - credits == refund
    assert len(wallet.sent) == 2  # pull, settle
    settled = buyer.contract.events.OrderSettled().get_logs(
        from_block=0, argument_filters={"order_id": order_id}
    )
    assert [int(e["args"]["refund"]) for e in settled] == [refund]
    page.wait_for_selector("#order-state[data-state='EXPIRED']")  # the indexer saw it; SSE told the page
    assert page.is_hidden("#settle")
