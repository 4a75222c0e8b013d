"""Buy a model: place an order, follow it, confirm the sealed delivery, rebuild the verified model.

AGIHUB_API_URL=http://127.0.0.1:8000 python -m agihub.client.examples.buy MODEL_ROOT RELAY_ADDRESS out.safetensors
"""

from __future__ import annotations

import sys

from agihub import Client
from agihub.chain.catalog import OrderState

GWEI = 10**9


def run(client: Client, model_root: str, relay: str, dest: str, timeout: float = 600) -> str:
    # refused up front (ModelNotOffered) unless the relay's signed offer, read through the API, names it
    placed = client.place_order(model_root, [relay], down=2_000_000 * GWEI, cost=10_000_000 * GWEI, tip=GWEI)
    print("order", placed.order_id, "opened")
    for event in client.follow(placed.order_id, timeout=timeout, poll=0.1):
        print(" ", event.name, "->", event.state.name)
        if event.state == OrderState.TAKEN:
            delivery = client.confirm(placed.order_id)  # fetch sealed bytes, check, confirm on chain
            print("  confirmed", delivery.plain_size, "bytes from", delivery.relay)
    result = client.open(placed.order_id, dest)  # find the signed manifest by root; decrypt, rebuild, verify
    print("model rebuilt at", result.model_path)
    return str(result.model_path)


if __name__ == "__main__":
    run(Client(), *sys.argv[1:4])
