#pragma version ~=0.4.3
"""
@title Naive order escrow: the gas baseline of tests/benchmarks/bench_gas.py
@notice Same lifecycle and events as contracts/evm/market.vy, written the obvious way: a 10-field
        order struct (each field its own storage slot), the relay list stored in storage, separate
        mappings for credits and registration. Not for deployment.
"""

struct Order:
    buyer: address
    model_root: bytes32
    relays: DynArray[address, 8]
    down: uint256
    cost: uint256
    tip: uint256
    state: uint256
    deadline: uint256
    taker: address
    key_commit: bytes32

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

orders: public(HashMap[uint256, Order])
ack_windows: HashMap[uint256, uint256]
reveal_windows: HashMap[uint256, uint256]
registered: public(HashMap[address, bool])
credits: public(HashMap[address, uint256])
next_order_id: public(uint256)
fee_bps: public(uint256)
reward_pool: public(uint256)


@deploy
def __init__():
    self.next_order_id = 1


@external
def register_relay():
    """
    @notice Register the caller.
    """
    self.registered[msg.sender] = True


@external
def set_fee(bps: uint256):
    """
    @notice Set the fee (no access control: benchmark only).
    @param bps Basis points.
    """
    self.fee_bps = bps


@external
@payable
def pull(model_root: bytes32, relays: DynArray[address, 8], down: uint256, cost: uint256, tip: uint256,
         take_window_s: uint256, ack_window_s: uint256, reveal_window_s: uint256) -> uint256:
    """
    @notice Open an order.
    @return order_id
    """
    for r: address in relays:
        assert self.registered[r]
    assert msg.value == down + cost + tip
    oid: uint256 = self.next_order_id
    self.next_order_id = oid + 1
    self.orders[oid] = Order(
        buyer=msg.sender, model_root=model_root, relays=relays, down=down, cost=cost, tip=tip, state=1,
        deadline=block.timestamp + take_window_s, taker=empty(address), key_commit=empty(bytes32)
    )
    self.ack_windows[oid] = ack_window_s
    self.reveal_windows[oid] = reveal_window_s
    log OrderPulled(order_id=oid, buyer=msg.sender, model_root=model_root, relays=relays, down=down, cost=cost,
                    tip=tip, take_deadline=block.timestamp + take_window_s, ack_window=ack_window_s,
                    reveal_window=reveal_window_s)
    return oid


@external
def take_order(order_id: uint256, key_commit: bytes32):
    """
    @notice Take an order; the relay list is read from storage.
    """
    assert self.orders[order_id].state == 1
    assert block.timestamp <= self.orders[order_id].deadline
    assert msg.sender in self.orders[order_id].relays
    assert self.registered[msg.sender]
    self.orders[order_id].state = 2
    self.orders[order_id].taker = msg.sender
    self.orders[order_id].key_commit = key_commit
    self.orders[order_id].deadline = block.timestamp + self.ack_windows[order_id]
    self.credits[msg.sender] += self.orders[order_id].down
    log OrderTaken(order_id=order_id, relay=msg.sender, key_commit=key_commit,
                   ack_deadline=self.orders[order_id].deadline, down_paid=self.orders[order_id].down)


@external
def confirm_received(order_id: uint256, delivery_root: bytes32):
    """
    @notice Buyer confirms.
    """
    assert msg.sender == self.orders[order_id].buyer
    assert self.orders[order_id].state == 2
    assert block.timestamp <= self.orders[order_id].deadline
    self.orders[order_id].state = 3
    self.orders[order_id].deadline = block.timestamp + self.reveal_windows[order_id]
    log OrderConfirmed(order_id=order_id, delivery_root=delivery_root, reveal_deadline=self.orders[order_id].deadline)


@external
def reveal_key(order_id: uint256, key: bytes32, salt: bytes32):
    """
    @notice Taker reveals the key and is credited.
    """
    assert self.orders[order_id].state == 3
    assert msg.sender == self.orders[order_id].taker
    assert block.timestamp <= self.orders[order_id].deadline
    assert keccak256(concat(key, salt, convert(order_id, bytes32), convert(convert(msg.sender, uint256), bytes32))) == self.orders[order_id].key_commit
    gross: uint256 = self.orders[order_id].cost + self.orders[order_id].tip
    fee: uint256 = gross * self.fee_bps // 10000
    self.orders[order_id].state = 4
    self.credits[msg.sender] += gross - fee
    self.reward_pool += fee
    log KeyRevealed(order_id=order_id, relay=msg.sender, key=key, salt=salt, relay_amount=gross - fee, fee=fee)
