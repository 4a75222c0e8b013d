"""Contributions, validator commit-reveal scoring, epochs and reward claims."""

from __future__ import annotations

import os

import boa
import pytest

from agihub.chain.commitment import score_commit
from tests.contracts.evm.evm_market_kit import EPOCH_LENGTH, one_event

ROOT, PARENT = b"\x31" * 32, b"\x32" * 32


@pytest.fixture
def validators(market, admin) -> list[str]:
    out = [boa.env.generate_address(f"validator{i}") for i in range(3)]
    with boa.env.prank(admin):
        for v in out:
            market.add_validator(v)
    return out


@pytest.fixture
def contributor(market) -> str:
    return boa.env.generate_address("contributor")


def register(market, contributor) -> int:
    with boa.env.prank(contributor):
        return market.register_contribution(ROOT, PARENT)


def commit(market, validator, cid, score) -> bytes:
    salt = os.urandom(32)
    with boa.env.prank(validator):
        market.commit_score(cid, score_commit(score, salt, cid, validator))
    return salt


def reveal(market, validator, cid, score, salt) -> None:
    with boa.env.prank(validator):
        market.reveal_score(cid, score, salt)


def score(market, validator, cid, value) -> None:
    reveal(market, validator, cid, value, commit(market, validator, cid, value))


def fund_pool(market, kit, admin, fee_bps=1000) -> int:
    """Complete one order with a fee so the reward pool holds something."""
    with boa.env.prank(admin):
        market.set_fee(fee_bps)
    oid = kit.pull()
    secret = kit.take(oid)
    kit.confirm(oid)
    kit.reveal(oid, secret)
    return market.reward_pool()


def close(market) -> None:
    boa.env.time_travel(seconds=EPOCH_LENGTH)
    market.close_epoch()


def test_register_contribution(market, contributor):
    cid = register(market, contributor)
    ev = one_event(market, "ContributionRegistered")
    assert (cid, ev.contributor, ev.model_root, ev.parent_root, ev.epoch) == (1, contributor, ROOT, PARENT, 1)
    c = market.contribution(cid)
    assert (c.contributor, c.epoch, c.score, c.final, c.claimed) == (contributor, 1, 0, False, False)
    assert register(market, contributor) == 2


def test_contribution_view_unknown(market):
    with boa.reverts("market: E_UNKNOWN_CONTRIBUTION"):
        market.contribution(1)


def test_commit_and_reveal_finalizes_at_quorum(market, admin, validators, contributor):
    with boa.env.prank(admin):
        market.set_quorum(2)
    cid = register(market, contributor)
    salts = [commit(market, v, cid, s) for v, s in zip(validators, (70, 80, 70), strict=True)]
    assert one_event(market, "ScoreCommitted").validator == validators[2]
    reveal(market, validators[0], cid, 70, salts[0])
    reveal(market, validators[1], cid, 80, salts[1])
    assert not market.contribution(cid).final
    reveal(market, validators[2], cid, 70, salts[2])
    fin = one_event(market, "ScoreFinalized")
    assert (fin.contribution_id, fin.score, fin.epoch) == (cid, 70, 1)
    c = market.contribution(cid)
    assert (c.final, c.score) == (True, 70)
    assert market.epoch_result(1) == (False, 0, 70, 0)


def test_score_is_finalized_once(market, validators, contributor):
    cid = register(market, contributor)
    score(market, validators[0], cid, 5)
    score(market, validators[1], cid, 9)  # a later, different quorum does not refinalize
    assert [type(e).__name__ for e in market.get_logs()] == ["ScoreRevealed"]
    assert market.contribution(cid).score == 5 and market.epoch_result(1)[2] == 5


def test_commit_errors(market, validators, contributor, other):
    cid = register(market, contributor)
    with boa.env.prank(other), boa.reverts("market: E_NOT_VALIDATOR"):
        market.commit_score(cid, b"\x01" * 32)
    with boa.env.prank(validators[0]):
        with boa.reverts("market: E_UNKNOWN_CONTRIBUTION"):
            market.commit_score(cid + 1, b"\x01" * 32)
        market.commit_score(cid, b"\x01" * 32)
        with boa.reverts("market: E_ALREADY_COMMITTED"):
            market.commit_score(cid, b"\x02" * 32)


def test_reveal_errors(market, admin, validators, contributor):
    cid = register(market, contributor)
    with boa.reverts("market: E_NO_COMMIT"):
        reveal(market, validators[0], cid, 1, b"\0" * 32)
    salt = commit(market, validators[0], cid, 50)
    with boa.reverts("market: E_BAD_REVEAL"):
        reveal(market, validators[0], cid, 51, salt)
    commit(market, validators[1], cid, 49)
    with boa.reverts("market: E_BAD_REVEAL"):  # another validator's opening does not fit its commitment
        reveal(market, validators[1], cid, 50, salt)
    reveal(market, validators[0], cid, 50, salt)
    with boa.reverts("market: E_ALREADY_REVEALED"):
        reveal(market, validators[0], cid, 50, salt)


