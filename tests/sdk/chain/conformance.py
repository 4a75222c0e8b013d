"""Conformance suite every :class:`agihub.chain.base.Chain` backend must pass.

Backend-agnostic: a test module subclasses :class:`ChainConformance` and provides a ``world``
fixture returning a :class:`ChainWorld` on a freshly deployed market (see test_evm_conformance.py).
Only the public ``Chain`` interface, the typed errors and the time-travel hook are used, so the same
tests run on the EVM (py-evm in process, hardhat JSON-RPC) and on an Aptos backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from agihub.chain import errors as E
from agihub.chain.base import Chain
from agihub.chain.catalog import EVENT_BY_NAME, FEE_CAP_BPS, MAX_RELAYS, MAX_WINDOW, OrderState
from agihub.chain.commitment import key_commit, new_secret, score_commit

ROOT = b"\x11" * 32
DELIVERY = b"\x22" * 32
WINDOW = 3600


@dataclass
class ChainWorld:
    """What a backend's fixture provides: signers on one fresh market and a clock hook.

    ``admin`` deployed the market; ``buyers`` (>= 2), ``relays`` (>= 3, unregistered) and
    ``validators`` (>= 2, not yet added) are funded. ``travel(seconds)`` moves chain time forward
    by at least ``seconds``. ``unit`` scales amounts so fees of the chain stay negligible.
    """

    admin: Chain
    buyers: list[Chain]
    relays: list[Chain]
    validators: list[Chain]
    travel: Callable[[int], None]
    epoch_length: int
    unit: int = 1


def _register(world: ChainWorld, count: int = 3) -> list[Chain]:
    for i, relay in enumerate(world.relays[:count]):
        relay.register_relay(bytes([i + 1]) * 32, f"https://relay{i}.example")
    return world.relays[:count]


def _amounts(world: ChainWorld) -> tuple[int, int, int]:
    return 10 * world.unit, 100 * world.unit, 5 * world.unit


def _pull(world: ChainWorld, relays: list[Chain], buyer: Chain | None = None, window: int = WINDOW) -> int:
    down, cost, tip = _amounts(world)
    receipt = (buyer or world.buyers[0]).pull(
        ROOT, [r.address for r in relays], down, cost, tip, window, window, window
    )
    assert receipt.result is not None
    return receipt.result


def _assert_event_shape(receipt) -> None:
    for event in receipt.events:
        assert tuple(event.fields) == EVENT_BY_NAME[event.name].field_names


class ChainConformance:
    """Behaviour every backend must show; subclasses provide the ``world`` fixture."""

    # -- relays -----------------------------------------------------------------------------------
    def test_relay_registry_roundtrip(self, world: ChainWorld):
        relay = world.relays[0]
        receipt = relay.register_relay(b"\x01" * 32, "wss://r.example")
        event = receipt.event("RelayRegistered")
        assert (event["relay"], event["nostr_pubkey"], event["endpoint"]) == (
            relay.address,
            b"\x01" * 32,
            "wss://r.example",
        )
        info = world.admin.relay_info(relay.address)
        assert (info.registered, info.nostr_pubkey, info.endpoint) == (True, b"\x01" * 32, "wss://r.example")
        relay.update_relay(b"\x02" * 32, "wss://new.example")
        assert world.admin.relay_info(relay.address).endpoint == "wss://new.example"
        relay.deregister_relay()
        assert world.admin.relay_info(relay.address).registered is False

    def test_relay_registry_errors(self, world: ChainWorld):
        relay = world.relays[0]
        with pytest.raises(E.BadPubkey):
            relay.register_relay(b"\0" * 32, "wss://r")
        with pytest.raises(E.BadEndpoint):
            relay.register_relay(b"\x01" * 32, "")
        with pytest.raises(E.BadEndpoint):
            relay.register_relay(b"\x01" * 32, "x" * 257)
        with pytest.raises(E.RelayNotRegistered):
            relay.deregister_relay()
        relay.register_relay(b"\x01" * 32, "wss://r")
        with pytest.raises(E.AlreadyRegistered):
            relay.register_relay(b"\x01" * 32, "wss://r")

    # -- orders -----------------------------------------------------------------------------------
    def test_full_lifecycle_pays_relay_and_fee(self, world: ChainWorld):
        relays = _register(world)
        world.admin.set_fee(100)
        buyer, relay = world.buyers[0], relays[1]
        down, cost, tip = _amounts(world)
        receipt = buyer.pull(ROOT, [r.address for r in relays], down, cost, tip, WINDOW, WINDOW, WINDOW)
        _assert_event_shape(receipt)
        oid = receipt.result
        pulled = receipt.event("OrderPulled")
        assert (pulled["order_id"], pulled["buyer"], pulled["relays"]) == (
            oid,
            buyer.address,
            tuple(r.address for r in relays),
        )
        order = buyer.get_order(oid)
        assert (order.state, order.buyer, order.model_root, order.down, order.cost, order.tip) == (
            OrderState.OPEN,
            buyer.address,
            ROOT,
            down,
            cost,
            tip,
        )
        assert order.relays == tuple(r.address for r in relays)

        key, salt = new_secret(), new_secret()
        taken = relay.take_order(oid, key_commit(key, salt, oid, relay.address))
        assert taken.event("OrderTaken")["down_paid"] == down
        order = buyer.get_order(oid)
        assert (order.state, order.taker, order.key_commit) == (
            OrderState.TAKEN,
            relay.address,
            key_commit(key, salt, oid, relay.address),
        )
        assert buyer.credits(relay.address) == down

        buyer.confirm_received(oid, DELIVERY)
        assert buyer.get_order(oid).state == OrderState.ACKED
        revealed = relay.reveal_key(oid, key, salt).event("KeyRevealed")
        fee = (cost + tip) * 100 // 10_000
        assert (revealed["key"], revealed["salt"], revealed["fee"], revealed["relay_amount"]) == (
            key,
            salt,
            fee,
            cost + tip - fee,
        )
        assert buyer.get_order(oid).state == OrderState.COMPLETED
        assert buyer.credits(relay.address) == down + cost + tip - fee
        assert buyer.reward_pool() == fee

        before = relay.balance()
        assert relay.withdraw().event("Withdrawn")["amount"] == down + cost + tip - fee
        assert relay.balance() > before and relay.credits(relay.address) == 0
        with pytest.raises(E.NothingToWithdraw):
            relay.withdraw()

    def test_order_ids_count_from_one(self, world: ChainWorld):
        relays = _register(world, 1)
        assert world.admin.next_order_id() == 1
        assert _pull(world, relays) == 1
        assert _pull(world, relays, buyer=world.buyers[1]) == 2

    def test_pull_errors(self, world: ChainWorld):
        relays = _register(world)
        buyer, addrs = world.buyers[0], [r.address for r in relays]
        with pytest.raises(E.NoRelays):
            buyer.pull(ROOT, [], 0, 1, 0, WINDOW, WINDOW, WINDOW)
        with pytest.raises(E.TooManyRelays):
            buyer.pull(ROOT, addrs * 3, 0, 1, 0, WINDOW, WINDOW, WINDOW)
        assert len(addrs * 3) > MAX_RELAYS
        with pytest.raises(E.DuplicateRelay):
            buyer.pull(ROOT, [addrs[0], addrs[0]], 0, 1, 0, WINDOW, WINDOW, WINDOW)
        stranger = world.buyers[1].address  # funded, never registered
        with pytest.raises(E.RelayNotRegistered):
            buyer.pull(ROOT, [stranger], 0, 1, 0, WINDOW, WINDOW, WINDOW)
        with pytest.raises(E.ZeroAmount):
            buyer.pull(ROOT, addrs, 5, 0, 5, WINDOW, WINDOW, WINDOW)
        for windows in ((0, WINDOW, WINDOW), (WINDOW, MAX_WINDOW + 1, WINDOW), (WINDOW, WINDOW, 0)):
            with pytest.raises(E.BadWindow):
                buyer.pull(ROOT, addrs, 0, 1, 0, *windows)
        assert world.admin.next_order_id() == 1

    def test_malformed_input_is_refused_before_sending(self, world: ChainWorld):
        relays = _register(world, 1)
        with pytest.raises(E.ChainInputError):
            world.buyers[0].pull(b"\x11" * 31, [relays[0].address], 0, 1, 0, WINDOW, WINDOW, WINDOW)
        with pytest.raises(E.ChainInputError):
            world.buyers[0].pull(ROOT, [relays[0].address], -1, 1, 0, WINDOW, WINDOW, WINDOW)
        assert world.admin.next_order_id() == 1

    def test_raise_and_cancel(self, world: ChainWorld):
        relays = _register(world, 1)
        buyer = world.buyers[0]
        oid = _pull(world, relays)
        down, cost, tip = _amounts(world)
        event = buyer.raise_payment(oid, 1, 2, 3).event("PaymentRaised")
        assert (event["new_down"], event["new_cost"], event["new_tip"]) == (down + 1, cost + 2, tip + 3)
        with pytest.raises(E.NotBuyer):
            world.buyers[1].cancel(oid)
        with pytest.raises(E.ZeroAmount):
            buyer.raise_payment(oid, 0, 0, 0)
        assert buyer.cancel(oid).event("OrderCancelled")["refund"] == down + cost + tip + 6
        assert buyer.get_order(oid).state == OrderState.CANCELLED
        assert buyer.credits(buyer.address) == down + cost + tip + 6
        with pytest.raises(E.WrongState):
            buyer.cancel(oid)

    def test_taken_order_accepts_tip_only(self, world: ChainWorld):
        relays = _register(world, 1)
        buyer = world.buyers[0]
        oid = _pull(world, relays)
        relays[0].take_order(oid, b"\x05" * 32)
        buyer.raise_payment(oid, 0, 0, 7)
        with pytest.raises(E.WrongState):
            buyer.raise_payment(oid, 0, 7, 0)

    def test_take_errors(self, world: ChainWorld):
        relays = _register(world)
        oid = _pull(world, relays[:2])
        with pytest.raises(E.NotListedRelay):
            relays[2].take_order(oid, b"\x05" * 32)
        relays[1].deregister_relay()
        with pytest.raises(E.RelayNotRegistered):
            relays[1].take_order(oid, b"\x05" * 32)
        relays[0].take_order(oid, b"\x05" * 32)
        with pytest.raises(E.WrongState):
            relays[0].take_order(oid, b"\x05" * 32)
        with pytest.raises(E.UnknownOrder):
            world.admin.get_order(oid + 100)

    def test_reveal_errors(self, world: ChainWorld):
        relays = _register(world, 2)
        buyer = world.buyers[0]
        oid = _pull(world, relays)
        key, salt = new_secret(), new_secret()
        relays[0].take_order(oid, key_commit(key, salt, oid, relays[0].address))
        with pytest.raises(E.WrongState):
            relays[0].reveal_key(oid, key, salt)
        with pytest.raises(E.NotBuyer):
            world.buyers[1].confirm_received(oid, DELIVERY)
        buyer.confirm_received(oid, DELIVERY)
        with pytest.raises(E.NotTaker):
            relays[1].reveal_key(oid, key, salt)
        with pytest.raises(E.BadReveal):
            relays[0].reveal_key(oid, key, new_secret())
        relays[0].reveal_key(oid, key, salt)

    def test_deadlines_and_settle(self, world: ChainWorld):
        relays = _register(world, 1)
        buyer, relay = world.buyers[0], relays[0]
        down, cost, tip = _amounts(world)
        open_id, taken_id = _pull(world, relays), _pull(world, relays)
        relay.take_order(taken_id, b"\x05" * 32)
        with pytest.raises(E.NotDue):
            world.admin.settle(open_id)
        world.travel(WINDOW + 5)
        with pytest.raises(E.DeadlinePassed):
            relay.take_order(open_id, b"\x05" * 32)
        with pytest.raises(E.DeadlinePassed):
            buyer.confirm_received(taken_id, DELIVERY)
        assert world.admin.settle(open_id).event("OrderSettled")["refund"] == down + cost + tip
        settled = world.admin.settle(taken_id).event("OrderSettled")
        assert (settled["from_state"], settled["refund"]) == (OrderState.TAKEN, cost + tip)
        assert buyer.credits(buyer.address) == down + 2 * (cost + tip)
        assert buyer.credits(relay.address) == down
        assert buyer.get_order(taken_id).state == OrderState.EXPIRED
        with pytest.raises(E.WrongState):
            world.admin.settle(open_id)

    # -- admin ------------------------------------------------------------------------------------
    def test_admin_fee_validators_quorum(self, world: ChainWorld):
        admin, other = world.admin, world.buyers[1]
        with pytest.raises(E.NotAdmin):
            other.set_fee(1)
        with pytest.raises(E.FeeTooHigh):
            admin.set_fee(FEE_CAP_BPS + 1)
        assert admin.set_fee(FEE_CAP_BPS).event("FeeChanged")["bps"] == FEE_CAP_BPS
        assert admin.fee_bps() == FEE_CAP_BPS
        validator = world.validators[0]
        admin.add_validator(validator.address)
        assert admin.is_validator(validator.address)
        with pytest.raises(E.AlreadyValidator):
            admin.add_validator(validator.address)
        admin.remove_validator(validator.address)
        with pytest.raises(E.NotValidator):
            admin.remove_validator(validator.address)
        with pytest.raises(E.BadQuorum):
            admin.set_quorum(0)
        admin.set_quorum(2)
        assert admin.quorum() == 2
        admin.transfer_admin(other.address)
        assert admin.pending_admin() == other.address
        with pytest.raises(E.NotPendingAdmin):
            world.buyers[0].accept_admin()
        event = other.accept_admin().event("AdminChanged")
        assert (event["old_admin"], event["new_admin"]) == (admin.address, other.address)
        assert other.admin() == other.address and other.pending_admin() is None

    # -- rewards ----------------------------------------------------------------------------------
    def test_scoring_epoch_and_claim(self, world: ChainWorld):
        relays = _register(world, 1)
        admin, contributor = world.admin, world.buyers[1]
        admin.set_fee(FEE_CAP_BPS)
        oid = _pull(world, relays)
        key, salt = new_secret(), new_secret()
        relays[0].take_order(oid, key_commit(key, salt, oid, relays[0].address))
        world.buyers[0].confirm_received(oid, DELIVERY)
        relays[0].reveal_key(oid, key, salt)
        pool = admin.reward_pool()
        assert pool > 0

        receipt = contributor.register_contribution(ROOT, b"\0" * 32)
        cid = receipt.result
        assert cid == 1 and receipt.event("ContributionRegistered")["epoch"] == admin.current_epoch().epoch
        v1, v2 = world.validators[:2]
        admin.add_validator(v1.address)
        admin.add_validator(v2.address)
        admin.set_quorum(2)
        salts = [new_secret(), new_secret()]
        for v, s in zip((v1, v2), salts, strict=True):
            v.commit_score(cid, score_commit(42, s, cid, v.address))
        with pytest.raises(E.AlreadyCommitted):
            v1.commit_score(cid, score_commit(42, salts[0], cid, v1.address))
        with pytest.raises(E.BadReveal):
            v1.reveal_score(cid, 41, salts[0])
        v1.reveal_score(cid, 42, salts[0])
        assert not admin.contribution(cid).final
        final = v2.reveal_score(cid, 42, salts[1]).event("ScoreFinalized")
        assert (final["score"], admin.contribution(cid).final) == (42, True)
        with pytest.raises(E.EpochOpen):
            contributor.claim_reward(cid)
        with pytest.raises(E.EpochNotOver):
            admin.close_epoch()
        world.travel(world.epoch_length + 1)
        closed = admin.close_epoch().event("EpochClosed")
        assert (closed["pool"], closed["total_score"]) == (pool, 42)
        result = admin.epoch_result(closed["epoch"])
        assert (result.closed, result.pool, result.total_score) == (True, pool, 42)
        with pytest.raises(E.NotContributor):
            world.buyers[0].claim_reward(cid)
        assert contributor.claim_reward(cid).event("RewardClaimed")["amount"] == pool
        with pytest.raises(E.AlreadyClaimed):
            contributor.claim_reward(cid)
        with pytest.raises(E.UnknownContribution):
            admin.contribution(cid + 1)
