"""The runnable examples of agihub.client (also shown in its README) run against the real stack."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

from agihub import AsyncClient
from agihub.chain.catalog import OrderState
from agihub.client.examples import buy, follow_async, publish, relay, rewards
from tests.sdk.client.conftest import ServedApi, Stack

CLIENT_DIR = Path(buy.__file__).resolve().parents[1]


def test_readme_code_blocks_are_the_example_files() -> None:
    """Every ``python`` block of the README is an example file verbatim, so docs cannot drift."""
    readme = (CLIENT_DIR / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    examples = {
        p.name: p.read_text() for p in (CLIENT_DIR / "examples").glob("*.py") if p.name != "__init__.py"
    }
    assert len(blocks) == len(examples) == 5
    for block in blocks:
        assert any(block == text for text in examples.values()), block[:200]


def test_publish_relay_buy_and_follow_examples(stack: Stack, api: ServedApi) -> None:
    endpoint = relay.run(stack.client("relay"), stack.relays[0].ws_url)
    assert endpoint == stack.relays[0].ws_url
    publisher = stack.client("admin")
    src = stack.model()
    root = publish.run(publisher, str(src))
    api.discover(stack.relays, root)  # the buyer's offer check reads the relays' offers from the API

    agent = stack.agent()
    done = threading.Event()

    def run_agent() -> None:
        while not done.is_set():
            agent.poll()
            done.wait(0.1)

    thread = threading.Thread(target=run_agent, daemon=True)
    thread.start()
    try:
        out = stack.base / "bought.safetensors"
        path = buy.run(stack.client(api_url=api.url), root.hex(), stack.market.relay.address, str(out), 30)
    finally:
        done.set()
        thread.join(5)
    assert Path(path).read_bytes() == src.read_bytes()
    names = asyncio.run(follow_async.run(AsyncClient(stack.market.buyer, workdir=stack.base), 1, timeout=10))
    assert names == ["OrderPulled", "OrderTaken", "OrderConfirmed", "KeyRevealed"]
    assert stack.client().order(1).state == OrderState.COMPLETED


def test_rewards_example(stack: Stack) -> None:
    client = stack.client("other")
    cid = rewards.run(client, "33" * 32, "44" * 32)
    assert client.score(cid).model_root == bytes.fromhex("33" * 32)
