#pragma version ~=0.4.3
"""
@title agihub order escrow (EVM)
@notice Buyers escrow native tokens for a model download; a listed relay takes the order with a
        hash-committed key, the buyer acknowledges the encrypted delivery, the relay reveals the key
        and is paid. Fees fund epoch rewards for contributions scored by a validator quorum.
        The surface, events and errors match contracts/move and agihub.chain.catalog exactly.
@dev    Storage is packed by hand because Vyper does not pack struct fields, see contracts/DESIGN.md.
        Every payout is a pull-payment: credits are withdrawn with `withdraw`, the only function
        that sends value (nonreentrant, checks-effects-interactions).
"""

MAX_RELAYS: constant(uint256) = 8
# Calldata arrays may be longer than MAX_RELAYS so that the contract can answer E_TOO_MANY_RELAYS
# instead of a bare ABI-decoding revert; beyond this bound the decoder itself reverts.
RELAY_LIST_BOUND: constant(uint256) = 32
FEE_CAP_BPS: constant(uint256) = 1000
BPS: constant(uint256) = 10000
MAX_WINDOW: constant(uint256) = 30 * 86400
MAX_SCORE: constant(uint256) = 2**64 - 1

# Error catalogue: agihub.chain.catalog.ERRORS. E_BAD_LENGTH (code 37) is never raised here: the
# ABI's bytes32 already fixes the length that the Move port must check on its vector<u8> arguments.

# Order states (identical on Aptos; 0 = NONE is an id never used).
OPEN: constant(uint256) = 1
TAKEN: constant(uint256) = 2
ACKED: constant(uint256) = 3
COMPLETED: constant(uint256) = 4
CANCELLED: constant(uint256) = 5
EXPIRED: constant(uint256) = 6

# Bit layout of the packed order slots.
MASK_160: constant(uint256) = (1 << 160) - 1
MASK_40: constant(uint256) = (1 << 40) - 1
MASK_24: constant(uint256) = (1 << 24) - 1
MASK_8: constant(uint256) = 255
AMOUNT_BITS: constant(uint256) = 85
# Each amount lives in 85 bits (3 per slot); 2**85 wei is 38.7 million ether per field.
AMOUNT_MAX: constant(uint256) = (1 << 85) - 1


struct OrderView:
    buyer: address
    state: uint256
    deadline: uint256
    ack_window: uint256
    reveal_window: uint256
    down: uint256
    cost: uint256
    tip: uint256
    relays_hash: bytes32
    taker: address
    key_commit: bytes32


struct Meta:
    buyer: address
    state: uint256
    deadline: uint256
    ack_window: uint256
    reveal_window: uint256


struct Amounts:
    down: uint256
    cost: uint256
    tip: uint256


struct ContributionView:
    contributor: address
    model_root: bytes32
    parent_root: bytes32
    epoch: uint256
    score: uint256
    final: bool
    claimed: bool


event RelayRegistered:
    relay: indexed(address)
    nostr_pubkey: bytes32
    endpoint: String[256]

event RelayUpdated:
    relay: indexed(address)
    nostr_pubkey: bytes32
    endpoint: String[256]

event RelayDeregistered:
    relay: indexed(address)

event OrderPulled:
    order_id: indexed(uint256)
    buyer: indexed(address)
    model_root: bytes32
    relays: DynArray[address, RELAY_LIST_BOUND]
    down: uint256
    cost: uint256
    tip: uint256
    take_deadline: uint256
    ack_window: uint256
    reveal_window: uint256

event PaymentRaised:
    order_id: indexed(uint256)
    down: uint256
    cost: uint256
    tip: uint256
    new_down: uint256
    new_cost: uint256
    new_tip: uint256

event OrderCancelled:
    order_id: indexed(uint256)
    refund: uint256

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

event OrderSettled:
    order_id: indexed(uint256)
    from_state: uint256
    refund: uint256

event Withdrawn:
    account: indexed(address)
    amount: uint256

event AdminChanged:
    old_admin: indexed(address)
    new_admin: indexed(address)

