"""Register this chain account as a relay (its Nostr key is read from the node's NIP-11), then move it.

python -m agihub.client.examples.relay ws://relay.example:7447
"""

from __future__ import annotations

import sys

from agihub import Client


def run(client: Client, endpoint: str, new_endpoint: str | None = None) -> str:
    if not client.relay_info().registered:
        client.register_relay(endpoint)
    if new_endpoint is not None:
        client.update_relay(new_endpoint)
    info = client.relay_info()
    print(client.address, "serves at", info.endpoint, "with Nostr key", info.nostr_pubkey.hex()[:16])
    return info.endpoint


if __name__ == "__main__":
    run(Client(), sys.argv[1])
