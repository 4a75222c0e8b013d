"""Register a contribution, read its score and this account's rewards (chain, or the API if set).

AGIHUB_API_URL=http://127.0.0.1:8000 python -m agihub.client.examples.rewards MODEL_ROOT PARENT_ROOT
"""

from __future__ import annotations

import sys

from agihub import Client


def run(client: Client, model_root: str, parent_root: str) -> int:
    contribution_id = client.register_contribution(model_root, parent_root)
    contribution = client.score(contribution_id)
    print(f"contribution {contribution_id}: epoch {contribution.epoch}, score {contribution.score}")
    rewards = client.rewards()
    print(f"{rewards.account}: {rewards.credits} unclaimed, paid {rewards.paid_by_chain}")
    return contribution_id


if __name__ == "__main__":
    run(Client(), sys.argv[1], sys.argv[2])