event FeeChanged:
    bps: uint256

event ValidatorAdded:
    validator: indexed(address)

event ValidatorRemoved:
    validator: indexed(address)

event QuorumChanged:
    quorum: uint256

event ContributionRegistered:
    contribution_id: indexed(uint256)
    contributor: indexed(address)
    model_root: bytes32
    parent_root: bytes32
    epoch: uint256

event ScoreCommitted:
    contribution_id: indexed(uint256)
    validator: indexed(address)
    commitment: bytes32

event ScoreRevealed:
    contribution_id: indexed(uint256)
    validator: indexed(address)
    score: uint256

event ScoreFinalized:
    contribution_id: indexed(uint256)
    score: uint256
    epoch: uint256

event EpochClosed:
    epoch: indexed(uint256)
    pool: uint256
    total_score: uint256

event RewardClaimed:
    contribution_id: indexed(uint256)
    contributor: indexed(address)
    amount: uint256


# ---- storage -------------------------------------------------------------------------------------
admin: public(address)
pending_admin: public(address)
fee_bps: public(uint256)
reward_pool: public(uint256)
quorum: public(uint256)
is_validator: public(HashMap[address, bool])
next_order_id: public(uint256)

# Account word: credits * 2 + registered-relay bit. Sharing one slot means take/reveal credit a
# relay with a nonzero-to-nonzero write (registration made it nonzero) and read the flag for free.
_account: HashMap[address, uint256]
_relay_pubkey: HashMap[address, bytes32]
_relay_endpoint: HashMap[address, String[256]]

# Order slots. _meta: buyer | state << 160 | deadline << 168 | ack_window << 208 | reveal_window << 232
_meta: HashMap[uint256, uint256]
# down | cost << 85 | tip << 170
_amounts: HashMap[uint256, uint256]
# OPEN: keccak256(abi_encode(relays)); TAKEN/ACKED: key_commit (the relay list is no longer needed).
_link: HashMap[uint256, bytes32]
_taker: HashMap[uint256, address]

EPOCH_LENGTH: immutable(uint256)
_epoch: uint256
_epoch_start: uint256
_epoch_total: HashMap[uint256, uint256]
_epoch_pool: HashMap[uint256, uint256]
_epoch_unclaimed: HashMap[uint256, uint256]

_next_contribution_id: uint256
_contributions: HashMap[uint256, ContributionView]
# 0 = nothing, else the validator's commitment; after reveal it holds REVEALED.
_score_commit: HashMap[uint256, HashMap[address, bytes32]]
_score_votes: HashMap[uint256, HashMap[uint256, uint256]]
REVEALED: constant(bytes32) = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff


@deploy
def __init__(epoch_length: uint256):
    """
    @notice Deploy the market; the deployer becomes admin, fee 0, quorum 1, epoch 1 starts now.
    @param epoch_length Seconds an epoch lasts before `close_epoch` may close it (> 0).
    """
    assert epoch_length > 0, "market: E_BAD_WINDOW"
    EPOCH_LENGTH = epoch_length
    self.admin = msg.sender
    self.quorum = 1
    self.next_order_id = 1
    self._next_contribution_id = 1
    self._epoch = 1
    self._epoch_start = block.timestamp


# ---- packing helpers -----------------------------------------------------------------------------
@internal
@view
def _load_meta(order_id: uint256) -> Meta:
    word: uint256 = self._meta[order_id]
    assert word != 0, "market: E_UNKNOWN_ORDER"
    return Meta(
        buyer=convert(word & MASK_160, address),
        state=(word >> 160) & MASK_8,
        deadline=(word >> 168) & MASK_40,
        ack_window=(word >> 208) & MASK_24,
        reveal_window=word >> 232,
    )


@internal
def _store_meta(order_id: uint256, m: Meta):
    self._meta[order_id] = (
        convert(m.buyer, uint256)
        | (m.state << 160)
        | (m.deadline << 168)
        | (m.ack_window << 208)
        | (m.reveal_window << 232)
    )


