"""The placement policy: public models spread over every relay on offer, private ones stay with the
relays their owner names."""

from __future__ import annotations

from pathlib import Path

import pytest

from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, pack_model
from agihub.transfer import PlacementError, RelayTarget
from agihub.transfer.placement import decide
from tests.sdk.transfer.transfer_kit import write_model

OFFERED = [RelayTarget(f"http://10.0.0.{i}:7777", f"op-{i}") for i in range(1, 9)]
NAMED = [RelayTarget("http://owner-a:7777", "owner"), RelayTarget("http://owner-b:7777", "friend")]


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("policy")
    model = write_model(base / "m.safetensors")
    key, options = SecretKey.generate(), PackOptions(k=3, n=6, chunk_size=16 << 10, block_size=4 << 10)
    public = pack_model(model, base / "public", key, Card(name="f"), options=options)
    private = pack_model(
        model, base / "private", key, Card(name="d"), options=options, owner_secret=b"s" * 32
    )
    return public, private


def test_public_models_spread_over_every_relay_on_offer(manifests) -> None:  # type: ignore[no-untyped-def]
    public, _ = manifests
    decision = decide(public, OFFERED, NAMED)
    assert decision.policy == "spread" and len(decision.relays) == 10
    assert decision.happiness == 6, "as many distinct operators as the network offers, up to n"
    assert decide(public, OFFERED[:2], []).happiness == 2


def test_private_models_stay_with_the_owners_relays(manifests) -> None:  # type: ignore[no-untyped-def]
    _, private = manifests
    decision = decide(private, OFFERED, NAMED)
    assert decision.policy == "owner" and decision.relays == tuple(NAMED) and decision.happiness == 2
    with pytest.raises(PlacementError, match="private model is placed only on relays its owner names"):
        decide(private, OFFERED, [])


def test_policy_is_configurable_and_checked(manifests) -> None:  # type: ignore[no-untyped-def]
    public, private = manifests
    assert decide(public, OFFERED, NAMED, policy="owner").relays == tuple(NAMED)
    assert decide(private, OFFERED, NAMED, policy="spread").policy == "spread"
    assert decide(public, OFFERED, NAMED, happiness_required=3).happiness == 3
    with pytest.raises(PlacementError, match="unknown placement policy 'nearest'"):
        decide(public, OFFERED, NAMED, policy="nearest")
    with pytest.raises(PlacementError, match="none named and none registered"):
        decide(public, [], [])


def test_decision_is_recordable(manifests, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    public, _ = manifests
    record = decide(public, OFFERED, NAMED).to_dict()
    assert record["policy"] == "spread" and record["reason"].startswith("public model")
