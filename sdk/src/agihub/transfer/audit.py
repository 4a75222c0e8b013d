"""Proof that a relay still holds a shard: precomputed byte-range challenges.

When a shard is placed, the placer (who has the bytes) draws random ranges of it and keeps each
range's sha256. An audit later asks the relay for one unused range (HTTP Range) and compares. A relay
cannot know in advance which range will be asked, so it must keep the whole shard to pass every
audit; each challenge is used once, so a relay cannot replay an answer. (Storj's early audits worked
the same way: https://www.storj.io/storj2014.pdf, section 2.3.)
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from agihub.transfer.errors import RelayFailure
from agihub.transfer.relays import read_range

PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"
DEFAULT_RANGE = 4096


@dataclass(frozen=True)
class Challenge:
    """Bytes ``[offset, offset+length)`` of a shard must hash to ``sha256``."""

    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class AuditOutcome:
    outcome: str  # pass | fail | timeout
    detail: str


def make_challenges(path: Path, count: int, length: int = DEFAULT_RANGE) -> list[Challenge]:
    """``count`` challenges at unpredictable offsets of the shard file at ``path``."""
    size = path.stat().st_size
    length = min(length, size)
    rng = random.Random(secrets.token_bytes(32))
    out: list[Challenge] = []
    with path.open("rb") as f:
        for _ in range(count):
            offset = rng.randrange(0, size - length + 1)
            f.seek(offset)
            out.append(Challenge(offset, length, hashlib.sha256(f.read(length)).hexdigest()))
    return out


def check(url: str, shard_sha256: str, challenge: Challenge, timeout: float = 10.0) -> AuditOutcome:
    """Ask the relay at ``url`` for the challenged range once."""
    try:
        data = read_range(url, shard_sha256, challenge.offset, challenge.length, timeout)
    except RelayFailure as exc:
        return AuditOutcome(TIMEOUT if exc.transient else FAIL, exc.reason)
    if len(data) != challenge.length:
        return AuditOutcome(FAIL, f"answered {len(data)} bytes of {challenge.length}")
    if hashlib.sha256(data).hexdigest() != challenge.sha256:
        return AuditOutcome(FAIL, f"bytes {challenge.offset}+{challenge.length} differ from the shard's")
    return AuditOutcome(PASS, "")


def audit(
    url: str, shard_sha256: str, challenge: Challenge, recheck: Challenge | None, timeout: float = 10.0
) -> AuditOutcome:
    """One audit: a timeout is checked again (with ``recheck``, a fresh challenge) before it counts."""
    first = check(url, shard_sha256, challenge, timeout)
    if first.outcome != TIMEOUT or recheck is None:
        return first
    return check(url, shard_sha256, recheck, timeout)
