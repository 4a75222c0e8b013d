"""The order agent end to end over real transports: a hardhat JSON-RPC node, the relay served by
uvicorn, Blossom uploads with signed tokens and the buyer-only delivery download over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from eth_account import Account

from agihub.blobs import BlobClient
from agihub.chain.evm import EvmChain, connect
from agihub.chain.evm_deploy import compile_market, deploy_market
from agihub.identity import SecretKey
from agihub.storage.crypto import delivered_root_of, open_delivery
from agihub.storage.package import shard_name
from agihub_services.relay.agent import OrderAgent
from agihub_services.relay.agent_store import REVEALED, TAKEN
from agihub_services.relay.delivery import deliveries_root, sign_delivery_request
from tests.sdk.chain.test_evm_conformance import hardhat_url  # noqa: F401 - session fixture
from tests.services.relay.conftest import RunningRelay
from tests.services.relay.test_agent_kit import COST, DOWN, TIP, WINDOW, pack_tiny_model

pytestmark = pytest.mark.node


def test_agent_on_hardhat_and_a_served_relay(
    hardhat_url: str,  # noqa: F811 - the imported session fixture, requested by name
    relay_server: RunningRelay,
    tmp_path: Path,
) -> None:
    w3 = connect(hardhat_url)
    admin_acct, buyer_acct, relay_acct = (Account.create() for _ in range(3))
    for acct in (admin_acct, buyer_acct, relay_acct):
        tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": acct.address, "value": 10**19})
        w3.eth.wait_for_transaction_receipt(tx)
    compiled = compile_market()
    start = w3.eth.block_number
    market = deploy_market(w3, admin_acct, 3600, compiled)
    relay = EvmChain(w3, market, compiled.abi, relay_acct, start_block=start)
    buyer = relay.with_account(buyer_acct)
    app = relay_server.server.config.app
    agent = OrderAgent(relay, app.state.blobs, deliveries_root(relay_server.settings))

    info = httpx.get(relay_server.http_url, headers={"accept": "application/nostr+json"}).json()
    assert agent.register(bytes.fromhex(info["pubkey"]), relay_server.ws_url) is not None
    signed = pack_tiny_model(tmp_path / "model")
    pkg = tmp_path / "model" / "pkg"
    with BlobClient(relay_server.http_url, SecretKey.generate()) as publisher:
        for name in ("manifest.json", shard_name(0), shard_name(1)):
            publisher.upload(pkg / name)

    order_id = buyer.pull(signed.model_root, [relay.address], DOWN, COST, TIP, WINDOW, WINDOW, WINDOW).result
    assert agent.poll() == {order_id: TAKEN}
    header = sign_delivery_request(buyer_acct, relay_server.settings.public_url, market, order_id)
    url = f"{relay_server.http_url}/delivery/{market}/{order_id}"
    assert (
        httpx.get(
            url,
            headers={
                "X-Agihub-Buyer-Auth": sign_delivery_request(
                    relay_acct, relay_server.settings.public_url, market, order_id
                )
            },
        ).status_code
        == 403
    )
    response = httpx.get(url, headers={"X-Agihub-Buyer-Auth": header})
    assert response.status_code == 200
    sealed = tmp_path / "sealed"
    sealed.write_bytes(response.content)
    plain_size = int(response.headers["x-agihub-plain-size"])
    buyer.confirm_received(order_id, delivered_root_of(sealed, plain_size))

    assert agent.poll() == {order_id: REVEALED}
    event = relay.contract.events.KeyRevealed().get_logs(from_block=start)[0]["args"]
    open_delivery(sealed, tmp_path / "bundle", event["key"], event["salt"], plain_size)
    assert (tmp_path / "bundle").read_bytes() == (pkg / shard_name(0)).read_bytes() + (
        pkg / shard_name(1)
    ).read_bytes()
    earned = agent.earnings()
    assert earned.total == earned.credits == DOWN + event["relay_amount"]
    before = relay.balance()
    relay.withdraw()
    assert relay.balance() > before