@internal
@view
def _load_amounts(order_id: uint256) -> Amounts:
    word: uint256 = self._amounts[order_id]
    return Amounts(
        down=word & AMOUNT_MAX,
        cost=(word >> AMOUNT_BITS) & AMOUNT_MAX,
        tip=word >> (2 * AMOUNT_BITS),
    )


@internal
def _store_amounts(order_id: uint256, a: Amounts):
    assert a.down <= AMOUNT_MAX and a.cost <= AMOUNT_MAX and a.tip <= AMOUNT_MAX, "market: E_OVERFLOW"
    self._amounts[order_id] = a.down | (a.cost << AMOUNT_BITS) | (a.tip << (2 * AMOUNT_BITS))


@internal
def _credit(account: address, amount: uint256):
    if amount > 0:
        self._account[account] += amount * 2


@internal
def _finish(order_id: uint256, m: Meta, state: uint256):
    # Terminal: keep buyer and state for the view, free everything else (gas refund).
    self._store_meta(order_id, Meta(buyer=m.buyer, state=state, deadline=0, ack_window=0, reveal_window=0))
    self._amounts[order_id] = 0
    self._link[order_id] = empty(bytes32)
    self._taker[order_id] = empty(address)


@internal
@view
def _is_registered(relay: address) -> bool:
    return self._account[relay] & 1 == 1


@internal
@pure
def _check_window(window: uint256):
    assert window > 0 and window <= MAX_WINDOW, "market: E_BAD_WINDOW"


@internal
@view
def _check_relays(relays: DynArray[address, RELAY_LIST_BOUND]):
    n: uint256 = len(relays)
    assert n > 0, "market: E_NO_RELAYS"
    assert n <= MAX_RELAYS, "market: E_TOO_MANY_RELAYS"
    for i: uint256 in range(n, bound=MAX_RELAYS):
        assert self._is_registered(relays[i]), "market: E_RELAY_NOT_REGISTERED"
        # Compare with every later entry (the Move port's order, so both name the same error):
        # at most 28 comparisons for 8 relays.
        for j: uint256 in range(i + 1, n, bound=MAX_RELAYS):
            assert relays[i] != relays[j], "market: E_DUPLICATE_RELAY"


# ---- relay registry ------------------------------------------------------------------------------
@internal
@pure
def _check_relay_fields(nostr_pubkey: bytes32, endpoint: String[256]):
    assert nostr_pubkey != empty(bytes32), "market: E_BAD_PUBKEY"
    assert len(endpoint) > 0, "market: E_BAD_ENDPOINT"


@external
def register_relay(nostr_pubkey: bytes32, endpoint: String[256]):
    """
    @notice Register the caller as a relay that buyers may list in orders.
    @param nostr_pubkey The relay's Nostr public key (x-only secp256k1), nonzero.
    @param endpoint The relay's URL, 1..256 bytes.
    """
    assert not self._is_registered(msg.sender), "market: E_ALREADY_REGISTERED"
    self._check_relay_fields(nostr_pubkey, endpoint)
    self._account[msg.sender] |= 1
    self._relay_pubkey[msg.sender] = nostr_pubkey
    self._relay_endpoint[msg.sender] = endpoint
    log RelayRegistered(relay=msg.sender, nostr_pubkey=nostr_pubkey, endpoint=endpoint)


@external
def update_relay(nostr_pubkey: bytes32, endpoint: String[256]):
    """
    @notice Change the caller's relay key and endpoint.
    @param nostr_pubkey New Nostr public key, nonzero.
    @param endpoint New URL, 1..256 bytes.
    """
    assert self._is_registered(msg.sender), "market: E_RELAY_NOT_REGISTERED"
    self._check_relay_fields(nostr_pubkey, endpoint)
    self._relay_pubkey[msg.sender] = nostr_pubkey
    self._relay_endpoint[msg.sender] = endpoint
    log RelayUpdated(relay=msg.sender, nostr_pubkey=nostr_pubkey, endpoint=endpoint)


