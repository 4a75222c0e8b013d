"""Retrieval planning: which relays to contact so that k distinct shards arrive with high probability.

The original design says a user who contacts m relays chosen at random among the n that hold a model
(n > m > k) can rebuild it with high probability. Here m is computed instead of guessed: given which
shards each relay holds and each relay's availability (the chance it answers, estimated from audits),
find the smallest set of relays whose successful subset covers at least k distinct shards with
probability ≥ the target.

Probabilities are exact. When every chosen relay holds exactly one shard of the model (the usual
placement), shards are available independently and the count of available shards is Poisson-binomial:
a dynamic programme over shards gives P(count ≥ k) in O(n·k). When relays hold several shards, every
up/down pattern of the chosen relays is enumerated (2^m patterns; refused above ``MAX_ENUMERATED``).

Choosing the set: with up to ``EXHAUSTIVE_UP_TO`` relays every subset is tried in order of size, so m is
the true minimum; above that a greedy choice adds, at each step, the relay that raises the success
probability most (ties: the more available relay), which is what a client can afford to compute.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agihub.transfer.errors import PlacementError

EXHAUSTIVE_UP_TO = 12
MAX_ENUMERATED = 20
#: Beta prior on a relay's availability: 9 passes in 10 audits before any evidence (mean 0.9).
PRIOR_PASS, PRIOR_FAIL = 9.0, 1.0


class PlanningError(PlacementError):
    """No set of the holders reaches the target probability, or the input is inconsistent."""


@dataclass(frozen=True)
class RetrievalPlan:
    relays: tuple[str, ...]
    probability: float
    k: int
    target: float

    @property
    def m(self) -> int:
        return len(self.relays)

    def to_dict(self) -> dict[str, object]:
        return {
            "m": self.m,
            "relays": list(self.relays),
            "probability": self.probability,
            "k": self.k,
            "target": self.target,
        }


def availability_from_audits(passes: int, failures: int) -> float:
    """Posterior mean availability with the Beta(9, 1) prior: a new relay is trusted at 0.9 and its
    record moves that quickly (timeouts count as failures: the relay did not answer)."""
    return (passes + PRIOR_PASS) / (passes + failures + PRIOR_PASS + PRIOR_FAIL)


def success_probability(
    holdings: Mapping[str, frozenset[int] | set[int]],
    availability: Mapping[str, float],
    relays: Sequence[str],
    k: int,
) -> float:
    """P(the relays of ``relays`` that answer hold ≥ k distinct shards), relays independent."""
    chosen = list(relays)
    if all(len(holdings[r]) == 1 for r in chosen):
        return _poisson_binomial_tail(_shard_availability(holdings, availability, chosen), k)
    if len(chosen) > MAX_ENUMERATED:
        raise PlanningError(
            f"{len(chosen)} relays holding several shards each: too many to enumerate exactly"
        )
    total = 0.0
    for pattern in itertools.product((False, True), repeat=len(chosen)):
        weight, shards = 1.0, set()
        for relay, up in zip(chosen, pattern, strict=True):
            a = availability[relay]
            weight *= a if up else 1.0 - a
            if up:
                shards |= holdings[relay]
        if len(shards) >= k:
            total += weight
    return total


def _shard_availability(
    holdings: Mapping[str, frozenset[int] | set[int]], availability: Mapping[str, float], relays: list[str]
) -> list[float]:
    """Per shard: P(at least one chosen holder answers)."""
    down: dict[int, float] = {}
    for relay in relays:
        (shard,) = holdings[relay]
        down[shard] = down.get(shard, 1.0) * (1.0 - availability[relay])
    return [1.0 - d for d in down.values()]


def _poisson_binomial_tail(probabilities: list[float], k: int) -> float:
    """P(at least k of independent events with these probabilities happen)."""
    dist = [1.0] + [0.0] * len(probabilities)  # dist[c] = P(c events so far)
    for p in probabilities:
        for c in range(len(dist) - 1, 0, -1):
            dist[c] = dist[c] * (1.0 - p) + dist[c - 1] * p
        dist[0] *= 1.0 - p
    return sum(dist[k:])


def plan_retrieval(
    holdings: Mapping[str, frozenset[int] | set[int]],
    availability: Mapping[str, float],
    k: int,
    target: float = 0.999,
) -> RetrievalPlan:
    """The smallest set of relays reaching ``target``; raises :class:`PlanningError` if even all of
    them cannot."""
    if not 0.0 < target < 1.0:
        raise PlanningError(f"target probability {target} must be strictly between 0 and 1")
    relays = sorted(
        (r for r, shards in holdings.items() if shards), key=lambda r: (-availability.get(r, 0.0), r)
    )
    missing = [r for r in relays if not 0.0 <= availability.get(r, -1.0) <= 1.0]
    if missing:
        raise PlanningError(f"no availability in [0, 1] for relays {missing}")
    if len({s for r in relays for s in holdings[r]}) < k:
        raise PlanningError(f"the holders together have fewer than k={k} distinct shards")
    if len(relays) <= EXHAUSTIVE_UP_TO:
        return _exhaustive(holdings, availability, relays, k, target)
    return _greedy(holdings, availability, relays, k, target)


def _exhaustive(holdings, availability, relays, k, target) -> RetrievalPlan:  # type: ignore[no-untyped-def]
    best: tuple[float, tuple[str, ...]] = (0.0, ())
    for size in range(1, len(relays) + 1):
        for subset in itertools.combinations(relays, size):
            if len({s for r in subset for s in holdings[r]}) < k:
                continue
            p = success_probability(holdings, availability, subset, k)
            if p > best[0]:
                best = (p, subset)
        if best[0] >= target:
            return RetrievalPlan(best[1], best[0], k, target)
    raise PlanningError(
        f"even all {len(relays)} holders reach only P={best[0]:.6f} < target {target}; "
        "place more copies (agihub repair) or accept a lower target"
    )


def _greedy(holdings, availability, relays, k, target) -> RetrievalPlan:  # type: ignore[no-untyped-def]
    chosen: list[str] = []
    left = list(relays)
    p = 0.0
    while left:
        scored = [
            (success_probability(holdings, availability, [*chosen, r], k), availability[r], r) for r in left
        ]
        p, _, pick = max(scored, key=lambda t: (t[0], t[1], -relays.index(t[2])))
        chosen.append(pick)
        left.remove(pick)
        if p >= target:
            return RetrievalPlan(tuple(chosen), p, k, target)
    raise PlanningError(f"even all {len(relays)} holders reach only P={p:.6f} < target {target}")
