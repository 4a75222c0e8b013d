"""Stateful property test of market.vy: random buyers, relays, time travel and payouts.

A Python model predicts the outcome (success or the exact catalogue error) of every call; after
each step the invariants of contracts/DESIGN.md are checked:

* the contract's balance equals escrow of live orders + all credits + the reward pool;
* every account's on-chain credits equal the model's (so D and C+T are each paid at most once);
* order states only move forward and match the model.

Teardown travels past every deadline, settles every live order, withdraws everything and checks
that only the reward pool is left in the contract.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import boa
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agihub.chain.catalog import MAX_WINDOW, OrderState
from agihub.chain.commitment import key_commit
from tests.contracts.evm.evm_market_kit import EPOCH_LENGTH, MARKET_VY

WINDOWS = (600, 3600, 86400)
AMOUNTS = st.integers(0, 10**6)
LIVE = (OrderState.OPEN, OrderState.TAKEN, OrderState.ACKED)


@dataclass
class ModelOrder:
    buyer: str
    relays: list[str]
    down: int
    cost: int
    tip: int
    windows: tuple[int, int, int]
    deadline: int
    state: OrderState = OrderState.OPEN
    taker: str | None = None
    secret: tuple[bytes, bytes] | None = None

    def escrow(self) -> int:
        if self.state == OrderState.OPEN:
            return self.down + self.cost + self.tip
        return self.cost + self.tip if self.state in LIVE else 0


@dataclass
class Model:
    orders: dict[int, ModelOrder] = field(default_factory=dict)
    credits: dict[str, int] = field(default_factory=dict)
    registered: dict[str, bool] = field(default_factory=dict)
    pool: int = 0
    fee_bps: int = 0

    def credit(self, who: str, amount: int) -> None:
        self.credits[who] = self.credits.get(who, 0) + amount


_DEPLOYER = None


def _deployer():
    global _DEPLOYER
    if _DEPLOYER is None:
        _DEPLOYER = boa.load_partial(str(MARKET_VY))
    return _DEPLOYER


def _call(expected_error: str | None, fn, *args, **kwargs):
    """Run ``fn``; it must succeed when ``expected_error`` is None, else revert with that error."""
    if expected_error is None:
        return fn(*args, **kwargs)
    with boa.reverts(f"market: {expected_error}"):
        fn(*args, **kwargs)
    return None


def _has_orders(machine: MarketMachine) -> bool:
    return bool(machine.model.orders)


class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.admin = boa.env.generate_address("sm-admin")
        with boa.env.prank(self.admin):
            self.market = _deployer().deploy(EPOCH_LENGTH)
        self.buyers = [boa.env.generate_address(f"sm-buyer{i}") for i in range(3)]
        self.relays = [boa.env.generate_address(f"sm-relay{i}") for i in range(3)]
        self.model = Model()
        for who in self.buyers + self.relays:
            boa.env.set_balance(who, 10**30)
        for i, relay in enumerate(self.relays):
            with boa.env.prank(relay):
                self.market.register_relay(bytes([i + 1]) * 32, f"https://relay{i}")
            self.model.registered[relay] = True

    # -- helpers ----------------------------------------------------------------------------------
    def _now(self) -> int:
        return boa.env.timestamp

    def _pick(self, index: int, *wanted: OrderState) -> tuple[int, ModelOrder | None]:
        """An order id from ``index``: mostly an order in a ``wanted`` state (so that transitions
        really happen), sometimes any order, and one time in ten an id that does not exist."""
        count = len(self.model.orders)
        if count == 0 or index % 10 == 9:
            return count + 1, None
        fitting = [oid for oid, o in self.model.orders.items() if o.state in wanted]
        oid = fitting[index % len(fitting)] if fitting and index % 10 < 7 else 1 + index % count
        return oid, self.model.orders[oid]

    # -- rules ------------------------------------------------------------------------------------
    @initialize(amounts=st.lists(st.tuples(AMOUNTS, st.integers(1, 10**6), AMOUNTS), min_size=3, max_size=3))
    def seed(self, amounts):
        """Start every run with one order in each live state, so every rule has work from step 1."""
        for b, (down, cost, tip) in enumerate(amounts):
            self.pull(b, 7, down, cost, tip, (86400, 86400, 86400))
        self.take(1, 0)
        self.take(2, 1)
        self.confirm(2)

    @rule(
        b=st.integers(0, 2),
        relay_mask=st.integers(0, 7),
        down=AMOUNTS,
        cost=AMOUNTS,
        tip=AMOUNTS,
        windows=st.tuples(*[st.sampled_from(WINDOWS)] * 3),
    )
    def pull(self, b, relay_mask, down, cost, tip, windows):
        buyer = self.buyers[b]
        relays = [r for i, r in enumerate(self.relays) if relay_mask >> i & 1]
        error = None
        if not relays:
            error = "E_NO_RELAYS"
        elif not all(self.model.registered[r] for r in relays):
            error = "E_RELAY_NOT_REGISTERED"
        elif cost == 0:
            error = "E_ZERO_AMOUNT"
        with boa.env.prank(buyer):
            oid = _call(
                error,
                self.market.pull,
                b"\x11" * 32,
                relays,
                down,
                cost,
                tip,
                *windows,
                value=down + cost + tip,
            )
        if error is None:
            assert oid == len(self.model.orders) + 1
            self.model.orders[oid] = ModelOrder(
                buyer, relays, down, cost, tip, windows, self._now() + windows[0]
            )

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99), down=AMOUNTS, cost=AMOUNTS, tip=AMOUNTS, as_buyer=st.booleans())
    def raise_payment(self, i, down, cost, tip, as_buyer):
        oid, order = self._pick(i, OrderState.OPEN, OrderState.TAKEN)
        caller = order.buyer if order and as_buyer else self.buyers[i % 3]
        error = None
        if order is None:
            error = "E_UNKNOWN_ORDER"
        elif caller != order.buyer:
            error = "E_NOT_BUYER"
        elif not (order.state == OrderState.OPEN or (order.state == OrderState.TAKEN and down == cost == 0)):
            error = "E_WRONG_STATE"
        elif down + cost + tip == 0:
            error = "E_ZERO_AMOUNT"
        with boa.env.prank(caller):
            _call(error, self.market.raise_payment, oid, down, cost, tip, value=down + cost + tip)
        if error is None:
            order.down, order.cost, order.tip = order.down + down, order.cost + cost, order.tip + tip

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99))
    def cancel(self, i):
        oid, order = self._pick(i, OrderState.OPEN)
        caller = order.buyer if order else self.buyers[0]
        error = None
        if order is None:
            error = "E_UNKNOWN_ORDER"
        elif order.state != OrderState.OPEN:
            error = "E_WRONG_STATE"
        with boa.env.prank(caller):
            _call(error, self.market.cancel, oid)
        if error is None:
            self.model.credit(order.buyer, order.escrow())
            order.state = OrderState.CANCELLED

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99), r=st.integers(0, 5))
    def take(self, i, r):
        oid, order = self._pick(i, OrderState.OPEN)
        # r < 3: one of the order's own relays; else any relay (maybe not listed)
        relay = order.relays[r % len(order.relays)] if order and r < 3 else self.relays[r % 3]
        secret = (os.urandom(32), os.urandom(32))
        error = None
        if order is None:
            error = "E_UNKNOWN_ORDER"
        elif order.state != OrderState.OPEN:
            error = "E_WRONG_STATE"
        elif self._now() > order.deadline:
            error = "E_DEADLINE_PASSED"
        elif relay not in order.relays:
            error = "E_NOT_LISTED_RELAY"
        elif not self.model.registered[relay]:
            error = "E_RELAY_NOT_REGISTERED"
        listed = order.relays if order else [relay]
        with boa.env.prank(relay):
            _call(error, self.market.take_order, oid, key_commit(*secret, oid, relay), listed)
        if error is None:
            order.state, order.taker, order.secret = OrderState.TAKEN, relay, secret
            order.deadline = self._now() + order.windows[1]
            self.model.credit(relay, order.down)

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99))
    def confirm(self, i):
        oid, order = self._pick(i, OrderState.TAKEN)
        error = None
        if order is None:
            error = "E_UNKNOWN_ORDER"
        elif order.state != OrderState.TAKEN:
            error = "E_WRONG_STATE"
        elif self._now() > order.deadline:
            error = "E_DEADLINE_PASSED"
        with boa.env.prank(order.buyer if order else self.buyers[0]):
            _call(error, self.market.confirm_received, oid, b"\x22" * 32)
        if error is None:
            order.state, order.deadline = OrderState.ACKED, self._now() + order.windows[2]

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99), honest=st.integers(0, 4))
    def reveal(self, i, honest):
        oid, order = self._pick(i, OrderState.ACKED)
        relay = order.taker if order and order.taker else self.relays[0]
        honest = bool(honest)  # four times in five the taker knows its secret
        key, salt = order.secret if order and order.secret and honest else (b"\x05" * 32, b"\x06" * 32)
        error = None
        if order is None:
            error = "E_UNKNOWN_ORDER"
        elif order.state != OrderState.ACKED:
            error = "E_WRONG_STATE"
        elif self._now() > order.deadline:
            error = "E_DEADLINE_PASSED"
        elif not honest:
            error = "E_BAD_REVEAL"
        with boa.env.prank(relay):
            _call(error, self.market.reveal_key, oid, key, salt)
        if error is None:
            fee = (order.cost + order.tip) * self.model.fee_bps // 10_000
            self.model.credit(relay, order.cost + order.tip - fee)
            self.model.pool += fee
            order.state = OrderState.COMPLETED

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99))
    def settle(self, i):
        oid, order = self._pick(i, *LIVE)
        error = None
        if order is None:
            error = "E_UNKNOWN_ORDER"
        elif order.state not in LIVE:
            error = "E_WRONG_STATE"
        elif self._now() <= order.deadline:
            error = "E_NOT_DUE"
        _call(error, self.market.settle, oid)
        if error is None:
            self.model.credit(order.buyer, order.escrow())
            order.state = OrderState.EXPIRED

    @precondition(_has_orders)
    @rule(i=st.integers(0, 99), r=st.integers(0, 5))
    def advance(self, i, r):
        """Move a live order one step along the happy path, so full lifecycles are common."""
        _, order = self._pick(i, *LIVE)
        if order is None or order.state not in LIVE:
            return
        if order.state == OrderState.OPEN:
            self.take(i, r % 3)
        elif order.state == OrderState.TAKEN:
            self.confirm(i)
        else:
            self.reveal(i, 1)

    @rule(who=st.integers(0, 5))
    def withdraw(self, who):
        account = (self.buyers + self.relays)[who]
        amount = self.model.credits.get(account, 0)
        before = boa.env.get_balance(account)
        with boa.env.prank(account):
            _call(None if amount else "E_NOTHING_TO_WITHDRAW", self.market.withdraw)
        assert boa.env.get_balance(account) == before + amount
        self.model.credits[account] = 0

    @rule(seconds=st.sampled_from((1, 300, 601, 3601, 86401)))
    def travel(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @rule(bps=st.integers(0, 1000))
    def set_fee(self, bps):
        with boa.env.prank(self.admin):
            self.market.set_fee(bps)
        self.model.fee_bps = bps

    @rule(r=st.integers(0, 2))
    def toggle_registration(self, r):
        relay = self.relays[r]
        with boa.env.prank(relay):
            if self.model.registered[relay]:
                self.market.deregister_relay()
            else:
                self.market.register_relay(b"\x07" * 32, "https://again")
        self.model.registered[relay] = not self.model.registered[relay]

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def balance_is_fully_accounted(self):
        escrow = sum(o.escrow() for o in self.model.orders.values())
        credits = sum(self.model.credits.values())
        assert boa.env.get_balance(self.market.address) == escrow + credits + self.model.pool
        assert self.market.reward_pool() == self.model.pool

    @invariant()
    def credits_match_model(self):
        for account in self.buyers + self.relays:
            assert self.market.credits(account) == self.model.credits.get(account, 0)

    @invariant()
    def states_match_model(self):
        for oid, order in self.model.orders.items():
            assert self.market.get_order(oid).state == order.state

    def teardown(self):
        try:
            boa.env.time_travel(seconds=MAX_WINDOW + 1)
            for oid, order in self.model.orders.items():
                if order.state in LIVE:
                    self.market.settle(oid)
                    self.model.credit(order.buyer, order.escrow())
                    order.state = OrderState.EXPIRED
                assert self.market.get_order(oid).state.__int__() >= OrderState.COMPLETED
            for account in self.buyers + self.relays:
                if self.market.credits(account):
                    with boa.env.prank(account):
                        self.market.withdraw()
            assert boa.env.get_balance(self.market.address) == self.model.pool
        finally:
            self._anchor.__exit__(None, None, None)


_FAST = settings(
    max_examples=30, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)
_LARGE = settings(
    max_examples=200, stateful_step_count=50, deadline=None, suppress_health_check=list(HealthCheck)
)


def test_market_state_machine():
    MarketMachine.TestCase.settings = _FAST
    MarketMachine.TestCase().runTest()


@pytest.mark.slow
def test_market_state_machine_large():
    MarketMachine.TestCase.settings = _LARGE
    MarketMachine.TestCase().runTest()
