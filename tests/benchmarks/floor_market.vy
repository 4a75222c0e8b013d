#pragma version ~=0.4.3
"""
@title Gas floor of the order lifecycle: the second anchor of tests/benchmarks/bench_gas.py
@notice The cheapest layout the protocol allows: one storage word per order holding a hash of the
        whole order, every call passing the order back in calldata (from the events) to be checked
        against it; no taker slot (the key commitment binds the relay); relay credits and the fee
        pool as single words. Same events and checks as contracts/evm/market.vy for pull,
        take_order, confirm_received and reveal_key; nothing else (no cancel, settle, raise,
        registry updates or views). It exists to measure what the issue's 140,000-gas goal costs,
        not for deployment.
"""

OPEN: constant(uint256) = 1
TAKEN: constant(uint256) = 2
ACKED: constant(uint256) = 3
BPS: constant(uint256) = 10000


struct Order:
    buyer: address
    state: uint256
    deadline: uint256
    ack_window: uint256
    reveal_window: uint256
    down: uint256
    cost: uint256
    tip: uint256
    link: bytes32


event OrderPulled:
    order_id: indexed(uint256)
    buyer: indexed(address)
    model_root: bytes32
    relays: DynArray[address, 8]
    down: uint256
    cost: uint256
    tip: uint256
    take_deadline: uint256
    ack_window: uint256
    reveal_window: uint256

event OrderTaken:
    order_id: indexed(uint256)
    relay: indexed(address)
    key_commit: bytes32
    ack_deadline: uint256
    down_paid: uint256

event OrderConfirmed:
    order_id: indexed(uint256)
    delivery_root: bytes32
    reveal_deadline: uint256

event KeyRevealed:
    order_id: indexed(uint256)
    relay: indexed(address)
    key: bytes32
    salt: bytes32
    relay_amount: uint256
    fee: uint256


orders: public(HashMap[uint256, bytes32])
account: public(HashMap[address, uint256])
next_order_id: public(uint256)
fee_bps: public(uint256)
reward_pool: public(uint256)


@deploy
def __init__():
    self.next_order_id = 1


@external
def register_relay():
    """
    @notice Mark the caller registered (bit 0 of its account word).
    """
    self.account[msg.sender] |= 1


@external
def set_fee(bps: uint256):
    """
    @notice Set the fee (no access control: benchmark only).
    @param bps Basis points.
    """
    self.fee_bps = bps


@internal
@pure
def _hash(o: Order) -> bytes32:
    return keccak256(abi_encode(o))


@internal
@view
def _check(order_id: uint256, o: Order):
    assert self.orders[order_id] == self._hash(o), "floor: E_STALE_ORDER"


@external
@payable
def pull(
    model_root: bytes32,
    relays: DynArray[address, 8],
    down: uint256,
    cost: uint256,
    tip: uint256,
    take_window_s: uint256,
    ack_window_s: uint256,
    reveal_window_s: uint256,
) -> uint256:
    """
    @notice Open an order; only its hash is stored.
    @param model_root Model root.
    @param relays Listed relays.
    @param down Down payment.
    @param cost Cost.
    @param tip Tip.
    @param take_window_s Take window.
    @param ack_window_s Ack window.
    @param reveal_window_s Reveal window.
    @return order_id The new order's id.
    """
    assert len(relays) > 0 and cost > 0 and msg.value == down + cost + tip
    for r: address in relays:
        assert self.account[r] & 1 == 1
    order_id: uint256 = self.next_order_id
    self.next_order_id = order_id + 1
    deadline: uint256 = block.timestamp + take_window_s
    self.orders[order_id] = self._hash(
        Order(
            buyer=msg.sender,
            state=OPEN,
            deadline=deadline,
            ack_window=ack_window_s,
            reveal_window=reveal_window_s,
            down=down,
            cost=cost,
            tip=tip,
            link=keccak256(abi_encode(relays)),
        )
    )
    log OrderPulled(
        order_id=order_id,
        buyer=msg.sender,
        model_root=model_root,
        relays=relays,
        down=down,
        cost=cost,
        tip=tip,
        take_deadline=deadline,
        ack_window=ack_window_s,
        reveal_window=reveal_window_s,
    )
    return order_id


@external
def take_order(order_id: uint256, o: Order, key_commit: bytes32, relays: DynArray[address, 8]):
    """
    @notice Take an OPEN order.
    @param order_id The order.
    @param o The order as last stored.
    @param key_commit The key commitment.
    @param relays The listed relays.
    """
    self._check(order_id, o)
    assert o.state == OPEN and block.timestamp <= o.deadline
    assert keccak256(abi_encode(relays)) == o.link and msg.sender in relays
    acct: uint256 = self.account[msg.sender]
    assert acct & 1 == 1
    ack_deadline: uint256 = block.timestamp + o.ack_window
    n: Order = o
    n.state = TAKEN
    n.deadline = ack_deadline
    n.link = key_commit
    self.orders[order_id] = self._hash(n)
    self.account[msg.sender] = acct + o.down * 2
    log OrderTaken(order_id=order_id, relay=msg.sender, key_commit=key_commit, ack_deadline=ack_deadline, down_paid=o.down)


@external
def confirm_received(order_id: uint256, o: Order, delivery_root: bytes32):
    """
    @notice Buyer acknowledges the delivery.
    @param order_id The order.
    @param o The order as last stored.
    @param delivery_root Root of the delivery.
    """
    self._check(order_id, o)
    assert msg.sender == o.buyer and o.state == TAKEN and block.timestamp <= o.deadline
    reveal_deadline: uint256 = block.timestamp + o.reveal_window
    n: Order = o
    n.state = ACKED
    n.deadline = reveal_deadline
    self.orders[order_id] = self._hash(n)
    log OrderConfirmed(order_id=order_id, delivery_root=delivery_root, reveal_deadline=reveal_deadline)


@external
def reveal_key(order_id: uint256, o: Order, key: bytes32, salt: bytes32):
    """
    @notice The taker opens its commitment and is credited cost + tip less the fee.
    @param order_id The order.
    @param o The order as last stored.
    @param key The key.
    @param salt The salt.
    """
    self._check(order_id, o)
    assert o.state == ACKED and block.timestamp <= o.deadline
    commit: bytes32 = keccak256(concat(key, salt, convert(order_id, bytes32), convert(convert(msg.sender, uint256), bytes32)))
    assert commit == o.link
    gross: uint256 = o.cost + o.tip
    fee: uint256 = gross * self.fee_bps // BPS
    self.orders[order_id] = empty(bytes32)
    self.account[msg.sender] += (gross - fee) * 2
    if fee > 0:
        self.reward_pool += fee
    log KeyRevealed(order_id=order_id, relay=msg.sender, key=key, salt=salt, relay_amount=gross - fee, fee=fee)