@external
def deregister_relay():
    """
    @notice Leave the registry. Open orders listing the caller can no longer be taken by it;
            orders it already took are unaffected. Credits stay withdrawable.
    """
    assert self._is_registered(msg.sender), "market: E_RELAY_NOT_REGISTERED"
    self._account[msg.sender] &= ~convert(1, uint256)
    self._relay_pubkey[msg.sender] = empty(bytes32)
    self._relay_endpoint[msg.sender] = ""
    log RelayDeregistered(relay=msg.sender)


# ---- orders --------------------------------------------------------------------------------------
@external
@payable
def pull(
    model_root: bytes32,
    relays: DynArray[address, RELAY_LIST_BOUND],
    down: uint256,
    cost: uint256,
    tip: uint256,
    take_window_s: uint256,
    ack_window_s: uint256,
    reveal_window_s: uint256,
) -> uint256:
    """
    @notice Open an order for `model_root`, escrowing msg.value == down + cost + tip.
    @dev Only the hash of `relays` is stored; the list is in the OrderPulled event and a relay
         passes it back to `take_order`.
    @param model_root Content root of the model package.
    @param relays 1..MAX_RELAYS distinct registered relays allowed to take the order.
    @param down Paid to the relay when it takes the order.
    @param cost Paid to the relay when it reveals the key (> 0).
    @param tip Paid with cost.
    @param take_window_s Seconds the order stays takeable (1..MAX_WINDOW).
    @param ack_window_s Seconds the buyer has to confirm after the take (1..MAX_WINDOW).
    @param reveal_window_s Seconds the relay has to reveal after the confirmation (1..MAX_WINDOW).
    @return order_id The new order's id.
    """
    self._check_relays(relays)
    assert cost > 0, "market: E_ZERO_AMOUNT"
    assert down <= AMOUNT_MAX and cost <= AMOUNT_MAX and tip <= AMOUNT_MAX, "market: E_OVERFLOW"
    assert msg.value == down + cost + tip, "market: E_BAD_VALUE"
    self._check_window(take_window_s)
    self._check_window(ack_window_s)
    self._check_window(reveal_window_s)

    order_id: uint256 = self.next_order_id
    self.next_order_id = order_id + 1
    deadline: uint256 = block.timestamp + take_window_s
    self._store_meta(
        order_id,
        Meta(buyer=msg.sender, state=OPEN, deadline=deadline, ack_window=ack_window_s, reveal_window=reveal_window_s),
    )
    self._amounts[order_id] = down | (cost << AMOUNT_BITS) | (tip << (2 * AMOUNT_BITS))
    self._link[order_id] = keccak256(abi_encode(relays))
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
@payable
def raise_payment(order_id: uint256, down: uint256, cost: uint256, tip: uint256):
    """
    @notice Add to an order's amounts; msg.value must equal down + cost + tip (> 0).
    @dev OPEN orders accept all three; TAKEN orders only a tip (down was paid, cost is agreed).
    @param order_id The order.
    @param down Added to the down payment.
    @param cost Added to the cost.
    @param tip Added to the tip.
    """
    m: Meta = self._load_meta(order_id)
    assert msg.sender == m.buyer, "market: E_NOT_BUYER"
    assert m.state == OPEN or (m.state == TAKEN and down == 0 and cost == 0), "market: E_WRONG_STATE"
    assert down <= AMOUNT_MAX and cost <= AMOUNT_MAX and tip <= AMOUNT_MAX, "market: E_OVERFLOW"
    added: uint256 = down + cost + tip
    assert added > 0, "market: E_ZERO_AMOUNT"
    assert msg.value == added, "market: E_BAD_VALUE"
    a: Amounts = self._load_amounts(order_id)
    a = Amounts(down=a.down + down, cost=a.cost + cost, tip=a.tip + tip)
    self._store_amounts(order_id, a)
    log PaymentRaised(
        order_id=order_id, down=down, cost=cost, tip=tip, new_down=a.down, new_cost=a.cost, new_tip=a.tip
    )


