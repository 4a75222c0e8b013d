"""The retrieval planner's probabilities against Monte-Carlo simulation, its minimality, its errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agihub.transfer.plan import (
    PlanningError,
    availability_from_audits,
    plan_retrieval,
    success_probability,
)

SAMPLES = 200_000


def simulate(
    holdings: dict[str, set[int]], availability: dict[str, float], relays: list[str], k: int, seed: int
) -> float:
    """Draw every relay up or down independently; count the draws where ≥ k distinct shards answer."""
    rng = np.random.default_rng(seed)
    n = 1 + max(s for r in relays for s in holdings[r])
    up = rng.random((SAMPLES, len(relays))) < np.array([availability[r] for r in relays])
    holds = np.zeros((len(relays), n), dtype=bool)
    for j, r in enumerate(relays):
        holds[j, list(holdings[r])] = True
    covered = (up.astype(np.int32) @ holds.astype(np.int32)) > 0
    return float((covered.sum(axis=1) >= k).mean())


def within_sampling_error(exact: float, estimate: float) -> bool:
    sigma = max((exact * (1 - exact) / SAMPLES) ** 0.5, 1 / SAMPLES)
    return abs(exact - estimate) <= 4 * sigma


def test_one_shard_per_relay_matches_simulation() -> None:
    holdings = {f"r{i}": {i % 6} for i in range(9)}  # shards 0-2 have two holders
    availability = {f"r{i}": 0.55 + 0.05 * i for i in range(9)}
    relays = list(holdings)
    exact = success_probability(holdings, availability, relays, 4)
    assert within_sampling_error(exact, simulate(holdings, availability, relays, 4, seed=1))


def test_relays_holding_several_shards_match_simulation() -> None:
    holdings = {"a": {0, 1}, "b": {1, 2}, "c": {3}, "d": {2, 3, 4}, "e": {5, 0}}
    availability = {"a": 0.8, "b": 0.6, "c": 0.9, "d": 0.5, "e": 0.7}
    relays = list(holdings)
    exact = success_probability(holdings, availability, relays, 4)
    assert within_sampling_error(exact, simulate(holdings, availability, relays, 4, seed=2))


def test_the_plan_is_the_smallest_set_reaching_the_target() -> None:
    holdings = {f"r{i}": {i} for i in range(6)}
    availability = {"r0": 0.99, "r1": 0.99, "r2": 0.99, "r3": 0.99, "r4": 0.99, "r5": 0.7}
    plan = plan_retrieval(holdings, availability, k=4, target=0.999)
    assert plan.m == 5 and "r5" not in plan.relays and plan.probability >= 0.999
    # No 4-relay set reaches the target (brute force).
    for subset in itertools.combinations(holdings, 4):
        assert success_probability(holdings, availability, subset, 4) < 0.999


def test_greedy_plan_for_many_relays_reaches_the_target_and_matches_simulation() -> None:
    holdings = {f"r{i}": {i % 10} for i in range(30)}  # 10 shards, 3 copies each
    availability = {f"r{i}": 0.6 + 0.3 * ((i * 7) % 10) / 10 for i in range(30)}
    plan = plan_retrieval(holdings, availability, k=6, target=0.999)
    assert plan.probability >= 0.999 and plan.m < 30
    assert within_sampling_error(
        plan.probability, simulate(holdings, availability, list(plan.relays), 6, seed=3)
    )


def test_unreachable_target_and_bad_input_are_named() -> None:
    holdings = {f"r{i}": {i} for i in range(6)}
    availability = dict.fromkeys(holdings, 0.9)
    with pytest.raises(PlanningError, match=r"even all 6 holders reach only P=0\.98"):
        plan_retrieval(holdings, availability, k=4, target=0.999)
    with pytest.raises(PlanningError, match="strictly between 0 and 1"):
        plan_retrieval(holdings, availability, k=4, target=1.0)
    with pytest.raises(PlanningError, match="fewer than k=7 distinct shards"):
        plan_retrieval(holdings, availability, k=7)
    with pytest.raises(PlanningError, match="no availability"):
        plan_retrieval(holdings, {"r0": 0.9}, k=4)


def test_availability_estimate_starts_at_the_prior_and_follows_audits() -> None:
    assert availability_from_audits(0, 0) == pytest.approx(0.9)
    assert availability_from_audits(200, 0) > 0.99
    assert availability_from_audits(0, 10) < 0.5
