"""Publish a model version: pack a .safetensors file and push its shards to the configured relays.

AGIHUB_RELAYS=ws://127.0.0.1:7447,ws://127.0.0.1:7448 python -m agihub.client.examples.publish model.safetensors
"""

from __future__ import annotations

import sys

from agihub import Client


def run(client: Client, model_path: str) -> bytes:
    result = client.publish(model_path, name="my-model", progress=lambda done, total: None)
    print("model root", result.model_root.hex())
    for index, relays in sorted(result.placements.items()):
        print(f"  shard {index} on {', '.join(relays)}")
    return result.model_root


if __name__ == "__main__":
    run(Client(), sys.argv[1])