@external
def cancel(order_id: uint256):
    """
    @notice Cancel an OPEN order; the buyer is credited down + cost + tip.
    @param order_id The order.
    """
    m: Meta = self._load_meta(order_id)
    assert msg.sender == m.buyer, "market: E_NOT_BUYER"
    assert m.state == OPEN, "market: E_WRONG_STATE"
    a: Amounts = self._load_amounts(order_id)
    refund: uint256 = a.down + a.cost + a.tip
    self._finish(order_id, m, CANCELLED)
    self._credit(m.buyer, refund)
    log OrderCancelled(order_id=order_id, refund=refund)


@external
def take_order(order_id: uint256, key_commit: bytes32, relays: DynArray[address, RELAY_LIST_BOUND]):
    """
    @notice Take an OPEN order as one of its listed, still registered relays; credits `down`.
    @param order_id The order.
    @param key_commit keccak256(key ‖ salt ‖ order_id ‖ relay), opened later by `reveal_key`.
    @param relays The order's relay list exactly as emitted in OrderPulled.
    """
    m: Meta = self._load_meta(order_id)
    assert m.state == OPEN, "market: E_WRONG_STATE"
    assert block.timestamp <= m.deadline, "market: E_DEADLINE_PASSED"
    assert keccak256(abi_encode(relays)) == self._link[order_id], "market: E_NOT_LISTED_RELAY"
    assert msg.sender in relays, "market: E_NOT_LISTED_RELAY"
    account: uint256 = self._account[msg.sender]
    assert account & 1 == 1, "market: E_RELAY_NOT_REGISTERED"

    a: Amounts = self._load_amounts(order_id)
    ack_deadline: uint256 = block.timestamp + m.ack_window
    self._store_meta(
        order_id,
        Meta(buyer=m.buyer, state=TAKEN, deadline=ack_deadline, ack_window=m.ack_window, reveal_window=m.reveal_window),
    )
    self._link[order_id] = key_commit
    self._taker[order_id] = msg.sender
    self._account[msg.sender] = account + a.down * 2
    log OrderTaken(order_id=order_id, relay=msg.sender, key_commit=key_commit, ack_deadline=ack_deadline, down_paid=a.down)


@external
def confirm_received(order_id: uint256, delivery_root: bytes32):
    """
    @notice Buyer acknowledges the (still encrypted) delivery before the ack deadline.
    @param order_id The order.
    @param delivery_root Content root of what the buyer received, for the record.
    """
    m: Meta = self._load_meta(order_id)
    assert msg.sender == m.buyer, "market: E_NOT_BUYER"
    assert m.state == TAKEN, "market: E_WRONG_STATE"
    assert block.timestamp <= m.deadline, "market: E_DEADLINE_PASSED"
    reveal_deadline: uint256 = block.timestamp + m.reveal_window
    self._store_meta(
        order_id,
        Meta(buyer=m.buyer, state=ACKED, deadline=reveal_deadline, ack_window=m.ack_window, reveal_window=m.reveal_window),
    )
    log OrderConfirmed(order_id=order_id, delivery_root=delivery_root, reveal_deadline=reveal_deadline)


@external
def reveal_key(order_id: uint256, key: bytes32, salt: bytes32):
    """
    @notice Taker opens its key commitment; it is credited cost + tip minus the fee.
    @param order_id The order.
    @param key The 32-byte content key committed in `take_order`.
    @param salt The salt committed with it.
    """
    m: Meta = self._load_meta(order_id)
    assert m.state == ACKED, "market: E_WRONG_STATE"
    assert msg.sender == self._taker[order_id], "market: E_NOT_TAKER"
    assert block.timestamp <= m.deadline, "market: E_DEADLINE_PASSED"
    commit: bytes32 = keccak256(concat(key, salt, convert(order_id, bytes32), convert(convert(msg.sender, uint256), bytes32)))
    assert commit == self._link[order_id], "market: E_BAD_REVEAL"

    a: Amounts = self._load_amounts(order_id)
    gross: uint256 = a.cost + a.tip
    fee: uint256 = gross * self.fee_bps // BPS
    self._finish(order_id, m, COMPLETED)
    self._credit(msg.sender, gross - fee)
    if fee > 0:
        self.reward_pool += fee
    log KeyRevealed(order_id=order_id, relay=msg.sender, key=key, salt=salt, relay_amount=gross - fee, fee=fee)


