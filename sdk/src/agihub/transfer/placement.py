"""Where a model's shards go: spread over distinct operators first ("servers of happiness").

Happiness is the number of distinct operators holding at least one shard of the model: with n
shards and H ≥ k distinct operators, losing any one operator (all of its relays at once) loses at
most ⌈n/H⌉ shards. The idea comes from Tahoe-LAFS's servers-of-happiness upload check
(https://tahoe-lafs.readthedocs.io/en/latest/specifications/servers-of-happiness.html); here it is
simplified to a count of operators because every shard is equally needed.

The policy is pure: it takes the relays on offer and the current holders, returns the new
assignments, and never talks to the network.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agihub.storage.manifest import SignedManifest
from agihub.transfer.errors import PlacementError
from agihub.transfer.relays import RelayTarget


def happiness(holders: Mapping[int, Sequence[RelayTarget]]) -> int:
    """Distinct operators holding at least one shard."""
    return len({relay.operator for relays in holders.values() for relay in relays})


def place(
    missing: Sequence[int],
    relays: Sequence[RelayTarget],
    *,
    holders: Mapping[int, Sequence[RelayTarget]] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> dict[int, RelayTarget]:
    """Assign each shard index in ``missing`` to one relay.

    Operators that hold fewer shards of this model come first (ties broken by the order of
    ``relays``, so callers put preferred relays first); a relay never gets a second copy of a
    shard it holds, and relays whose URL is in ``exclude`` (known bad) are never chosen.
    """
    holders = holders or {}
    candidates = [relay for relay in relays if relay.url not in exclude]
    load = Counter(relay.operator for held in holders.values() for relay in held)
    rank = {relay.url: i for i, relay in enumerate(candidates)}
    chosen: dict[int, RelayTarget] = {}
    for index in missing:
        taken = {relay.url for relay in holders.get(index, ())}
        options = [relay for relay in candidates if relay.url not in taken]
        if not options:
            raise PlacementError(
                f"no relay left for shard {index}: {len(candidates)} usable relays all hold it or failed; "
                "add relays (agigit relay add --push, or register more relays on chain)"
            )
        best = min(options, key=lambda relay: (load[relay.operator], rank[relay.url]))
        chosen[index] = best
        load[best.operator] += 1
    return chosen


def require_happiness(holders: Mapping[int, Sequence[RelayTarget]], required: int, k: int) -> None:
    """Refuse a placement that ended with fewer than ``required`` distinct operators."""
    reached = happiness(holders)
    if reached < required:
        raise PlacementError(
            f"shards reached {reached} distinct operators; {required} are required (k={k}). "
            "Offer relays run by more operators, or lower the required happiness"
        )


def default_happiness(n: int, operators: int) -> int:
    """What a publish requires unless told otherwise: every operator on offer, up to n."""
    return max(1, min(n, operators))


#: Placement policies. ``class``: by the model's class (the default); ``spread``: every relay on
#: offer; ``owner``: only the relays the owner names.
POLICIES = ("class", "spread", "owner")


@dataclass(frozen=True)
class PlacementDecision:
    """Which relays a package may go to and how many distinct operators it needs, and why."""

    policy: str
    relays: tuple[RelayTarget, ...]
    happiness: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "relays": [relay.url for relay in self.relays],
            "happiness": self.happiness,
            "reason": self.reason,
        }


def decide(
    manifest: SignedManifest,
    offered: Sequence[RelayTarget],
    named: Sequence[RelayTarget],
    *,
    policy: str = "class",
    happiness_required: int | None = None,
) -> PlacementDecision:
    """The placement policy of issue #10: a foundation (public) model spreads over as many distinct
    relays as the network offers, up to n; a private domain model goes only to the relays its owner
    names (their push relays), so its ciphertext sits where the owner chose."""
    if policy not in POLICIES:
        raise PlacementError(f"unknown placement policy {policy!r}; choose one of {', '.join(POLICIES)}")
    body = manifest.manifest
    private = body.encryption is not None
    if policy == "owner" or (policy == "class" and private):
        if not named:
            raise PlacementError(
                "a private model is placed only on relays its owner names; pass them (--relay URL=OPERATOR)"
            )
        relays, chosen, reason = tuple(named), "owner", "private model: the owner's push relays only"
    else:
        merged = {relay.url: relay for relay in [*named, *offered]}
        relays, chosen, reason = (
            tuple(merged.values()),
            "spread",
            "public model: every relay on offer, up to n",
        )
    if not relays:
        raise PlacementError("no relays to place on: none named and none registered on chain")
    operators = len({relay.operator for relay in relays})
    required = happiness_required or default_happiness(body.erasure.n, operators)
    return PlacementDecision(chosen, relays, required, reason)