def test_reveal_rejects_score_above_u64(market, validators, contributor):
    cid = register(market, contributor)
    salt = commit(market, validators[0], cid, 2**64)
    with boa.reverts("market: E_OVERFLOW"):
        reveal(market, validators[0], cid, 2**64, salt)


def test_removed_validator_cannot_reveal(market, admin, validators, contributor):
    cid = register(market, contributor)
    salt = commit(market, validators[0], cid, 3)
    with boa.env.prank(admin):
        market.remove_validator(validators[0])
    with boa.reverts("market: E_NOT_VALIDATOR"):
        reveal(market, validators[0], cid, 3, salt)


def test_scoring_closes_with_the_epoch(market, validators, contributor):
    cid = register(market, contributor)
    salt = commit(market, validators[0], cid, 3)
    close(market)
    with boa.reverts("market: E_EPOCH_CLOSED"):
        commit(market, validators[1], cid, 3)
    with boa.reverts("market: E_EPOCH_CLOSED"):
        reveal(market, validators[0], cid, 3, salt)


def test_close_epoch_timing(market):
    with boa.reverts("market: E_EPOCH_NOT_OVER"):
        market.close_epoch()
    boa.env.time_travel(seconds=EPOCH_LENGTH - 2)
    with boa.reverts("market: E_EPOCH_NOT_OVER"):
        market.close_epoch()
    boa.env.time_travel(seconds=2)
    market.close_epoch()
    assert one_event(market, "EpochClosed").epoch == 1
    epoch, start, length = market.current_epoch()
    assert (epoch, start, length) == (2, boa.env.timestamp, EPOCH_LENGTH)


def test_rewards_split_pro_rata_and_claim_once(market, kit, admin, validators, contributor, other):
    pool = fund_pool(market, kit, admin)
    a, b = register(market, contributor), register(market, other)
    score(market, validators[0], a, 30)
    score(market, validators[0], b, 10)
    close(market)
    ev = one_event(market, "EpochClosed")
    assert (ev.pool, ev.total_score) == (pool, 40)
    assert market.reward_pool() == 0
    with boa.env.prank(contributor):
        market.claim_reward(a)
        assert one_event(market, "RewardClaimed").amount == pool * 30 // 40
        with boa.reverts("market: E_ALREADY_CLAIMED"):
            market.claim_reward(a)
        with boa.reverts("market: E_NOT_CONTRIBUTOR"):
            market.claim_reward(b)
    with boa.env.prank(other):
        market.claim_reward(b)
    assert market.credits(contributor) == pool * 30 // 40
    assert market.credits(other) == pool * 10 // 40
    closed, epoch_pool, total, unclaimed = market.epoch_result(1)
    assert (closed, epoch_pool, total, unclaimed) == (
        True,
        pool,
        40,
        pool - pool * 30 // 40 - pool * 10 // 40,
    )


def test_claim_errors(market, validators, contributor):
    with boa.env.prank(contributor), boa.reverts("market: E_UNKNOWN_CONTRIBUTION"):
        market.claim_reward(1)
    scored, unscored = register(market, contributor), register(market, contributor)
    score(market, validators[0], scored, 1)
    with boa.env.prank(contributor), boa.reverts("market: E_EPOCH_OPEN"):
        market.claim_reward(scored)
    close(market)
    with boa.env.prank(contributor), boa.reverts("market: E_NOT_FINAL"):
        market.claim_reward(unscored)


def test_pool_rolls_over_when_no_score_is_final(market, kit, admin, validators, contributor):
    pool = fund_pool(market, kit, admin)
    close(market)
    assert one_event(market, "EpochClosed").pool == 0
    assert market.reward_pool() == pool
    cid = register(market, contributor)
    assert market.contribution(cid).epoch == 2
    score(market, validators[0], cid, 7)
    close(market)
    assert one_event(market, "EpochClosed").pool == pool
    with boa.env.prank(contributor):
        market.claim_reward(cid)
    assert market.credits(contributor) == pool


def test_zero_total_with_final_zero_scores_rolls_over(market, kit, admin, validators, contributor):
    pool = fund_pool(market, kit, admin)
    cid = register(market, contributor)
    score(market, validators[0], cid, 0)
    close(market)
    assert market.reward_pool() == pool
    with boa.env.prank(contributor):  # final score 0 on an empty pool: claims 0, no division by zero
        market.claim_reward(cid)
        assert one_event(market, "RewardClaimed").amount == 0
        with boa.reverts("market: E_ALREADY_CLAIMED"):
            market.claim_reward(cid)