@external
def settle(order_id: uint256):
    """
    @notice Expire an order whose current deadline passed. Anyone may call.
            OPEN: buyer gets down + cost + tip. TAKEN or ACKED: buyer gets cost + tip (the relay
            keeps the down payment it was credited at the take).
    @param order_id The order.
    """
    m: Meta = self._load_meta(order_id)
    assert m.state >= OPEN and m.state <= ACKED, "market: E_WRONG_STATE"
    assert block.timestamp > m.deadline, "market: E_NOT_DUE"
    a: Amounts = self._load_amounts(order_id)
    refund: uint256 = a.cost + a.tip
    if m.state == OPEN:
        refund += a.down
    self._finish(order_id, m, EXPIRED)
    self._credit(m.buyer, refund)
    log OrderSettled(order_id=order_id, from_state=m.state, refund=refund)


@external
@nonreentrant
def withdraw():
    """
    @notice Send the caller all its credits (refunds, relay payments, rewards).
    @dev The only function that sends value: state is cleared before the call, and the
         nonreentrant lock covers the whole contract.
    """
    account: uint256 = self._account[msg.sender]
    amount: uint256 = account >> 1
    assert amount > 0, "market: E_NOTHING_TO_WITHDRAW"
    self._account[msg.sender] = account & 1
    log Withdrawn(account=msg.sender, amount=amount)
    raw_call(msg.sender, b"", value=amount)


# ---- admin ---------------------------------------------------------------------------------------
@internal
@view
def _only_admin():
    assert msg.sender == self.admin, "market: E_NOT_ADMIN"


@external
def transfer_admin(new_admin: address):
    """
    @notice Propose a new admin; it takes over when it calls `accept_admin`.
    @param new_admin The proposed admin (the zero address withdraws a proposal).
    """
    self._only_admin()
    self.pending_admin = new_admin


@external
def accept_admin():
    """
    @notice Become admin after `transfer_admin` named the caller.
    """
    assert msg.sender == self.pending_admin and msg.sender != empty(address), "market: E_NOT_PENDING_ADMIN"
    old: address = self.admin
    self.admin = msg.sender
    self.pending_admin = empty(address)
    log AdminChanged(old_admin=old, new_admin=msg.sender)


@external
def set_fee(bps: uint256):
    """
    @notice Set the fee taken from cost + tip at reveal, in basis points.
    @param bps 0..FEE_CAP_BPS (10%).
    """
    self._only_admin()
    assert bps <= FEE_CAP_BPS, "market: E_FEE_TOO_HIGH"
    self.fee_bps = bps
    log FeeChanged(bps=bps)


@external
def add_validator(validator: address):
    """
    @notice Allow `validator` to commit and reveal contribution scores.
    @param validator The account to add.
    """
    self._only_admin()
    assert not self.is_validator[validator], "market: E_ALREADY_VALIDATOR"
    self.is_validator[validator] = True
    log ValidatorAdded(validator=validator)


@external
def remove_validator(validator: address):
    """
    @notice Revoke a validator; its commitments can no longer be revealed.
    @param validator The account to remove.
    """
    self._only_admin()
    assert self.is_validator[validator], "market: E_NOT_VALIDATOR"
    self.is_validator[validator] = False
    log ValidatorRemoved(validator=validator)


@external
def set_quorum(quorum: uint256):
    """
    @notice Number of validators that must reveal the same score to finalize it.
    @param quorum At least 1.
    """
    self._only_admin()
    assert quorum >= 1, "market: E_BAD_QUORUM"
    self.quorum = quorum
    log QuorumChanged(quorum=quorum)


# ---- contributions and rewards -------------------------------------------------------------------
@external
def register_contribution(model_root: bytes32, parent_root: bytes32) -> uint256:
    """
    @notice Register a model contribution in the current epoch, to be scored by validators.
    @param model_root Content root of the contributed model.
    @param parent_root Content root of the model it improves (zero for none).
    @return contribution_id The new contribution's id.
    """
    cid: uint256 = self._next_contribution_id
    self._next_contribution_id = cid + 1
    epoch: uint256 = self._epoch
    self._contributions[cid] = ContributionView(
        contributor=msg.sender, model_root=model_root, parent_root=parent_root, epoch=epoch, score=0, final=False, claimed=False
    )
    log ContributionRegistered(
        contribution_id=cid, contributor=msg.sender, model_root=model_root, parent_root=parent_root, epoch=epoch
    )
    return cid


@internal
@view
def _scoring_contribution(contribution_id: uint256) -> ContributionView:
    assert self.is_validator[msg.sender], "market: E_NOT_VALIDATOR"
    c: ContributionView = self._contributions[contribution_id]
    assert c.contributor != empty(address), "market: E_UNKNOWN_CONTRIBUTION"
    assert c.epoch == self._epoch, "market: E_EPOCH_CLOSED"
    return c


@external
def commit_score(contribution_id: uint256, commitment: bytes32):
    """
    @notice Validator commits to a hidden score while the contribution's epoch is open.
    @param contribution_id The contribution.
    @param commitment keccak256(score ‖ salt ‖ contribution_id ‖ validator), nonzero.
    """
    self._scoring_contribution(contribution_id)
    assert self._score_commit[contribution_id][msg.sender] == empty(bytes32), "market: E_ALREADY_COMMITTED"
    assert commitment != empty(bytes32) and commitment != REVEALED, "market: E_BAD_REVEAL"
    self._score_commit[contribution_id][msg.sender] = commitment
    log ScoreCommitted(contribution_id=contribution_id, validator=msg.sender, commitment=commitment)


@external
def reveal_score(contribution_id: uint256, score: uint256, salt: bytes32):
    """
    @notice Validator opens its commitment; when `quorum` validators revealed the same score it
            becomes final and counts toward the epoch's total.
    @param contribution_id The contribution.
    @param score The committed score (at most 2**64 - 1).
    @param salt The committed salt.
    """
    c: ContributionView = self._scoring_contribution(contribution_id)
    stored: bytes32 = self._score_commit[contribution_id][msg.sender]
    assert stored != REVEALED, "market: E_ALREADY_REVEALED"
    assert stored != empty(bytes32), "market: E_NO_COMMIT"
    assert score <= MAX_SCORE, "market: E_OVERFLOW"
    expected: bytes32 = keccak256(
        concat(convert(score, bytes32), salt, convert(contribution_id, bytes32), convert(convert(msg.sender, uint256), bytes32))
    )
    assert expected == stored, "market: E_BAD_REVEAL"
    self._score_commit[contribution_id][msg.sender] = REVEALED
    votes: uint256 = self._score_votes[contribution_id][score] + 1
    self._score_votes[contribution_id][score] = votes
    log ScoreRevealed(contribution_id=contribution_id, validator=msg.sender, score=score)
    if votes >= self.quorum and not c.final:
        self._contributions[contribution_id].final = True
        self._contributions[contribution_id].score = score
        self._epoch_total[c.epoch] += score
        log ScoreFinalized(contribution_id=contribution_id, score=score, epoch=c.epoch)


@external
def close_epoch():
    """
    @notice Close the current epoch once it lasted EPOCH_LENGTH: the reward pool becomes the
            epoch's pool (or rolls over when no score is final) and the next epoch starts.
    """
    assert block.timestamp >= self._epoch_start + EPOCH_LENGTH, "market: E_EPOCH_NOT_OVER"
    epoch: uint256 = self._epoch
    total: uint256 = self._epoch_total[epoch]
    pool: uint256 = 0
    if total > 0:
        pool = self.reward_pool
        self.reward_pool = 0
        self._epoch_pool[epoch] = pool
        self._epoch_unclaimed[epoch] = pool
    self._epoch = epoch + 1
    self._epoch_start = block.timestamp
    log EpochClosed(epoch=epoch, pool=pool, total_score=total)


@external
def claim_reward(contribution_id: uint256):
    """
    @notice Credit the contributor its share pool * score / total_score of a closed epoch.
    @param contribution_id The contribution.
    """
    c: ContributionView = self._contributions[contribution_id]
    assert c.contributor != empty(address), "market: E_UNKNOWN_CONTRIBUTION"
    assert msg.sender == c.contributor, "market: E_NOT_CONTRIBUTOR"
    assert c.epoch < self._epoch, "market: E_EPOCH_OPEN"
    assert c.final, "market: E_NOT_FINAL"
    assert not c.claimed, "market: E_ALREADY_CLAIMED"
    total: uint256 = self._epoch_total[c.epoch]
    amount: uint256 = 0
    if total > 0:  # all final scores 0: the pool rolled over, nothing to share
        amount = self._epoch_pool[c.epoch] * c.score // total
    self._contributions[contribution_id].claimed = True
    self._epoch_unclaimed[c.epoch] -= amount
    self._credit(msg.sender, amount)
    log RewardClaimed(contribution_id=contribution_id, contributor=msg.sender, amount=amount)


# ---- views ---------------------------------------------------------------------------------------
@external
@view
def get_order(order_id: uint256) -> OrderView:
    """
    @notice All stored fields of an order; terminal orders keep only buyer and state.
    @param order_id The order.
    @return The order (reverts E_UNKNOWN_ORDER if it never existed).
    """
    m: Meta = self._load_meta(order_id)
    a: Amounts = self._load_amounts(order_id)
    relays_hash: bytes32 = empty(bytes32)
    key_commit: bytes32 = empty(bytes32)
    if m.state == OPEN:
        relays_hash = self._link[order_id]
    else:
        key_commit = self._link[order_id]
    return OrderView(
        buyer=m.buyer,
        state=m.state,
        deadline=m.deadline,
        ack_window=m.ack_window,
        reveal_window=m.reveal_window,
        down=a.down,
        cost=a.cost,
        tip=a.tip,
        relays_hash=relays_hash,
        taker=self._taker[order_id],
        key_commit=key_commit,
    )


@external
@view
def relay_info(relay: address) -> (bool, bytes32, String[256]):
    """
    @notice Registry entry of `relay`.
    @param relay The relay.
    @return registered, nostr_pubkey, endpoint
    """
    return self._is_registered(relay), self._relay_pubkey[relay], self._relay_endpoint[relay]


@external
@view
def credits(account: address) -> uint256:
    """
    @notice Credits `account` can withdraw.
    @param account The account.
    @return The amount.
    """
    return self._account[account] >> 1


@external
@view
def current_epoch() -> (uint256, uint256, uint256):
    """
    @notice The open epoch.
    @return epoch, start timestamp, length in seconds
    """
    return self._epoch, self._epoch_start, EPOCH_LENGTH


@external
@view
def epoch_result(epoch: uint256) -> (bool, uint256, uint256, uint256):
    """
    @notice Outcome of `epoch`.
    @param epoch The epoch number.
    @return closed, pool, total_score, unclaimed part of the pool
    """
    return epoch < self._epoch, self._epoch_pool[epoch], self._epoch_total[epoch], self._epoch_unclaimed[epoch]


@external
@view
def contribution(contribution_id: uint256) -> ContributionView:
    """
    @notice A registered contribution.
    @param contribution_id The contribution.
    @return Its fields (reverts E_UNKNOWN_CONTRIBUTION if none).
    """
    c: ContributionView = self._contributions[contribution_id]
    assert c.contributor != empty(address), "market: E_UNKNOWN_CONTRIBUTION"
    return c
